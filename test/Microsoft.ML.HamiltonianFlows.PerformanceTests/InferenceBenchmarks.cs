using BenchmarkDotNet.Attributes;
using Microsoft.ML.HamiltonianFlows.Torch;
using static TorchSharp.torch;

namespace Microsoft.ML.HamiltonianFlows.PerformanceTests;

/// <summary>
/// The two gradient-free uses of a trained flow on one batch: the importance-weighted log-likelihood with
/// <see cref="Workload.ScoringSamples"/> momenta per row, and sampling.
/// </summary>
public class InferenceBenchmarks : WorkloadBenchmarks
{
    private HamiltonianFlow flow = null!;
    private Tensor batch = null!;
    private Generator generator = null!;

    /// <summary>Builds the flow and draws the batch.</summary>
    [GlobalSetup]
    public void Setup()
    {
        flow = HamiltonianFlow.Create(Workload.Architecture(Kinetic), seed: 1);
        batch = Workload.Batch(seed: 1);
        generator = new Generator(1);
    }

    /// <summary>IW log-likelihood of one batch.</summary>
    [Benchmark]
    public float LogLikelihood() => Workload.Score(flow, batch, generator);

    /// <summary>One batch of samples.</summary>
    [Benchmark]
    public float Sample() => Workload.Sample(flow, generator);

    /// <summary>Releases the flow and the batch.</summary>
    [GlobalCleanup]
    public void Cleanup()
    {
        flow.Dispose();
        batch.Dispose();
        generator.Dispose();
    }
}
