using Microsoft.ML.HamiltonianFlows.Torch;
using Microsoft.ML.HamiltonianFlows.Training;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace Microsoft.ML.HamiltonianFlows.Tests;

/// <summary>
/// The optimiser guard both trainers share: rows with non-finite values never reach it (the flow trainer drops them up
/// front), so its isolated non-finite steps are made here by a loss that is NaN at chosen steps.
/// </summary>
public class NonFiniteStepTests
{
    [Fact]
    public void IsolatedNonFiniteStepsAreSkippedHalveTheLearningRateAndTrainingGoesOn()
    {
        using var weight = nn.Parameter(zeros(3));
        using var optimizer = new GuardedAdam(new[] { weight }, learningRate: 0.1, weightDecay: 0, LearningRateSchedule.Constant,
            gradientClipNorm: 10, maxConsecutiveFailures: 2);
        var nonFiniteSteps = new HashSet<long> { 3, 7 };
        var returned = new List<double?>();
        for (long step = 0; step < 40; step++)
        {
            float[] before = weight.data<float>().ToArray();
            using var scope = NewDisposeScope();
            long current = step;
            returned.Add(optimizer.Step(step, 40,
                () => nonFiniteSteps.Contains(current) ? weight.Times(float.NaN).sum() : weight.Plus(-3).Squared().sum(), null, (n, _) => $"{n} failures"));
            if (nonFiniteSteps.Contains(step))
                Assert.Equal(before, weight.data<float>().ToArray());
        }

        Assert.Equal(2, optimizer.Skipped);
        Assert.Equal(new[] { 3, 7 }, returned.Select((r, i) => (r, i)).Where(x => x.r is null).Select(x => x.i));
        // Each skipped step halves the rate from then on.
        Assert.Equal(0.1 / 4, optimizer.LearningRate, 12);
        // The finite steps still descend: the loss at the end is below the first one.
        Assert.True(returned[^1] < returned[0], $"loss {returned[0]} -> {returned[^1]}");
    }

    [Fact]
    public void ConsecutiveNonFiniteStepsUpToTheLimitFailWithTheGivenMessage()
    {
        using var weight = nn.Parameter(zeros(2));
        using var optimizer = new GuardedAdam(new[] { weight }, learningRate: 0.1, weightDecay: 0, LearningRateSchedule.Constant,
            gradientClipNorm: 10, maxConsecutiveFailures: 3);
        using var scope = NewDisposeScope();
        Tensor NaNLoss() => weight.Times(float.NaN).sum();

        Assert.Null(optimizer.Step(0, 10, NaNLoss, null, (n, _) => $"{n} failures"));
        Assert.Null(optimizer.Step(1, 10, NaNLoss, null, (n, _) => $"{n} failures"));
        var error = Assert.Throws<InvalidOperationException>(() => optimizer.Step(2, 10, NaNLoss, null, (n, rate) => $"{n} failures, rate {rate}"));
        Assert.Equal($"3 failures, rate {0.1 / 8}", error.Message);
    }
}
