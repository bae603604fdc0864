using BenchmarkDotNet.Attributes;

namespace Microsoft.ML.HamiltonianFlows.PerformanceTests;

/// <summary>
/// ML.NET <c>Transform</c> throughput over a 1M-row view (see <see cref="TransformThroughput"/>). The time is per row:
/// rows per second = 1e9 / (ns per operation). One warm-up and three measured passes: each pass is seconds long.
/// </summary>
[WarmupCount(1)]
[IterationCount(3)]
public class TransformBenchmarks
{
    private const int Rows = 1_000_000;
    private TransformThroughput throughput = null!;

    /// <summary>Trains the model.</summary>
    [GlobalSetup]
    public void Setup() => throughput = new TransformThroughput();

    /// <summary>Scores a million rows.</summary>
    [Benchmark(OperationsPerInvoke = Rows)]
    public double TransformRow() => throughput.Score(Rows);

    /// <summary>Releases the model.</summary>
    [GlobalCleanup]
    public void Cleanup() => throughput.Dispose();
}
