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

    /// <summary>A trained model with the feature column it read and the finite training rows (count x d values).</summary>
    internal sealed record Result(HamiltonianFlowModelParameters Model, FeatureColumn Feature, float[] Rows, int Count);

    internal static Result Fit(IHost host, IDataView data, HamiltonianFlowTrainer.Options options)
    {
        var feature = FeatureColumn.Bind(data.Schema, options.FeatureColumnName);
        using var ch = host.Start("Training");
        var (rows, count) = ReadFiniteRows(ch, data, feature);

        int seed = options.Seed ?? host.Rand.Next();
        var architecture = options.ToArchitecture(feature.Dimension);
        var trainingOptions = options.ToTrainingOptions(seed);
        ch.Info($"Training a Hamiltonian flow on {count} rows of dimension {feature.Dimension} (seed {seed}).");

        using var cancellation = new CancellationTokenSource();
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

        FlowTrainingResult result;
        using (var trainingRows = tensor(rows, new long[] { count, feature.Dimension }))
        {
            result = FlowTrainer.Train(architecture, trainingRows, trainingOptions,
                p => ch.Info($"Epoch {p.Epoch}: training loss {p.TrainingLoss:F4} nats" +
                             (p.ValidationLoss is double v ? $", validation loss {v:F4}" : "") +
                             $", learning rate {p.LearningRate:G3}, {p.SkippedBatches} skipped batches."),
                cancellation.Token);
        }
        ch.Info($"Kept the weights of epoch {result.BestEpoch}" + (result.StoppedEarly ? " (stopped early)." : "."));
        // The scoring seed is a function of the training seed, so a model trained twice scores identically.
        ulong scoringSeed = (ulong)(uint)seed * 0x9E3779B97F4A7C15UL + 1;
        return new Result(new HamiltonianFlowModelParameters(host, result.Flow, options.ImportanceSamples, scoringSeed), feature, rows, count);
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
        if (skipped > 0)
            ch.Warning($"Skipped {skipped} training rows whose feature column '{feature.Name}' has NaN or infinite values.");
        if (count == 0)
            throw ch.Except(skipped > 0
                ? $"No training rows left: all {skipped} rows of feature column '{feature.Name}' have NaN or infinite values."
                : $"The training data is empty: feature column '{feature.Name}' has no rows.");
        return (rows.ToArray(), count);
    }
}
