using Microsoft.ML.HamiltonianFlows.Torch;
using Microsoft.ML.HamiltonianFlows.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.HamiltonianFlows.PerformanceTests;

/// <summary>
/// One model size of the benchmarks, with the operations they time: a training step of the library's own loop, the
/// importance-weighted log-likelihood of a batch and sampling a batch. pytorch/nhf_reference.py builds the same
/// models and runs the same operations.
/// </summary>
public sealed record Workload(string Name, int Dimension, int BatchSize, int[] HiddenLayers, int LeapfrogSteps)
{
    /// <summary>The paper's 2D experiment size: d = 2, batch 512, two hidden layers of 64, L = 8.</summary>
    public static readonly Workload TwoD = new("2d", 2, 512, new[] { 64, 64 }, 8);

    /// <summary>An image-sized model: d = 784 (28 x 28), batch 128, one hidden layer of 512, L = 4.</summary>
    public static readonly Workload Image = new("image", 784, 128, new[] { 512 }, 4);

    /// <summary>Importance samples K per row when a benchmark scores a batch.</summary>
    public const int ScoringSamples = 16;

    /// <summary>Both workloads, in the order every report lists them.</summary>
    public static IReadOnlyList<Workload> All { get; } = new[] { TwoD, Image };

    /// <summary>The name, as BenchmarkDotNet prints a parameter.</summary>
    public override string ToString() => Name;

    /// <summary>
    /// The flow of this size with the given kinetic energy: one Hamiltonian and no separable wells (the reference's
    /// model), every other option at its default (a full-covariance Gaussian stage for both sizes).
    /// </summary>
    public FlowArchitecture Architecture(KineticEnergyKind kinetic) => new()
    {
        Dimension = Dimension, HiddenLayers = HiddenLayers, LeapfrogSteps = LeapfrogSteps, Hamiltonians = 1, Kinetic = kinetic,
        SeparableWells = false,
    };

    /// <summary>One batch of rows: standard normal for 2D, uniform in [0, 1) like pixel intensities for images.</summary>
    public Tensor Batch(int seed)
    {
        using var generator = new Generator((ulong)seed);
        var shape = new long[] { BatchSize, Dimension };
        return Dimension == 2 ? randn(shape, generator: generator) : rand(shape, generator: generator);
    }

    /// <summary>
    /// Trains for <paramref name="steps"/> steps with <see cref="FlowTrainer"/> on one batch of rows (one step per epoch),
    /// calling <paramref name="afterStep"/> after each step: progress is reported after every step (an evaluation
    /// interval of 1, nothing held out to evaluate) and at step 0, which is skipped.
    /// </summary>
    public FlowTrainingResult Train(KineticEnergyKind kinetic, Tensor batch, int steps, Action? afterStep = null) =>
        FlowTrainer.Train(
            Architecture(kinetic), batch,
            new FlowTrainingOptions { MaxSteps = steps, BatchSize = BatchSize, ValidationFraction = 0, EvaluationInterval = 1, Seed = 1 },
            afterStep is null ? null : p => { if (p.Steps > 0) afterStep(); });

    /// <summary>The importance-weighted log-likelihood of the batch with <see cref="ScoringSamples"/> momenta per row, as scoring runs it.</summary>
    public static float Score(HamiltonianFlow flow, Tensor batch, Generator generator)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        return flow.LogLikelihood(batch, ScoringSamples, generator).sum().item<float>();
    }

    /// <summary>Draws a batch of points from the flow.</summary>
    public float Sample(HamiltonianFlow flow, Generator generator)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        return flow.Sample(BatchSize, generator).Q.sum().item<float>();
    }

    /// <summary>The floating-point operations of the operation's matrix products (see docs/benchmarks.md).</summary>
    public double MatmulFlops(string operation, KineticEnergyKind kinetic)
    {
        // One forward pass of a hidden stack on n rows: 2 n (d h1 + h1 h2 + ...).
        double Stack(long n) => 2.0 * n * HiddenLayers.Zip(HiddenLayers.Prepend(Dimension), (h, input) => (double)h * input).Sum();
        double Encoder(long n) => Stack(n) + 2.0 * n * HiddenLayers[^1] * 2 * Dimension;
        // A closed-form input gradient is the stack forward plus the same products backwards (the output layer is elementwise).
        double Gradients(long n) => 2 * Stack(n) * (LeapfrogSteps + 1 + (kinetic == KineticEnergyKind.Neural ? LeapfrogSteps : 0));
        // The full-covariance Gaussian stage: one [n, d] x [d, d] product per batch, before the momenta are repeated, and
        // no backward pass (its matrix is fitted, not trained, and the data need no gradient).
        double whitening = 2.0 * BatchSize * Dimension * Dimension;
        return operation switch
        {
            // Backpropagation costs two products per forward one (input and weight gradients): 3x the forward pass.
            "train" => whitening + 3 * (Encoder(BatchSize) + Gradients(BatchSize)),
            "score" => whitening + Encoder(BatchSize * ScoringSamples) + Gradients(BatchSize * ScoringSamples),
            "sample" => whitening + Gradients(BatchSize),
            _ => throw new ArgumentOutOfRangeException(nameof(operation), operation, "expected train, score or sample"),
        };
    }
}
