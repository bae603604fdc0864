using Microsoft.ML.HamiltonianFlows.Torch;
using Microsoft.ML.HamiltonianFlows.Training;
using Xunit;
using static TorchSharp.torch;

namespace Microsoft.ML.HamiltonianFlows.Tests;

public class TrainingTests
{
    private static readonly FlowArchitecture Small = new() { Dimension = 2, HiddenLayers = new[] { 16, 16 }, LeapfrogSteps = 4 };

    [Fact]
    public void SameSeedGivesIdenticalWeightsAndAnotherSeedDoesNot()
    {
        using var data = TestFlows.Points(256, 2, 1);
        var options = new FlowTrainingOptions { Epochs = 3, BatchSize = 64, Seed = 5 };
        using var first = FlowTrainer.Train(Small, data, options).Flow;
        using var second = FlowTrainer.Train(Small, data, options).Flow;
        using var other = FlowTrainer.Train(Small, data, options with { Seed = 6 }).Flow;

        var a = TestFlows.Weights(first);
        var b = TestFlows.Weights(second);
        var c = TestFlows.Weights(other);
        Assert.Equal(a.Keys, b.Keys);
        foreach (string key in a.Keys)
            Assert.Equal(a[key], b[key]);
        Assert.Contains(a.Keys, key => !a[key].SequenceEqual(c[key]));
    }

    [Fact]
    public void TrainingsOnSeveralThreadsAtOnceGiveTheSerialWeights()
    {
        using var data = TestFlows.Points(256, 2, 1);
        var options = new FlowTrainingOptions { Epochs = 2, BatchSize = 64 };
        int[] seeds = { 11, 12, 13, 14 };
        var serial = seeds.Select(seed =>
        {
            using var flow = FlowTrainer.Train(Small, data, options with { Seed = seed }).Flow;
            return TestFlows.Weights(flow);
        }).ToArray();
        var parallel = seeds.AsParallel().AsOrdered().WithDegreeOfParallelism(4).Select(seed =>
        {
            using var flow = FlowTrainer.Train(Small, data, options with { Seed = seed }).Flow;
            return TestFlows.Weights(flow);
        }).ToArray();

        for (int i = 0; i < seeds.Length; i++)
            foreach (string key in serial[i].Keys)
                Assert.Equal(serial[i][key], parallel[i][key]);
    }

    [Fact]
    public void ProgressIsReportedOncePerEpochWithTheStepCount()
    {
        using var data = TestFlows.Points(100, 2, 1);
        var reports = new List<FlowTrainingProgress>();
        using var flow = FlowTrainer.Train(Small, data, new FlowTrainingOptions { Epochs = 3, BatchSize = 32 }, reports.Add).Flow;
        Assert.Equal(new[] { 1, 2, 3 }, reports.Select(r => r.Epoch));
        Assert.Equal(new long[] { 4, 8, 12 }, reports.Select(r => r.Steps));
        Assert.All(reports, r => Assert.True(double.IsFinite(r.TrainingLoss)));
    }

    [Fact]
    public void MaxStepsCapsTraining()
    {
        using var data = TestFlows.Points(100, 2, 1);
        var result = FlowTrainer.Train(Small, data, new FlowTrainingOptions { Epochs = 50, BatchSize = 10, MaxSteps = 25 });
        using var flow = result.Flow;
        Assert.Equal(25, result.History[^1].Steps);
        Assert.Equal(3, result.History.Count);
    }

    [Fact]
    public void CancellationStopsTrainingBetweenBatches()
    {
        using var data = TestFlows.Points(200, 2, 1);
        using var cancellation = new CancellationTokenSource();
        int epochs = 0;
        Assert.ThrowsAny<OperationCanceledException>(() => FlowTrainer.Train(Small, data,
            new FlowTrainingOptions { Epochs = 100, BatchSize = 20 },
            _ => { epochs++; cancellation.Cancel(); },
            cancellation.Token));
        Assert.Equal(1, epochs);
    }

    [Fact]
    public void EarlyStoppingReturnsTheWeightsOfTheBestValidationEpoch()
    {
        // A learning rate this high makes validation loss wander, so the best epoch is rarely the last.
        using var data = TestFlows.Points(400, 2, 1) * 3;
        var result = FlowTrainer.Train(Small, data, new FlowTrainingOptions
        {
            Epochs = 30, BatchSize = 50, ValidationFraction = 0.25, EarlyStoppingPatience = 3, LearningRate = 0.05,
            Schedule = LearningRateSchedule.Constant,
        });
        using var flow = result.Flow;
        double best = result.History.Min(r => r.ValidationLoss!.Value);
        Assert.Equal(best, result.History[result.BestEpoch - 1].ValidationLoss);
        Assert.Equal(best, result.ValidationLoss);
        if (result.StoppedEarly)
            Assert.Equal(result.BestEpoch + 3, result.History.Count);
    }

    [Fact]
    public void IsolatedNonFiniteBatchesAreSkippedAndTrainingFinishes()
    {
        // One NaN row: every epoch has exactly one bad batch, which must be skipped, not poison the weights.
        using var data = TestFlows.Points(200, 2, 1);
        data[17, 0] = tensor(float.NaN);
        var result = FlowTrainer.Train(Small, data, new FlowTrainingOptions { Epochs = 4, BatchSize = 20 });
        using var flow = result.Flow;
        Assert.Equal(4, result.History[^1].SkippedBatches);
        Assert.All(flow.parameters(), p => Assert.True(p.isfinite().all().item<bool>()));
    }

    [Fact]
    public void PersistentNonFiniteLossFailsWithAClearMessage()
    {
        using var data = full(new long[] { 64, 2 }, float.NaN);
        var error = Assert.Throws<InvalidOperationException>(() =>
            FlowTrainer.Train(Small, data, new FlowTrainingOptions { Epochs = 50, BatchSize = 8, MaxConsecutiveNonFiniteBatches = 5 }));
        Assert.Contains("non-finite", error.Message);
        Assert.Contains("5 consecutive batches", error.Message);
    }

    [Fact]
    public void EmptyDataThrows()
    {
        using var data = zeros(0, 2);
        var error = Assert.Throws<ArgumentException>(() => FlowTrainer.Train(Small, data, new FlowTrainingOptions()));
        Assert.Contains("no rows", error.Message);
    }
}
