using GaussianMixture2D;
using Microsoft.ML.HamiltonianFlows.Torch;
using Microsoft.ML.HamiltonianFlows.Training;
using Xunit;
using static TorchSharp.torch;

namespace Microsoft.ML.HamiltonianFlows.Tests;

public class RingTrainingTests
{
    [Theory]
    [InlineData(KineticEnergyKind.Quadratic)]
    [InlineData(KineticEnergyKind.Neural)]
    public void TrainingOnTheEightGaussianRingLowersTestNllAndCoversEveryMode(KineticEnergyKind kinetic)
    {
        var ring = new GaussianRing();
        using var train = tensor(ring.Sample(4000, 1), new long[] { 4000, 2 });
        using var test = tensor(ring.Sample(1000, 2), new long[] { 1000, 2 });
        var architecture = new FlowArchitecture { Dimension = 2, Kinetic = kinetic };
        // The whole budget on all the rows: the test set measures the fit.
        var options = new FlowTrainingOptions { MaxSteps = 1000, BatchSize = 256, LearningRate = 5e-3, ValidationFraction = 0, Seed = 3 };

        // Untrained: the fitted Gaussian.
        using var untrained = FlowTrainer.Train(architecture, train, options with { MaxSteps = 0 }).Flow;
        using var trained = FlowTrainer.Train(architecture, train, options).Flow;

        using var noGrad = no_grad();
        using var generator = new Generator(4);
        double Nll(HamiltonianFlow flow) => -flow.LogLikelihood(test, 16, generator).mean().item<float>();
        double before = Nll(untrained), after = Nll(trained);
        // The exact entropy is 3.52 nats; the Gaussian fitted to the ring (covariance about 8.25 I) sits near 4.95.
        Assert.True(after < before - 0.7, $"test NLL {after:F3} is not well below the untrained {before:F3}");
        Assert.True(after < 4.2, $"test NLL {after:F3}");

        // Each sample is assigned to the nearest mode centre if within 3 standard deviations of it.
        using var samples = trained.Sample(4000, generator).Q;
        float[] xy = samples.data<float>().ToArray();
        var counts = new int[ring.Components];
        int near = 0;
        for (int i = 0; i < xy.Length / 2; i++)
            for (int k = 0; k < ring.Components; k++)
            {
                var (mx, my) = ring.Mean(k);
                if (Math.Pow(xy[2 * i] - mx, 2) + Math.Pow(xy[2 * i + 1] - my, 2) < Math.Pow(3 * ring.Std, 2))
                {
                    counts[k]++;
                    near++;
                }
            }
        Assert.True(near > 0.7 * 4000, $"only {near} of 4000 samples lie within 3 std of a mode");
        Assert.All(counts, c => Assert.InRange(c, 0.06 * 4000, 0.2 * 4000));
    }
}
