using System.Security.Cryptography;
using Microsoft.ML.Data;
using Microsoft.ML.HamiltonianFlows.Torch;
using Microsoft.ML.HamiltonianFlows.Training;
using Xunit;
using Xunit.Abstractions;
using static Microsoft.ML.HamiltonianFlows.Tests.HamiltonianFlowTransformerTests;

namespace Microsoft.ML.HamiltonianFlows.Tests;

[Collection(TorchGlobalGeneratorCollection.Name)]
public class StreamingTrainingTests
{
    private static readonly FlowArchitecture Small = new() { Dimension = 2, HiddenLayers = new[] { 16, 16 }, LeapfrogSteps = 4 };

    private readonly ITestOutputHelper output;

    public StreamingTrainingTests(ITestOutputHelper output) => this.output = output;

    /// <summary>Rows in an array, read as a stream: storage order, or a permutation drawn from the seed.</summary>
    private sealed class ArrayRows : StreamedRows
    {
        private readonly float[][] rows;

        public ArrayRows(float[][] rows) => this.rows = rows;

        public int Passes { get; private set; }

        public override int Dimension => rows[0].Length;

        public override IEnumerable<StreamedRow> Read(int? shuffleSeed)
        {
            Passes++;
            var order = Enumerable.Range(0, rows.Length).ToArray();
            if (shuffleSeed is int seed)
                new Random(seed).Shuffle(order);
            foreach (int i in order)
                yield return new StreamedRow((ulong)i, rows[i]);
        }
    }

    private static string Hash(byte[] bytes) => Convert.ToHexString(SHA256.HashData(bytes));

    // Captured from the code before streaming was added (commit 1002ac2): the in-memory path must not move a bit. The
    // weights are hashed as the version-1 format wrote them then.
    [Fact]
    public void InMemoryTrainingGivesTheWeightsAndScoresOfBeforeStreaming()
    {
        using var data = TestFlows.Points(300, 2, 1);
        var options = new FlowTrainingOptions { Epochs = 3, BatchSize = 64, Seed = 5, ValidationFraction = 0.2, MinimumRelativeScale = 0.5 };
        using var flow = FlowTrainer.Train(Small, data, options).Flow;
        using var weights = new MemoryStream();
        FlowWeightsFormat.Save(flow, weights);
        Assert.Equal("D54C4BCBEDD88150C44881179647EDD21CDB2CCE498D5782A8015CC4E982B28F", Hash(FlowWeightsFormatTests.AsVersionOne(weights.ToArray())));

        var ml = new MLContext(seed: 1);
        var model = ml.Transforms.HamiltonianFlow(SmallOptions()).Fit(ml.Data.LoadFromEnumerable(Clusters(400, 1)));
        var scores = model.Transform(ml.Data.LoadFromEnumerable(Clusters(50, 2))).GetColumn<float>("LogLikelihood");
        string bits = string.Join(",", scores.Select(BitConverter.SingleToInt32Bits));
        Assert.Equal("3D07E67E66EF4CA06A2E4A058FE7D85605440850E8E2E06ADA845F199E7345D9", Hash(System.Text.Encoding.UTF8.GetBytes(bits)));
    }

    [Fact]
    public void StreamedEngineTrainingHasFiniteLossesAndHonoursEpochsAndMaxSteps()
    {
        using var points = TestFlows.Points(500, 2, 3);
        var rows = points.data<float>().ToArray().Chunk(2).Append(new[] { float.NaN, 1f }).ToArray();
        var source = new ArrayRows(rows);
        var options = new FlowTrainingOptions { Epochs = 3, BatchSize = 50, Seed = 2, ValidationFraction = 0.2 };

        var result = FlowTrainer.Train(Small, source, options);
        using (result.Flow)
        {
            Assert.Equal(new[] { 1, 2, 3 }, result.History.Select(p => p.Epoch));
            Assert.All(result.History, p => Assert.True(double.IsFinite(p.TrainingLoss) && p.ValidationLoss is double v && double.IsFinite(v)));
            // About 400 of the 500 finite rows train: 8 or 9 batches of 50 an epoch.
            long steps = result.History[^1].Steps;
            Assert.InRange(steps, 3 * 8, 3 * 9);
            Assert.Equal(0, steps % 3);
            Assert.Equal(4, source.Passes);
            Assert.True(result.Flow.Standardizer.Scale.to(ScalarTypeFloat64).data<double>().All(double.IsFinite));
        }

        var capped = FlowTrainer.Train(Small, new ArrayRows(rows), options with { ValidationFraction = 0, Epochs = 50, MaxSteps = 7 });
        using (capped.Flow)
            Assert.Equal(7, capped.History[^1].Steps);
    }

