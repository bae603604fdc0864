using Microsoft.ML.Data;

namespace Microsoft.ML.HamiltonianFlows;

/// <summary>
/// The output of a scoring transformer's Transform (<see cref="IFlowScoring"/>): the input's columns plus those computed
/// from each row's log-likelihood.
/// A cursor reads the features of a block of rows ahead with a second input cursor, scores the block in one call,
/// and serves the scores in step with the first cursor, which supplies the other columns (the pattern of
/// ML.NET's BatchDataViewMapperBase). Both cursors are unshuffled, so they see the rows in the same order.
/// </summary>
internal sealed class FlowScoreDataView : IDataView
{
    /// <summary>Rows scored per torch call by <paramref name="model"/> (<see cref="Torch.ScoringBlock"/>).</summary>
    internal static int BlockRows(HamiltonianFlowModelParameters model) => Torch.ScoringBlock.Rows(model.Architecture, model.ScoringImportanceSamples);

    private readonly IFlowScoring parent;
    private readonly IDataView input;

    internal FlowScoreDataView(IFlowScoring parent, IDataView input, DataViewSchema schema)
    {
        this.parent = parent;
        this.input = input;
        Schema = schema;
    }

    public bool CanShuffle => false;

    public DataViewSchema Schema { get; }

    // The added columns follow the input's.
    private int FirstOutput => input.Schema.Count;

    public long? GetRowCount() => input.GetRowCount();

    public DataViewRowCursor GetRowCursor(IEnumerable<DataViewSchema.Column> columnsNeeded, Random? rand = null)
    {
        var needed = columnsNeeded.ToList();
        bool scoreActive = needed.Any(c => c.Index >= FirstOutput);
        var inputColumns = needed.Where(c => c.Index < FirstOutput).Select(c => input.Schema[c.Index]).ToList();
        var lookAhead = scoreActive ? input.GetRowCursor(new[] { input.Schema[parent.Feature.Name] }) : null;
        DataViewRowCursor? rows = null;
        try
        {
            rows = input.GetRowCursor(inputColumns);
            return new Cursor(this, rows, lookAhead);
        }
        catch
        {
            // A cursor holds the input's resources (a file, a loader's threads) until disposed.
            rows?.Dispose();
            lookAhead?.Dispose();
            throw;
        }
    }

    // One cursor: the blocks are read in row order, which a split cursor set would not preserve.
    public DataViewRowCursor[] GetRowCursorSet(IEnumerable<DataViewSchema.Column> columnsNeeded, int n, Random? rand = null) =>
        new[] { GetRowCursor(columnsNeeded, rand) };

    private sealed class Cursor : DataViewRowCursor
    {
        private readonly FlowScoreDataView view;
        private readonly DataViewRowCursor input;
        private readonly DataViewRowCursor? lookAhead;
        private readonly Func<Span<float>, bool>? readFeatures;
        private readonly float[] block;
        private readonly float[] scores;
        private readonly Delegate[] getters;
        private int blockCount, blockIndex;
        // Rows the look-ahead cursor has read, and rows the first has served: a cursor's Position is -1 again once it has ended.
        private long lookAheadRows, served;

        internal Cursor(FlowScoreDataView view, DataViewRowCursor input, DataViewRowCursor? lookAhead)
        {
            this.view = view;
            this.input = input;
            this.lookAhead = lookAhead;
            int d = view.parent.Feature.Dimension;
            int blockSize = lookAhead is null ? 0 : BlockRows(view.parent.Model);
            block = new float[blockSize * d];
            scores = new float[blockSize];
            if (lookAhead is not null)
                readFeatures = view.parent.Feature.MakeReader(lookAhead);
            getters = view.parent.MakeGetters(() => scores[blockIndex]);
        }

        public override DataViewSchema Schema => view.Schema;

        public override long Position => input.Position;

        public override long Batch => input.Batch;

        public override bool IsColumnActive(DataViewSchema.Column column) =>
            column.Index >= view.FirstOutput ? lookAhead is not null : input.IsColumnActive(input.Schema[column.Index]);

        public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column)
        {
            if (column.Index < view.FirstOutput)
                return input.GetGetter<TValue>(input.Schema[column.Index]);
            if (lookAhead is null)
                throw new InvalidOperationException($"Column '{column.Name}' was not requested when the cursor was created.");
            return getters[column.Index - view.FirstOutput] as ValueGetter<TValue>
                ?? throw new InvalidOperationException($"Column '{column.Name}' is {column.Type}; requested {typeof(TValue)}.");
        }

        public override ValueGetter<DataViewRowId> GetIdGetter() => input.GetIdGetter();

        public override bool MoveNext()
        {
            if (!input.MoveNext())
            {
                // The look-ahead must end with the first cursor. A view that gives the two cursors different rows (an
                // enumerable that can be enumerated once, shared by both) would otherwise lose the rows the look-ahead took,
                // and the rows served would have carried other rows' scores: fail rather than end as if complete.
                if (lookAhead is not null && (blockIndex + 1 < blockCount || lookAhead.MoveNext()))
                    throw new InvalidOperationException(
                        $"The input view returned more rows to a second cursor than to the first (the first ended after {served} rows). " +
                        SameRowsAdvice);
                return false;
            }
            served++;
            if (lookAhead is not null && ++blockIndex >= blockCount)
                ScoreNextBlock();
            return true;
        }

        // Both ways the two cursors can disagree come from one cause, and have one remedy.
        private const string SameRowsAdvice =
            "Transform reads each block's features ahead with a second cursor, as ML.NET's batch transforms do, so the input must " +
            "return the same rows to every cursor, as ML.NET asks of every IDataView. A LoadFromEnumerable over an enumerable " +
            "that can be enumerated only once does not: materialise it first (ToList), or cache it (AppendCacheCheckpoint).";

        private void ScoreNextBlock()
        {
            int d = view.parent.Feature.Dimension;
            blockCount = 0;
            blockIndex = 0;
            while (blockCount < scores.Length && lookAhead!.MoveNext())
            {
                readFeatures!(block.AsSpan(blockCount * d, d));
                blockCount++;
                lookAheadRows++;
            }
            if (blockCount == 0)
                throw new InvalidOperationException(
                    $"The input view returned fewer rows to a second cursor than to the first (none after {lookAheadRows} rows, " +
                    $"while the first is at row position {input.Position}). " + SameRowsAdvice);
            view.parent.Model.LogLikelihood(block.AsSpan(0, blockCount * d), scores.AsSpan(0, blockCount));
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                input.Dispose();
                lookAhead?.Dispose();
            }
            base.Dispose(disposing);
        }
    }
}
