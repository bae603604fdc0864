using Microsoft.ML.HamiltonianFlows.Torch;
using Microsoft.ML.HamiltonianFlows.Training;
using Xunit;
using Xunit.Abstractions;

namespace Microsoft.ML.HamiltonianFlows.Tests;

/// <summary>
/// Training keeps the best trained weights even when they lose to the fitted Gaussian on the held-out rows; the Gaussian's
/// share, fitted next on the same rows, then takes the Gaussian back in, so the density returned is never worse there than
/// the Gaussian it started from, however badly the steps overfit.
/// </summary>
public sealed class OverfitTrainingFallsBackOnTheGaussianTests
{
    private readonly ITestOutputHelper output;

    public OverfitTrainingFallsBackOnTheGaussianTests(ITestOutputHelper output) => this.output = output;

    [Fact]
    public void OnThirtyNoisyRowsTheReturnedDensityIsNoWorseOnItsHeldOutRowsThanTheGaussian()
    {
        // 30 rows of pure noise: 24 to train a wide flow with a high rate and no weight decay, which memorises them.
        using var data = TestFlows.Points(30, 2, 1);
        var result = FlowTrainer.Train(new FlowArchitecture { Dimension = 2, HiddenLayers = new[] { 64, 64 } }, data, new FlowTrainingOptions
        {
            MaxSteps = 400, BatchSize = 24, LearningRate = 2e-2, WeightDecay = 0, EvaluationInterval = 50, Seed = 1,
        });
        using var flow = result.Flow;

        double gaussian = result.History[0].ValidationLoss!.Value;
        output.WriteLine(string.Join(", ", result.History.Select(r => $"{r.Steps}: {r.ValidationLoss:F3}")));
        output.WriteLine($"kept step {result.BestStep}: validation loss {result.ValidationLoss:F4} (Gaussian {gaussian:F4}); share {flow.GaussianWeight}, " +
                         $"density {result.DensityValidationLoss:F4} against the Gaussian's {result.GaussianValidationLoss:F4}");
        Assert.Equal(0, result.History[0].Steps);
        Assert.Equal(24, result.TrainingRows);
        // The steps did overfit: every trained evaluation, the kept one too, is worse than the Gaussian.
        Assert.All(result.History.Skip(1), r => Assert.True(r.ValidationLoss > gaussian, $"step {r.Steps}: {r.ValidationLoss} not above the Gaussian's {gaussian}"));
        // The weights kept are the best trained evaluation's (their loss computed again on the restored weights).
        Assert.True(result.BestStep > 0);
        Assert.Equal(result.History.Skip(1).Min(r => r.ValidationLoss!.Value), result.ValidationLoss);
        // The share takes the Gaussian back in: the density is no worse than it on the held-out rows.
        Assert.True(result.DensityValidationLoss <= result.GaussianValidationLoss,
            $"density {result.DensityValidationLoss} above the Gaussian's {result.GaussianValidationLoss}");
    }
}
