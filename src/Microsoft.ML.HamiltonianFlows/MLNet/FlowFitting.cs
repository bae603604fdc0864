using Microsoft.ML.Data;
using Microsoft.ML.HamiltonianFlows.Training;
using Microsoft.ML.Runtime;
using static TorchSharp.torch;

namespace Microsoft.ML.HamiltonianFlows;

/// <summary>
/// Turns an <see cref="IDataView"/> and trainer options into trained model parameters: reads the feature column,
/// skips non-finite rows, maps the ML.NET host's seed, log and cancellation onto <see cref="FlowTrainer"/>.
/// </summary>
internal static class FlowFitting
{
    // How often training looks whether the context's execution was cancelled; the engine then stops before its next batch.
    private static readonly TimeSpan CancellationPoll = TimeSpan.FromMilliseconds(50);

    // Rows a streamed epoch shuffles among when the data cannot shuffle itself (ML.NET's ShuffleRows pool is 1000).
    private const int ShufflePoolRows = 4096;

    /// <summary>A trained model with the feature column it read.</summary>
    internal sealed record Result(HamiltonianFlowModelParameters Model, FeatureColumn Feature);

    internal static Result Fit(IHost host, IDataView data, HamiltonianFlowOptionsBase options)
    {
        var feature = FeatureColumn.Bind(data.Schema, options.FeatureColumnName);
        using var ch = host.Start("Training");
        int seed = options.Seed ?? host.Rand.Next();
        var architecture = options.ToArchitecture(feature.Dimension);
        var trainingOptions = options.ToTrainingOptions(seed);
        double budgetBytes = options.MemoryBudgetMegabytes * 1024 * 1024;
        // Counting rows reads no column, so it costs little next to an epoch; many views know their count outright.
        long total = data.GetRowCount() ?? CountRows(data);
        DataViewRows? streamed = total * feature.Dimension * 4.0 > budgetBytes
            ? new DataViewRows(ch, data, feature, (int)Math.Clamp(budgetBytes / (feature.Dimension * 4.0), 1, ShufflePoolRows))
            : null;
        float[]? rows = null;
        int count = 0;
        if (streamed is null)
        {
            (rows, count) = ReadFiniteRows(ch, data, feature);
            ch.Info($"Training a Hamiltonian flow on {count} rows of dimension {feature.Dimension} (seed {seed}).");
        }
        else
        {
            ch.Info($"Training a Hamiltonian flow on {total} rows of dimension {feature.Dimension} (seed {seed}), streamed: " +
                    $"they exceed the memory budget of {options.MemoryBudgetMegabytes} MB.");
        }

        // Training stops on the options' token or on the context's own cancellation (internal in ML.NET 5.0.1), polled.
        using var cancellation = CancellationTokenSource.CreateLinkedTokenSource(options.CancellationToken);
        using var poll = new Timer(_ =>
        {
            if (host is not ICancelable { IsCanceled: true })
                return;
            try
            {
                cancellation.Cancel();
            }
            catch (ObjectDisposedException)
            {
                // A tick still running when training has ended: an exception here would end the process.
            }
        }, null, CancellationPoll, CancellationPoll);

        Action<FlowTrainingProgress> report = p => ch.Info($"Step {p.Steps}: training loss {p.TrainingLoss:F4} nats" +
            (p.ValidationLoss is double v ? $", validation loss {v:F4}" : "") +
            $", learning rate {p.LearningRate:G3}, {p.SkippedBatches} skipped batches.");
        FlowTrainingResult result;
        if (streamed is not null)
        {
            result = FlowTrainer.Train(architecture, streamed, trainingOptions, report, cancellation.Token);
        }
        else
        {
            using var trainingRows = tensor(rows!, new long[] { count, feature.Dimension });
            result = FlowTrainer.Train(architecture, trainingRows, trainingOptions, report, cancellation.Token);
        }
        if (result.ExcludedRows > 0)
            ch.Warning($"Left {result.ExcludedRows} training rows out of the fit: a value of feature column '{feature.Name}' lies more than " +
                       $"{GrossOutlierRule.Deviations:N0} standard deviations from the other rows'. They are scored as usual.");
        if (result.ConstantFeatures.Count > 0)
            ch.Warning($"{result.ConstantFeatures.Count} of the {feature.Dimension} values of feature column '{feature.Name}' are constant in the " +
                       $"training rows (0-based: {string.Join(", ", result.ConstantFeatures.Take(10))}{(result.ConstantFeatures.Count > 10 ? ", ..." : "")}). " +
                       "The model gives each a spread of 1 in the column's units, so any other value there scores as unlikely on that scale " +
                       "alone; with one training row or identical rows, every value is constant.");
        ch.Info($"Kept the weights of step {result.BestStep}" + (result.BestStep == 0 ? " (the fitted Gaussian)" : "") +
                (result.StoppedEarly ? "; stopped early." : "."));
        // The scoring seed is a function of the training seed, so a model trained twice scores identically.
        ulong scoringSeed = (ulong)(uint)seed * 0x9E3779B97F4A7C15UL + 1;
        int samples = options.ScoringImportanceSamples ?? result.ScoringSamples ?? FlowDefaults.UnmeasuredScoringImportanceSamples;
        if (options.ScoringImportanceSamples is null)
            ch.Info($"Scoring with {samples} importance samples" + (result.ScoringSamples is null
                ? " (no rows were held out to choose with)."
                : $": on the held-out rows they agree with {ScoringBudget.Reference}."));
        return new Result(new HamiltonianFlowModelParameters(host, result.Flow, samples, scoringSeed), feature);
    }

