using Microsoft.ML.HamiltonianFlows.Torch;
using Microsoft.ML.HamiltonianFlows.Training;
using Xunit;
using Xunit.Abstractions;

namespace Microsoft.ML.HamiltonianFlows.Tests;

/// <summary>
/// The fitted Gaussian (step 0) is among the weights early stopping chooses from, so training never ends worse on the
/// held-out rows than the Gaussian it started from, however badly the steps after it overfit.
/// </summary>
public sealed class EarlyStoppingKeepsTheGaussianTests
{
    private readonly ITestOutputHelper output;

    public EarlyStoppingKeepsTheGaussianTests(ITestOutputHelper output) => this.output = output;

    [Fact]
    public void OnThirtyNoisyRowsTheReturnedValidationLossIsNoWorseThanTheGaussians()
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
        output.WriteLine($"kept step {result.BestStep}: validation loss {result.ValidationLoss:F4} (Gaussian {gaussian:F4})");
        Assert.Equal(0, result.History[0].Steps);
        Assert.Equal(24, result.TrainingRows);
        Assert.True(result.ValidationLoss <= gaussian, $"validation loss {result.ValidationLoss} above the Gaussian's {gaussian}");
        // The steps did overfit: the weights of the last evaluation are worse than the Gaussian.
        Assert.True(result.History[^1].ValidationLoss > gaussian, $"the last evaluation {result.History[^1].ValidationLoss} is not worse than the Gaussian {gaussian}");
    }
}
