using Microsoft.ML.HamiltonianFlows.Torch;
using Microsoft.ML.HamiltonianFlows.Training;
using Xunit;

namespace Microsoft.ML.HamiltonianFlows.Tests;

/// <summary>
/// Early stopping counts its patience from the last better evaluation once the flow has beaten its start (the fitted
/// Gaussian at step 0); a fit still at its start goes on until half its budget, since a flow leaving its Gaussian often
/// gets worse on held-out rows before it gets better.
/// </summary>
public sealed class EarlyStoppingTests
{
    [Fact]
    public void OnceTheStartIsBeatenPatienceCountsFromTheLastBetterEvaluation()
    {
        var rule = new EarlyStopping(patience: 3, budget: 1000);
        Assert.True(rule.Continue(0, improved: true));
        Assert.True(rule.Continue(100, improved: true));
        Assert.True(rule.Continue(200, improved: false));
        Assert.True(rule.Continue(300, improved: false));
        Assert.False(rule.Continue(400, improved: false));
    }

    [Fact]
    public void AFitStillAtItsStartGoesOnUntilHalfItsBudget()
    {
        var rule = new EarlyStopping(patience: 3, budget: 1000);
        Assert.True(rule.Continue(0, improved: true));
        // Past the patience, but below half the budget: the flow may still leave its Gaussian's plateau.
        for (long step = 100; step < 500; step += 100)
            Assert.True(rule.Continue(step, improved: false), $"stopped at step {step}");
        Assert.False(rule.Continue(500, improved: false));
    }

    [Fact]
    public void ABetterEvaluationAfterThePlateauStartsThePatienceAgain()
    {
        var rule = new EarlyStopping(patience: 2, budget: 1000);
        Assert.True(rule.Continue(0, improved: true));
        for (long step = 100; step <= 300; step += 100)
            Assert.True(rule.Continue(step, improved: false));
        Assert.True(rule.Continue(400, improved: true));
        Assert.True(rule.Continue(500, improved: false));
        Assert.False(rule.Continue(600, improved: false));
    }

    // A fit that never beats its Gaussian: a learning rate of 1e-30 changes no weight by anything float32 can see, so every
    // evaluation (every 2 steps, patience 2) equals step 0's and none is better.
    private static FlowTrainingResult FitThatNeverImproves(int maxSteps)
    {
        using var data = TestFlows.Points(200, 2, 1);
        return FlowTrainer.Train(new FlowArchitecture { Dimension = 2, HiddenLayers = new[] { 16, 16 } }, data, new FlowTrainingOptions
        {
            MaxSteps = maxSteps, BatchSize = 32, EvaluationInterval = 2, EarlyStoppingPatience = 2, LearningRate = 1e-30, Seed = 1,
        });
    }

    [Fact]
    public void AFitThatNeverBeatsItsGaussianTrainsForHalfItsBudget()
    {
        // With a patience of 2 evaluations training would have ended at step 4; it ends at 20 of 40.
        var result = FitThatNeverImproves(40);
        using var flow = result.Flow;
        Assert.All(result.History.Skip(1), r => Assert.True(r.ValidationLoss >= result.History[0].ValidationLoss));
        // None beat the Gaussian, and none beat the first trained evaluation either: its weights are the ones kept.
        Assert.Equal(2, result.BestStep);
        Assert.True(result.StoppedEarly);
        Assert.Equal(20, result.History[^1].Steps);
    }

    [Fact]
    public void PatienceThatRunsOutAtTheLastStepIsNotAnEarlyStop()
    {
        // The evaluation at step 4 would end training, but step 4 is the budget's last: the budget ended it, not the patience.
        var result = FitThatNeverImproves(4);
        using var flow = result.Flow;
        Assert.Equal(4, result.History[^1].Steps);
        Assert.False(result.StoppedEarly);
    }
}