    private static (float[] Rows, int Count) ReadFiniteRows(IChannel ch, IDataView data, FeatureColumn feature)
    {
        int d = feature.Dimension;
        var rows = new List<float>();
        var row = new float[d];
        int count = 0;
        long skipped = 0;
        using (var cursor = data.GetRowCursor(new[] { data.Schema[feature.Name] }))
        {
            var read = feature.MakeReader(cursor);
            while (cursor.MoveNext())
            {
                if (read(row))
                {
                    rows.AddRange(row);
                    count++;
                }
                else
                {
                    skipped++;
                }
            }
        }
        ReportSkipped(ch, feature, count, skipped);
        return (rows.ToArray(), count);
    }

    private static void ReportSkipped(IChannel ch, FeatureColumn feature, long count, long skipped)
    {
        if (skipped > 0)
            ch.Warning($"Skipped {skipped} training rows whose feature column '{feature.Name}' has NaN or infinite values.");
        if (count == 0)
            throw ch.Except(skipped > 0
                ? $"No training rows left: all {skipped} rows of feature column '{feature.Name}' have NaN or infinite values."
                : $"The training data is empty: feature column '{feature.Name}' has no rows.");
    }

    private static long CountRows(IDataView data)
    {
        long count = 0;
        using var cursor = data.GetRowCursor(Array.Empty<DataViewSchema.Column>());
        while (cursor.MoveNext())
            count++;
        return count;
    }

    /// <summary>
    /// The feature column of a view as <see cref="StreamedRows"/>: each pass opens a cursor, keyed by the row id
    /// (which ML.NET keeps per row whatever the order). The storage-order pass counts the finite rows and reports
    /// the others, once.
    /// </summary>
    private sealed class DataViewRows : StreamedRows
    {
        private readonly IChannel ch;
        private readonly IDataView data;
        private readonly FeatureColumn feature;
        private readonly int poolRows;
        private bool reported;

        public DataViewRows(IChannel ch, IDataView data, FeatureColumn feature, int poolRows)
        {
            this.ch = ch;
            this.data = data;
            this.feature = feature;
            this.poolRows = poolRows;
        }

        public override int Dimension => feature.Dimension;

        public override IEnumerable<StreamedRow> Read(int? shuffleSeed)
        {
            var columns = new[] { data.Schema[feature.Name] };
            // A view that shuffles itself does it best; otherwise a bounded pool shuffles the storage order locally.
            if (shuffleSeed is int seed && !data.CanShuffle)
                return Pooled(ReadCursor(data.GetRowCursor(columns), counting: false), new Random(seed));
            return ReadCursor(shuffleSeed is int s ? data.GetRowCursor(columns, new Random(s)) : data.GetRowCursor(columns),
                counting: shuffleSeed is null && !reported);
        }

        private IEnumerable<StreamedRow> ReadCursor(DataViewRowCursor cursor, bool counting)
        {
            using (cursor)
            {
                var read = feature.MakeReader(cursor);
                var id = cursor.GetIdGetter();
                DataViewRowId rowId = default;
                var row = new float[feature.Dimension];
                long finite = 0, skipped = 0;
                while (cursor.MoveNext())
                {
                    // The engine skips non-finite rows itself; they are only counted here.
                    if (read(row))
                        finite++;
                    else
                        skipped++;
                    id(ref rowId);
                    yield return new StreamedRow(rowId.Low ^ (rowId.High * 0x9E3779B97F4A7C15UL), row);
                }
                if (counting)
                {
                    reported = true;
                    ReportSkipped(ch, feature, finite, skipped);
                }
            }
        }

        /// <summary>
        /// Local shuffle of a stream: each arriving row takes the place of a random row of a full pool, which is
        /// emitted; the pool's rest is emitted in random order at the end.
        /// </summary>
        private IEnumerable<StreamedRow> Pooled(IEnumerable<StreamedRow> rows, Random random)
        {
            var pool = new List<StreamedRow>(poolRows);
            foreach (var row in rows)
            {
                // The cursor reuses its buffer, and the pool holds rows across reads.
                var copy = new StreamedRow(row.Key, (float[])row.Values.Clone());
                if (pool.Count < poolRows)
                {
                    pool.Add(copy);
                    continue;
                }
                int i = random.Next(poolRows);
                yield return pool[i];
                pool[i] = copy;
            }
            for (int n = pool.Count; n > 0; n--)
            {
                int i = random.Next(n);
                yield return pool[i];
                pool[i] = pool[n - 1];
            }
        }
    }
}
