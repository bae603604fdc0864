using Microsoft.ML.Data;
using Microsoft.ML.HamiltonianFlows.Torch;
using Microsoft.ML.HamiltonianFlows.Training;
using Xunit;
using Xunit.Abstractions;
using static Microsoft.ML.HamiltonianFlows.Tests.HamiltonianFlowTransformerTests;

namespace Microsoft.ML.HamiltonianFlows.Tests;

/// <summary>
/// Cancelling a fit part-way through an epoch or a pass over the rows: it stops at the next row it reads, and the next fit
/// is unaffected. Measured in rows and reports, not seconds, so that neither a slow CPU nor a busy one can fail it.
/// </summary>
[Collection(TorchGlobalGeneratorCollection.Name)]
public sealed class CancellationTests
{
    private static readonly FlowArchitecture Architecture = new() { Dimension = 4, HiddenLayers = new[] { 32, 32 }, LeapfrogSteps = 4 };

    private readonly ITestOutputHelper output;

    public CancellationTests(ITestOutputHelper output) => this.output = output;

    /// <summary>
    /// Rows read as a stream, in storage order on every pass. When given a pass, a position and a token source, it
    /// cancels the source as it reads that row of that pass and counts the rows the trainer reads after it.
    /// </summary>
    private sealed class CancellingRows : StreamedRows
    {
        private readonly float[][] rows;
        private readonly (int Pass, int Row, CancellationTokenSource Source)? cancelAt;
        private int passes;

        public CancellingRows(float[][] rows, (int Pass, int Row, CancellationTokenSource Source)? cancelAt = null)
        {
            this.rows = rows;
            this.cancelAt = cancelAt;
        }

        public int RowsReadAfterCancel { get; private set; }

        public override int Dimension => rows[0].Length;

        public override IEnumerable<StreamedRow> Read(int? shuffleSeed)
        {
            int pass = passes++;
            for (int i = 0; i < rows.Length; i++)
            {
                if (cancelAt is var (cancelPass, cancelRow, source) && pass == cancelPass && i >= cancelRow)
                {
                    if (i == cancelRow)
                        source.Cancel();
                    else
                        RowsReadAfterCancel++;
                }
                yield return new StreamedRow((ulong)i, rows[i]);
            }
        }
    }

    [Fact]
    public void CancellingMidTrainingStopsAtTheNextRowAndTheNextFitIsTheUncancelledOne()
    {
        using var points = TestFlows.Points(2048, 4, 1);
        var rows = points.data<float>().ToArray().Chunk(4).ToArray();
        // Two epochs of 16 batches, nothing held out, a report every epoch.
        var options = new FlowTrainingOptions { MaxSteps = 32, BatchSize = 128, ValidationFraction = 0, EvaluationInterval = 16, Seed = 3 };
        Dictionary<string, float[]> before;
        using (var flow = FlowTrainer.Train(Architecture, new CancellingRows(rows), options).Flow)
            before = TestFlows.Weights(flow);

        // Passes 0-2 count the rows and fit the Gaussian, pass 3 is the first epoch: cancel part-way through the 9th
        // batch of the second.
        using var cancellation = new CancellationTokenSource();
        var cancelling = new CancellingRows(rows, (4, 8 * 128 + 13, cancellation));
        var reports = new List<long>();
        Assert.ThrowsAny<OperationCanceledException>(() =>
            FlowTrainer.Train(Architecture, cancelling, options with { MaxSteps = 100_000 }, progress => reports.Add(progress.Steps), cancellation.Token));
        output.WriteLine($"{cancelling.RowsReadAfterCancel} rows read after Cancel");
        // The token is checked at every row read (before, only before each batch: the 114 rows that completed the batch
        // were read), and nothing after it is read.
        Assert.Equal(0, cancelling.RowsReadAfterCancel);
        // Reports at step 0 and after the first epoch; none after the cancel.
        Assert.Equal(new long[] { 0, 16 }, reports);

        using var again = FlowTrainer.Train(Architecture, new CancellingRows(rows), options).Flow;
        var after = TestFlows.Weights(again);
        foreach (string key in before.Keys)
            Assert.Equal(before[key], after[key]);
    }

