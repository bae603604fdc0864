using BenchmarkDotNet.Attributes;
using static TorchSharp.torch;

namespace Microsoft.ML.HamiltonianFlows.PerformanceTests;

/// <summary>
/// A training step of <see cref="Training.FlowTrainer"/>: minibatch, negative ELBO, one backward pass, gradient clipping,
/// AdamW. Each invocation trains a new flow for <see cref="Steps"/> steps, so the time per operation includes a
/// twentieth of building the flow and fitting its Gaussian stage.
/// </summary>
public class TrainingStepBenchmarks : WorkloadBenchmarks
{
    private const int Steps = 20;
    private Tensor batch = null!;

    /// <summary>Draws the batch the steps train on.</summary>
    [GlobalSetup]
    public void Setup() => batch = Workload.Batch(seed: 1);

    /// <summary>Trains for <see cref="Steps"/> steps.</summary>
    [Benchmark(OperationsPerInvoke = Steps)]
    public long TrainingStep()
    {
        var result = Workload.Train(Kinetic, batch, Steps);
        result.Flow.Dispose();
        return result.History.Count;
    }

    /// <summary>Releases the batch.</summary>
    [GlobalCleanup]
    public void Cleanup() => batch.Dispose();
}