    [Fact]
    public void StreamedStandardisationMatchesTheTensorFitOnTheFiniteRows()
    {
        using var points = TestFlows.Points(400, 2, 4);
        using var shifted = points * 5 + 3;
        var rows = shifted.data<float>().ToArray().Chunk(2).ToArray();
        var options = new FlowTrainingOptions { Epochs = 1, MaxSteps = 1, Seed = 1, MinimumRelativeScale = 0.5 };
        using var streamed = FlowTrainer.Train(Small, new ArrayRows(rows.Append(new[] { 1f, float.PositiveInfinity }).ToArray()), options).Flow;
        using var inMemory = FlowTrainer.Train(Small, shifted, options).Flow;

        // Welford in double against torch's float reductions: equal to float rounding, not bit for bit.
        AssertClose(inMemory.Standardizer.Mean.data<float>().ToArray(), streamed.Standardizer.Mean.data<float>().ToArray());
        AssertClose(inMemory.Standardizer.Scale.data<float>().ToArray(), streamed.Standardizer.Scale.data<float>().ToArray());
    }

    private static void AssertClose(float[] expected, float[] actual)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= 1e-5 * Math.Abs(expected[i]) + 1e-6, $"{expected[i]} vs {actual[i]} at {i}");
    }

    private static readonly TorchSharp.torch.ScalarType ScalarTypeFloat64 = TorchSharp.torch.ScalarType.Float64;

    private static float[] Fit(Func<MLContext, IDataView> load, double budget, IEnumerable<Point> test)
    {
        var ml = new MLContext(seed: 1);
        var options = SmallOptions();
        options.MemoryBudgetMegabytes = budget;
        options.ValidationFraction = 0.1;
        // Trained close to convergence (test mean about -1.5 nats) so that what the two paths share, the data and
        // the model, decides the score: after SmallOptions' 8 epochs the seed alone moves it by more than a nat.
        options.Epochs = 20;
        options.LearningRate = 1e-2;
        options.BatchSize = 100;
        var model = ml.Transforms.HamiltonianFlow(options).Fit(load(ml));
        return model.Transform(ml.Data.LoadFromEnumerable(test)).GetColumn<float>("LogLikelihood").ToArray();
    }

    [Fact]
    public void StreamedTrainingOnAViewLargerThanTheBudgetMatchesInMemoryTrainingAndIsDeterministic()
    {
        var train = Clusters(3000, 1).Append(new Point { Features = new[] { float.NaN, 0f } }).ToArray();
        var test = Clusters(500, 7);
        // A cached view shuffles itself; a view of an enumerable cannot, and is shuffled through a pool.
        Func<MLContext, IDataView> shuffleable = ml => ml.Data.Cache(ml.Data.LoadFromEnumerable(train));
        Func<MLContext, IDataView> sequential = ml => ml.Data.LoadFromEnumerable(train);
        var context = new MLContext();
        Assert.True(shuffleable(context).CanShuffle);
        Assert.False(sequential(context).CanShuffle);

        float inMemory = Fit(shuffleable, 1024, test).Average();
        var streamed = Fit(shuffleable, 0.01, test);
        var pooled = Fit(sequential, 0.01, test);
        output.WriteLine($"mean test log-likelihood: in memory {inMemory}, streamed {streamed.Average()}, pooled {pooled.Average()}");

        // Seeds 3 to 5 put both streamed variants within 0.1 nats of in-memory training.
        Assert.InRange(streamed.Average(), inMemory - 0.15, inMemory + 0.15);
        Assert.InRange(pooled.Average(), inMemory - 0.15, inMemory + 0.15);
        Assert.Equal(streamed, Fit(shuffleable, 0.01, test));
        Assert.Equal(pooled, Fit(sequential, 0.01, test));
    }

    [Fact]
    public void StreamedAnomalyDetectorScoresItsTrainingRowsInBlocks()
    {
        var ml = new MLContext(seed: 1);
        var options = SmallOptions();
        options.MemoryBudgetMegabytes = 0.01;
        var data = ml.Data.LoadFromEnumerable(Clusters(1500, 1).Append(new Point { Features = new[] { 30f, -30f } }));
        var detector = ml.AnomalyDetection.Trainers.HamiltonianFlow(options, contamination: 0.01).Fit(data);
        var labels = detector.Transform(data).GetColumn<bool>("PredictedLabel").ToArray();
        Assert.True(labels[^1]);
        Assert.InRange(labels.Count(l => l), 1, 40);
    }

    [Fact]
    public void MemoryBudgetMustBePositive()
    {
        var options = SmallOptions();
        options.MemoryBudgetMegabytes = 0;
        Assert.Throws<ArgumentException>(() => new MLContext().Transforms.HamiltonianFlow(options));
    }
}