    /// <summary>
    /// A view that cancels <paramref name="source"/> as its cursor number <paramref name="cursor"/> (1-based, in opening
    /// order) reaches row <paramref name="row"/>, and counts the rows any cursor reads after that; with
    /// <paramref name="knowsCount"/> false it does not know its row count, so a fit counts the rows first.
    /// </summary>
    private sealed class CancellingView(IDataView inner, CancellationTokenSource source, int cursor, int row, bool knowsCount,
        bool slowAfterCancel = false) : IDataView
    {
        private int opened;
        private CancellationTokenSource Source => source;
        private int Row => row;
        // A row a millisecond once cancelled: a cancellation that is polled (the context's) then reaches the fit within a
        // few of its rows, not after the rest of a pass that reads 20,000 rows in less than a poll.
        private bool SlowAfterCancel => slowAfterCancel;
        public int RowsReadAfterCancel { get; private set; }
        public bool CanShuffle => false;
        public DataViewSchema Schema => inner.Schema;
        public long? GetRowCount() => knowsCount ? inner.GetRowCount() : null;

        public DataViewRowCursor GetRowCursor(IEnumerable<DataViewSchema.Column> columnsNeeded, Random? rand = null) =>
            new Cursor(this, inner.GetRowCursor(columnsNeeded), ++opened == cursor);

        public DataViewRowCursor[] GetRowCursorSet(IEnumerable<DataViewSchema.Column> columnsNeeded, int n, Random? rand = null) =>
            new[] { GetRowCursor(columnsNeeded, rand) };

        private sealed class Cursor(CancellingView view, DataViewRowCursor inner, bool cancels) : DataViewRowCursor
        {
            public override DataViewSchema Schema => inner.Schema;
            public override long Position => inner.Position;
            public override long Batch => inner.Batch;
            public override ValueGetter<DataViewRowId> GetIdGetter() => inner.GetIdGetter();
            public override bool IsColumnActive(DataViewSchema.Column column) => inner.IsColumnActive(column);
            public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column) => inner.GetGetter<TValue>(column);

            public override bool MoveNext()
            {
                if (!inner.MoveNext())
                    return false;
                if (view.Source.IsCancellationRequested)
                {
                    view.RowsReadAfterCancel++;
                    if (view.SlowAfterCancel)
                        Thread.Sleep(1);
                }
                else if (cancels && inner.Position == view.Row)
                    view.Source.Cancel();
                return true;
            }

            protected override void Dispose(bool disposing)
            {
                if (disposing)
                    inner.Dispose();
                base.Dispose(disposing);
            }
        }
    }

    [Theory]
    [InlineData(false, 1, "counting the rows of a view that does not know their number")]
    [InlineData(true, 1, "reading the rows into memory")]
    [InlineData(true, 2, "a streamed fit's pass that fits the Gaussian")]
    public void CancellingWhileTheRowsAreReadStopsAtTheNextRow(bool knowsCount, int cursor, string pass)
    {
        var ml = new MLContext(seed: 1);
        using var source = new CancellationTokenSource();
        var view = new CancellingView(ml.Data.LoadFromEnumerable(Clusters(20_000, 1)), source, cursor, row: 100, knowsCount);
        var options = SmallOptions();
        options.CancellationToken = source.Token;
        if (pass.StartsWith("a streamed"))
            options.MemoryBudgetMegabytes = 0.01; // 10 kB, below the 160 kB of the rows: read as a stream, every pass a cursor
        Assert.ThrowsAny<OperationCanceledException>(() => ml.Transforms.HamiltonianFlow(options).Fit(view));
        output.WriteLine($"{pass}: {view.RowsReadAfterCancel} rows read after Cancel");
        // The whole pass, and the passes after it, were read before the first batch looked at the token.
        Assert.Equal(0, view.RowsReadAfterCancel);
    }

    [Fact]
    public void CancellingTheContextWhileTheDetectorScoresItsTrainingRowsStopsIt()
    {
        // With no row held out the threshold comes from a pass over every training row, after training, which looked at
        // the options' token only.
        var ml = new MLContext(seed: 1);
        using var source = new CancellationTokenSource();
        using var cancelsTheContext = source.Token.Register(() => CancelExecution(ml));
        // Cursors 1 and 2 count and read the rows for training; cursor 3 is the threshold pass's look-ahead over the features.
        var view = new CancellingView(ml.Data.LoadFromEnumerable(Clusters(20_000, 1)), source, cursor: 3, row: 100, knowsCount: false, slowAfterCancel: true);
        var options = SmallDetectorOptions();
        options.MaxSteps = 10;
        options.ValidationFraction = 0;
        // Blocks of 256 rows (2^20 values / (16 units x 256 samples)), so that the look-ahead's block ends soon after the cancel.
        options.ScoringImportanceSamples = 256;
        Assert.ThrowsAny<OperationCanceledException>(() => ml.AnomalyDetection.Trainers.HamiltonianFlow(options).Fit(view));
        output.WriteLine($"{view.RowsReadAfterCancel} rows read after the context was cancelled");
        // The look-ahead finishes the block it was reading (256 rows), and the pass stops at the next row it serves; it read
        // the other 19,899 before.
        Assert.InRange(view.RowsReadAfterCancel, 0, 256);
    }

    [Fact]
    public void CancellingAnMLContextStopsItsFitAndAFreshContextFitsAsBefore()
    {
        var data = Clusters(400, 1);
        float[] Scores(MLContext ml, HamiltonianFlowTransformer model) =>
            ml.Data.CreateEnumerable<Scored>(model.Transform(ml.Data.LoadFromEnumerable(Clusters(50, 2))), reuseRowObject: false).Select(s => s.LogLikelihood).ToArray();
        var first = new MLContext(seed: 1);
        var expected = Scores(first, first.Transforms.HamiltonianFlow(SmallOptions()).Fit(first.Data.LoadFromEnumerable(data)));

        var cancelled = new MLContext(seed: 1);
        int reportsLogged = 0;
        cancelled.Log += (_, e) =>
        {
            if (!e.Message.Contains(": training loss") && !e.Message.Contains(": no training loss yet"))
                return;
            if (++reportsLogged == 1)
                CancelExecution(cancelled);
        };
        var options = SmallOptions();
        options.MaxSteps = 10_000_000;
        options.ValidationFraction = 0;
        options.EvaluationInterval = 7;
        Assert.ThrowsAny<OperationCanceledException>(() => cancelled.Transforms.HamiltonianFlow(options).Fit(cancelled.Data.LoadFromEnumerable(data)));
        int reportsAfterCancel = reportsLogged - 1;
        output.WriteLine($"MLContext fit made {reportsAfterCancel} more reports (of 7 steps) after CancelExecution (polled every 50 ms)");
        // The fit looks at the context every 50 ms, on a thread of its own, and the engine then stops before its next
        // batch. 7 steps of 64 rows took 20 to 500 ms on the project's first 2-core machines (0 or 1 more reports) and
        // about 10 ms on an AMD EPYC of family 25 (3 to 5 more); when the poll was a thread-pool timer, tests running
        // beside it delayed its ticks and 8 to 114 more came there. 100 leaves room for a faster CPU or a poll held up
        // by the OS, and is thousands of times fewer than the reports an ignored cancellation would make.
        Assert.InRange(reportsAfterCancel, 0, 100);

        // ML.NET's cancellation is a state of the context: a context once cancelled cancels every later fit.
        Assert.ThrowsAny<OperationCanceledException>(() => cancelled.Transforms.HamiltonianFlow(SmallOptions()).Fit(cancelled.Data.LoadFromEnumerable(data)));
        var fresh = new MLContext(seed: 1);
        Assert.Equal(expected, Scores(fresh, fresh.Transforms.HamiltonianFlow(SmallOptions()).Fit(fresh.Data.LoadFromEnumerable(data))));
    }

    [Fact]
    public void CancellingTheOptionsTokenStopsTheDetectorsFitBeforeItsNextBatch()
    {
        var ml = new MLContext(seed: 1);
        var data = ml.Data.LoadFromEnumerable(Clusters(400, 1));
        using var source = new CancellationTokenSource();
        var stepsReported = new List<long>();
        ml.Log += (_, e) =>
        {
            var match = System.Text.RegularExpressions.Regex.Match(e.Message, @"Step (\d+): (training loss|no training loss yet)");
            if (!match.Success)
                return;
            long step = long.Parse(match.Groups[1].Value);
            stepsReported.Add(step);
            if (step == 14)
                source.Cancel();
        };
        var options = SmallDetectorOptions();
        // Enough steps that a fit which ignored the token would log many more reports, few enough that it would end.
        options.MaxSteps = 700;
        options.ValidationFraction = 0;
        options.EvaluationInterval = 7;
        options.CancellationToken = source.Token;
        Assert.ThrowsAny<OperationCanceledException>(() => ml.AnomalyDetection.Trainers.HamiltonianFlow(options).Fit(data));
        // The token reaches the engine linked (so cancelled at once), which checks it before every batch: step 14 was the last.
        Assert.Equal(new long[] { 0, 7, 14 }, stepsReported);

        // A token cancelled before the fit stops it while it reads the rows, before any step; the context itself is not
        // cancelled by it.
        stepsReported.Clear();
        Assert.ThrowsAny<OperationCanceledException>(() => ml.Transforms.HamiltonianFlow(new HamiltonianFlowTrainer.Options
        {
            MaxSteps = 50, EvaluationInterval = 10, CancellationToken = source.Token,
        }).Fit(data));
        Assert.Empty(stepsReported);
        var uncancelled = SmallOptions();
        uncancelled.EvaluationInterval = 10;
        using var model = ml.Transforms.HamiltonianFlow(uncancelled).Fit(data);
        Assert.Contains(50L, stepsReported);
    }
}
