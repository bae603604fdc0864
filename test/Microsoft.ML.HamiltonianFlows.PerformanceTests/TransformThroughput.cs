using Microsoft.ML.Data;

namespace Microsoft.ML.HamiltonianFlows.PerformanceTests;

/// <summary>
/// End-to-end ML.NET scoring: a <see cref="HamiltonianFlowTransformer"/> of the 2D size (two hidden layers of 64, L = 8,
/// K = 1 importance sample) reads a streamed view of generated rows and a cursor pulls the log-likelihood of each.
/// The rows are generated while they are read, so memory use is that of the scoring alone.
/// </summary>
public sealed class TransformThroughput : IDisposable
{
    private readonly MLContext mlContext = new(seed: 1);
    private readonly HamiltonianFlowTransformer model;

    /// <summary>Trains the model briefly (its speed does not depend on its weights) on generated rows.</summary>
    public TransformThroughput()
    {
        var options = new HamiltonianFlowTrainer.Options
        {
            HiddenLayers = new[] { 64, 64 }, LeapfrogSteps = 8, ScoringImportanceSamples = 1, MaxSteps = 20, Seed = 1,
        };
        model = mlContext.Transforms.HamiltonianFlow(options).Fit(Rows(4096));
    }

    /// <summary>Scores <paramref name="count"/> rows through <c>Transform</c> and returns the sum of their log-likelihoods.</summary>
    public double Score(long count)
    {
        IDataView scored = model.Transform(Rows(count));
        var column = scored.Schema[model.OutputColumnName];
        using var cursor = scored.GetRowCursor(new[] { column });
        var getter = cursor.GetGetter<float>(column);
        double sum = 0;
        float value = 0;
        while (cursor.MoveNext())
        {
            getter(ref value);
            sum += value;
        }
        return sum;
    }

    /// <summary>Releases the model.</summary>
    public void Dispose() => model.Dispose();

    private IDataView Rows(long count) => Rows(mlContext, count);

    /// <summary>The benchmark's rows: a ring-like cloud of <paramref name="count"/> 2-D points.</summary>
    internal static IDataView Rows(MLContext ml, long count) => ml.Data.LoadFromEnumerable(Generate(count));

    // A ring-like cloud from a hash of the row index: no state, so every cursor over the view sees the same rows.
    private static IEnumerable<FeatureRow> Generate(long count)
    {
        for (long i = 0; i < count; i++)
        {
            double angle = (Hash(i) >> 11) * (2 * Math.PI / (1UL << 53));
            double radius = 4 + ((Hash(~i) >> 11) * (1.0 / (1UL << 53)) - 0.5);
            yield return new FeatureRow { Features = new[] { (float)(radius * Math.Cos(angle)), (float)(radius * Math.Sin(angle)) } };
        }
    }

    private static ulong Hash(long i)
    {
        ulong z = (ulong)i * 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    private sealed class FeatureRow
    {
        [VectorType(2)]
        public float[] Features { get; set; } = Array.Empty<float>();
    }
}
