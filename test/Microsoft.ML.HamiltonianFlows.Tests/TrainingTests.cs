using Microsoft.ML.HamiltonianFlows.Torch;
using Microsoft.ML.HamiltonianFlows.Training;
using TorchSharp;
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
        // Nothing held out: the weights compared are the trained ones, not the Gaussian that validation could keep.
        var options = new FlowTrainingOptions { MaxSteps = 12, BatchSize = 64, ValidationFraction = 0, Seed = 5 };
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
        var options = new FlowTrainingOptions { MaxSteps = 8, BatchSize = 64, ValidationFraction = 0 };
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

        // Fits that shared state (a generator, a batch, a buffer) would end as far apart as fits of different seeds.
        // oneMKL's AVX-512 kernels, without its reproducibility mode, may round products differently when the process's
        // thread use changes under them (other tests run alongside), which 8 Adam steps carry into the last digits
        // (5e-5 relative was seen); so the parallel fit must be 100 times closer to its serial twin than seeds are.
        static double Gap(Dictionary<string, float[]> a, Dictionary<string, float[]> b) =>
            a.Keys.Max(key => a[key].Zip(b[key], (x, y) => Math.Abs((double)x - y)).Max());
        for (int i = 0; i < seeds.Length; i++)
        {
            double twin = Gap(serial[i], parallel[i]), seedGap = Gap(serial[i], serial[(i + 1) % seeds.Length]);
            Assert.True(twin <= 0.01 * seedGap, $"seed {seeds[i]}: parallel fit {twin:G3} from its serial twin, another seed's fit {seedGap:G3}");
        }
    }

    [Fact]
    public void ProgressIsReportedAtStepZeroEveryEvaluationIntervalAndAtTheLastStep()
    {
        using var data = TestFlows.Points(100, 2, 1);
        var reports = new List<FlowTrainingProgress>();
        var result = FlowTrainer.Train(Small, data,
            new FlowTrainingOptions { MaxSteps = 25, BatchSize = 32, EvaluationInterval = 10, EarlyStoppingPatience = 10 }, reports.Add);
        using var flow = result.Flow;
        Assert.Equal(new long[] { 0, 10, 20, 25 }, reports.Select(r => r.Steps));
        Assert.Equal(reports, result.History);
        // Step 0 is the fitted Gaussian: validated, but no training loss yet.
        Assert.True(double.IsNaN(reports[0].TrainingLoss));
        Assert.All(reports.Skip(1), r => Assert.True(double.IsFinite(r.TrainingLoss)));
        Assert.All(reports, r => Assert.True(r.ValidationLoss is double v && double.IsFinite(v)));
    }

    [Fact]
    public void MaxStepsCapsTraining()
    {
        using var data = TestFlows.Points(100, 2, 1);
        var result = FlowTrainer.Train(Small, data, new FlowTrainingOptions { MaxSteps = 25, BatchSize = 10, ValidationFraction = 0, EvaluationInterval = 10 });
        using var flow = result.Flow;
        Assert.Equal(25, result.History[^1].Steps);
        Assert.Equal(4, result.History.Count);
        Assert.Equal(25, result.BestStep);
        Assert.False(result.StoppedEarly);
    }

    [Fact]
    public void CancellationStopsTrainingBetweenBatches()
    {
        using var data = TestFlows.Points(200, 2, 1);
        using var cancellation = new CancellationTokenSource();
        int reports = 0;
        // The report at step 0 cancels: the first batch must not run.
        Assert.ThrowsAny<OperationCanceledException>(() => FlowTrainer.Train(Small, data,
            new FlowTrainingOptions { MaxSteps = 100, BatchSize = 20, EvaluationInterval = 1 },
            _ => { reports++; cancellation.Cancel(); },
            cancellation.Token));
        Assert.Equal(1, reports);
    }

    [Fact]
    public void EarlyStoppingReturnsTheWeightsOfTheBestTrainedValidationEvaluation()
    {
        // A learning rate this high makes validation loss wander, so the best evaluation is rarely the last.
        using var data = TestFlows.Points(400, 2, 1).Times(3);
        var result = FlowTrainer.Train(Small, data, new FlowTrainingOptions
        {
            MaxSteps = 300, BatchSize = 50, ValidationFraction = 0.25, EvaluationInterval = 10, EarlyStoppingPatience = 3,
            LearningRate = 0.05, Schedule = LearningRateSchedule.Constant,
        });
        using var flow = result.Flow;
        // The best of the trained evaluations (step 0, the Gaussian, is left to the share that is fitted next).
        double best = result.History.Skip(1).Min(r => r.ValidationLoss!.Value);
        Assert.True(result.BestStep > 0);
        int bestIndex = result.History.ToList().FindIndex(r => r.Steps == result.BestStep);
        Assert.Equal(best, result.History[bestIndex].ValidationLoss);
        // The final loss is computed again on the restored weights, with the same momenta.
        Assert.Equal(best, result.ValidationLoss);
        // Stopped by patience (3 evaluations after the best, step 0 included), or, with the Gaussian still the best, at half
        // the budget.
        bool gaussianBest = result.History[0].ValidationLoss <= best;
        Assert.Equal(result.StoppedEarly ? gaussianBest ? 150 : result.History[bestIndex + 3].Steps : 300, result.History[^1].Steps);
    }

    [Fact]
    public void RowsWithNonFiniteValuesAreLeftOutBeforeTraining()
    {
        using var data = TestFlows.Points(200, 2, 1);
        data[17, 0] = tensor(float.NaN);
        data[90, 1] = tensor(float.NegativeInfinity);
        var result = FlowTrainer.Train(Small, data, new FlowTrainingOptions { MaxSteps = 40, BatchSize = 20, ValidationFraction = 0 });
        using var flow = result.Flow;
        Assert.Equal(198, result.TrainingRows);
        // Not gross outliers: those are rows with finite values.
        Assert.Equal(0, result.ExcludedRows);
        Assert.Equal(0, result.History[^1].SkippedBatches);
        Assert.All(flow.buffers().Concat(flow.parameters()), t => Assert.True(t.isfinite().all().item<bool>()));
    }

    [Fact]
    public void PersistentNonFiniteLossFailsWithAClearMessage()
    {
        // A learning rate of 1e30 throws the weights to float's limit on the first step; every loss after it overflows.
        using var data = TestFlows.Points(64, 2, 1);
        var error = Assert.Throws<InvalidOperationException>(() => FlowTrainer.Train(Small, data, new FlowTrainingOptions
        {
            MaxSteps = 50, BatchSize = 8, LearningRate = 1e30, Schedule = LearningRateSchedule.Constant, MaxConsecutiveNonFiniteBatches = 5,
        }));
        Assert.Contains("non-finite", error.Message);
        Assert.Contains("5 consecutive batches", error.Message);
        Assert.Contains(nameof(FlowTrainingOptions.LearningRate), error.Message);
    }

    [Fact]
    public void DataWithNoFiniteRowThrowsBeforeTraining()
    {
        using Scalar nan = float.NaN.ToScalar();
        using var data = full(new long[] { 64, 2 }, nan);
        var error = Assert.Throws<ArgumentException>(() => FlowTrainer.Train(Small, data, new FlowTrainingOptions()));
        Assert.Contains("no rows with finite values", error.Message);
    }

    [Fact]
    public void EmptyDataThrows()
    {
        using var data = zeros(0, 2);
        var error = Assert.Throws<ArgumentException>(() => FlowTrainer.Train(Small, data, new FlowTrainingOptions()));
        Assert.Contains("no rows", error.Message);
    }

    [Theory]
    [InlineData(2, 3e-3)]
    [InlineData(16, 3e-3)]
    [InlineData(64, 6e-3)]
    [InlineData(784, 2.1e-2)]
    public void TheDefaultLearningRateIs3e3UpTo16FeaturesAndGrowsAsTheSquareRootOfTheWidthAbove(int dimension, double expected)
    {
        var reported = new List<double>();
        using var data = randn(new long[] { 64, dimension }, generator: new Generator(1));
        using var flow = FlowTrainer.Train(new FlowArchitecture { Dimension = dimension, HiddenLayers = new[] { 8 }, Hamiltonians = 1, LeapfrogSteps = 1 },
            data, new FlowTrainingOptions { MaxSteps = 1, ValidationFraction = 0, Seed = 1 }, p => reported.Add(p.LearningRate)).Flow;
        // The first report is made before any step: the base rate, before the schedule lowers it.
        Assert.Equal(expected, reported[0], 12);
        using var explicitRate = FlowTrainer.Train(new FlowArchitecture { Dimension = dimension, HiddenLayers = new[] { 8 }, Hamiltonians = 1, LeapfrogSteps = 1 },
            data, new FlowTrainingOptions { MaxSteps = 1, ValidationFraction = 0, Seed = 1, LearningRate = 0.5 }, p => reported.Add(p.LearningRate)).Flow;
        Assert.Equal(0.5, reported[^2], 12);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void TheDefaultLearningRateCountsOnlyTheFeaturesThatVaryInTraining(bool streamed)
    {
        // 64 columns of which 28 are constant: the dynamics move 36 coordinates, so the rate is 3e-3 sqrt(36 / 16), not
        // the 6e-3 of 64 varying features (the rule's reason is the energy the potential must reach, and held
        // coordinates carry none). The in-memory and the streamed paths share the rule.
        var reported = new List<double>();
        using var scope = NewDisposeScope();
        using var generator = new Generator(1);
        Tensor data = cat(new[] { randn(new long[] { 64, 36 }, generator: generator), zeros(64, 28) }, 1);
        var architecture = new FlowArchitecture { Dimension = 64, HiddenLayers = new[] { 8 }, Hamiltonians = 1, LeapfrogSteps = 1 };
        var options = new FlowTrainingOptions { MaxSteps = 1, ValidationFraction = 0, Seed = 1 };
        using var flow = streamed
            ? FlowTrainer.Train(architecture, StreamingTrainingTests.ArrayRows.Of(data), options, p => reported.Add(p.LearningRate)).Flow
            : FlowTrainer.Train(architecture, data, options, p => reported.Add(p.LearningRate)).Flow;
        Assert.Equal(28, (int)flow.Gaussian.Varying.Below(1).sum().item<long>());
        Assert.Equal(3e-3 * Math.Sqrt(36.0 / 16), reported[0], 12);
    }

    [Theory]
    [InlineData(1, 2000)]
    [InlineData(2048, 2000)]
    [InlineData(2304, 2300)]
    [InlineData(3072, 3000)]
    [InlineData(4096, 4000)]
    [InlineData(3_000_000, 4000)]
    public void TheDefaultStepBudgetIs2000UpTo2048RowsAndGrowsWithThemToTwiceThat(long rows, long expected) =>
        Assert.Equal(expected, FlowDefaults.MaxStepsFor(rows));

    [Theory]
    [InlineData(false, 1000, 0.0, 2000)]
    [InlineData(false, 20_000, 0.0, 4000)]
    [InlineData(true, 20_000, 0.0, 4000)]
    [InlineData(false, 3200, 0.2, 2500)]
    [InlineData(true, 3200, 0.2, 2500)]
    public void TheTrainerTakesItsDefaultStepBudgetFromTheTrainingRows(bool streamed, int rows, double validationFraction, long budget)
    {
        // The cosine schedule reveals the budget it runs over: the rate reported after step 100 is the one step 99 of
        // the budget used. The fit is cancelled there; its whole budget would take minutes. With 20% held out, the
        // 2,560 rows left count (about 2,560 where the streamed split hashes row ids), not all 3,200 (3,100 steps).
        var reported = new List<FlowTrainingProgress>();
        using var cancellation = new CancellationTokenSource();
        using var scope = NewDisposeScope();
        Tensor data = randn(new long[] { rows, 2 }, generator: new Generator(1));
        var architecture = new FlowArchitecture { Dimension = 2, HiddenLayers = new[] { 4 }, Hamiltonians = 1, LeapfrogSteps = 1 };
        var options = new FlowTrainingOptions { ValidationFraction = validationFraction, Seed = 1 };
        void Report(FlowTrainingProgress progress)
        {
            reported.Add(progress);
            if (progress.Steps == 100)
                cancellation.Cancel();
        }
        Assert.ThrowsAny<OperationCanceledException>(() => streamed
            ? FlowTrainer.Train(architecture, StreamingTrainingTests.ArrayRows.Of(data), options, Report, cancellation.Token)
            : FlowTrainer.Train(architecture, data, options, Report, cancellation.Token));
        double expected = FlowDefaults.LearningRateFor(2) * 0.5 * (1 + Math.Cos(Math.PI * 99 / budget));
        Assert.Equal(expected, reported.Single(p => p.Steps == 100).LearningRate, 12);
    }

    [Theory]
    [InlineData(100, 1000, 0.5, 0.5)]
    [InlineData(600, 1000, 0.5, 0.6)]
    [InlineData(100, 1000, 2.0, 1.0)]
    [InlineData(100, 1000, 0.0, 0.1)]
    public void TheCosineRunsOverWhicheverOfTheStepsAndTheTimeRunsOutFirst(long step, long budget, double timeShare, double progress) =>
        Assert.Equal(0.5 * (1 + Math.Cos(Math.PI * progress)), LearningRateSchedule.Cosine.Factor(step, budget, timeShare), 12);

    [Fact]
    public void WithoutATimeLimitTheCosineIsTheStepBudgetsToTheLastBit()
    {
        // Fits without a limit keep the exact rates every earlier result was measured with: PI * step / budget, in that order.
        for (long step = 0; step < 2000; step++)
            Assert.Equal(0.5 * (1 + Math.Cos(Math.PI * step / 2000)), LearningRateSchedule.Cosine.Factor(step, 2000));
    }

    [Theory]
    [InlineData(5.0, 10.0, 0.5)]
    [InlineData(20.0, 10.0, 2.0)]
    [InlineData(5.0, null, 0.0)]
    [InlineData(0.0, 0.0, 1.0)]
    public void TheTimeShareIsTheElapsedOverTheLimitAndZeroWithoutOne(double elapsedSeconds, double? limitSeconds, double expected)
    {
        TimeSpan? limit = limitSeconds is double seconds ? TimeSpan.FromSeconds(seconds) : null;
        Assert.Equal(expected, LearningRateScheduleExtensions.TimeShare(TimeSpan.FromSeconds(elapsedSeconds), limit), 12);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void TrainingEndsAtTheTimeLimitWithItsLastStepEvaluated(bool streamed)
    {
        // A limit of zero runs out at the first step, whatever the machine: that step is evaluated and the fit ends there,
        // not at its budget of a million steps. No rows are held out, so no early-stopping rule takes part.
        using var data = TestFlows.Points(256, 2, 1);
        var architecture = new FlowArchitecture { Dimension = 2, HiddenLayers = new[] { 4 }, Hamiltonians = 1, LeapfrogSteps = 1 };
        var options = new FlowTrainingOptions { MaxSteps = 1_000_000, MaxTrainingTime = TimeSpan.Zero, ValidationFraction = 0, Seed = 1 };
        var result = streamed
            ? FlowTrainer.Train(architecture, StreamingTrainingTests.ArrayRows.Of(data), options)
            : FlowTrainer.Train(architecture, data, options);
        using var flow = result.Flow;
        Assert.True(result.ReachedTimeLimit);
        Assert.False(result.StoppedEarly);
        Assert.Equal(new long[] { 0, 1 }, result.History.Select(p => p.Steps));
        Assert.Equal(1, result.BestStep);
        // The schedule ran over the time, so its one step was taken at the rate's end, not at the start of a cosine over
        // a million steps.
        Assert.Equal(0, result.History[1].LearningRate, 12);
    }
}
