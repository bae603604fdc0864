using Microsoft.ML.Data;
using Microsoft.ML.HamiltonianFlows.Torch;
using Microsoft.ML.HamiltonianFlows.Training;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace Microsoft.ML.HamiltonianFlows.Tests;

/// <summary>
/// The kernel density a fit may mix into the flow's density: its law, its choice on held-out rows, its samples, its file,
/// and the option that keeps training rows out of the model.
/// </summary>
[Collection(TorchGlobalGeneratorCollection.Name)]
public class KernelDensityTests
{
    private static readonly double LogTwoPi = Math.Log(2 * Math.PI);

    private static Tensor Values(long rows, long columns, params double[] values) => tensor(values, new[] { rows, columns }, ScalarType.Float64);

    [Fact]
    public void TheDensityIsTheMeanOfGaussianKernelsOnTheVaryingCoordinatesAndAStandardNormalOnTheHeldOnes()
    {
        // Two centres in 3-D, the third feature constant in training (held): p(z) = 1/2 sum_i N(z_12; c_i, h^2 I) N(z_3; 0, 1).
        using var centres = Values(2, 3, 1.0, -2.0, 0.0, -0.5, 0.5, 0.0);
        using var moving = tensor(new[] { 1.0, 1.0, 0.0 });
        var kernels = new KernelDensity(centres, moving, width: 0.7, weight: 0.3);
        try
        {
            double[,] points = { { 0.2, -1.1, 0.4 }, { 3.0, 2.0, -1.5 }, { -0.5, 0.5, 0.0 } };
            using var z = Values(3, 3, points.Cast<double>().ToArray());
            double[] actual = kernels.LogDensity(z).data<double>().ToArray();
            for (int r = 0; r < 3; r++)
            {
                double sum = 0;
                for (int i = 0; i < 2; i++)
                {
                    double squared = 0;
                    for (int j = 0; j < 2; j++)
                        squared += Math.Pow(points[r, j] - centres[i, j].item<double>(), 2);
                    sum += Math.Exp(-squared / (2 * 0.7 * 0.7) - 2 * Math.Log(0.7) - LogTwoPi);
                }
                double expected = Math.Log(sum / 2) - 0.5 * (points[r, 2] * points[r, 2] + LogTwoPi);
                Assert.Equal(expected, actual[r], 1e-9);
            }
            Assert.Equal(2, kernels.Count);
            Assert.Equal(0.3, kernels.Weight);
        }
        finally
        {
            kernels.Release();
        }
    }

    [Fact]
    public void AFlowWithAKernelDensityScoresTheMixtureOfItsModelAndTheKernels()
    {
        using var flow = TestFlows.Build(new FlowArchitecture { Dimension = 2, HiddenLayers = new[] { 8 } });
        flow.Gaussian.Set(new[] { 1.0, -2.0 }, new[] { 2.0, 0.5 }, new[,] { { 1.0, 0.0 }, { 0.6, 0.8 } }, FeatureCells.None(2));
        flow.SetGaussianWeight(0.2);
        using var rows = TestFlows.Points(5, 2, seed: 4).Times(2);
        using var noise = randn(new long[] { 8, 5, flow.NoiseWidth }, generator: new Generator(5));
        using var noGrad = no_grad();
        using Tensor model = flow.LogImportanceWeights(rows, noise).to(ScalarType.Float64);
        using var centres = Values(2, 2, 0.3, -0.2, -1.0, 1.5);
        using var moving = ones(2);
        flow.SetKernelDensity(new KernelDensity(centres, moving, width: 0.4, weight: 0.25));
        using Tensor mixed = flow.LogImportanceWeights(rows, noise).to(ScalarType.Float64);
        // Each importance weight is (1 - beta) w_model + beta p_k(z) |dz/dx|, z the rows' whitened coordinates.
        var (z, logJacobian) = flow.Gaussian.Whiten(rows);
        using Tensor kernels = flow.KernelDensity!.LogDensity(z).Plus(logJacobian).to(ScalarType.Float64);
        using Tensor expected = logaddexp(model.Plus(Math.Log(0.75)), kernels.unsqueeze(0).Plus(Math.Log(0.25)));
        Assert.True(TestFlows.MaxAbs(mixed - expected) < 1e-4, $"largest difference {TestFlows.MaxAbs(mixed - expected)}");
    }

    // Rows of three tight clusters in 4-D, far apart: a smooth flow trained briefly cannot follow them, kernels on the
    // training rows can.
    private static Tensor Clusters(int n, int seed)
    {
        var random = new Random(seed);
        double[][] centres = { new[] { 0.0, 0, 0, 0 }, new[] { 4.0, 4, 0, 0 }, new[] { 0.0, 4, 4, 4 } };
        var values = new float[n * 4];
        for (int i = 0; i < n; i++)
            for (int j = 0; j < 4; j++)
                values[4 * i + j] = (float)(centres[i % 3][j] + 0.1 * random.Gaussian());
        return tensor(values, new long[] { n, 4 });
    }

    private static FlowTrainingOptions Brief(int centres) => new() { MaxSteps = 100, Seed = 2, KernelDensityCentres = centres };

    [Fact]
    public void HeldOutRowsOfTightClustersAskForAKernelDensityAndFreshRowsScoreHigherWithIt()
    {
        var architecture = new FlowArchitecture { Dimension = 4, HiddenLayers = new[] { 16 } };
        using var train = Clusters(150, seed: 1);
        using var fresh = Clusters(300, seed: 2);
        using var with = FlowTrainer.Train(architecture, train, Brief(FlowDefaults.KernelDensityCentres)).Flow;
        using var without = FlowTrainer.Train(architecture, train, Brief(0)).Flow;
        Assert.Null(without.KernelDensity);
        Assert.NotNull(with.KernelDensity);
        // The centres are the 120 rows not held out; the share and width come from the grids.
        Assert.Equal(120, with.KernelDensity!.Count);
        Assert.Contains(with.KernelDensity.Weight, KernelShare.Shares);
        Assert.Contains(with.KernelDensity.Width, KernelShare.Widths);
        using var noGrad = no_grad();
        double gain = (with.LogLikelihood(fresh, 16, new Generator(3)) - without.LogLikelihood(fresh, 16, new Generator(3))).mean().item<float>();
        // Clusters of sd 0.1 four apart: the Gaussian-started flow after 100 steps is far from them (nats per row).
        Assert.True(gain > 1, $"the kernel density gained {gain:F3} nats per fresh row");
    }

    [Fact]
    public void AStreamedFitTakesItsCentresFromTheRowsItTrainsOnUpToTheOption()
    {
        var architecture = new FlowArchitecture { Dimension = 4, HiddenLayers = new[] { 16 } };
        using var train = Clusters(300, seed: 1);
        var rows = StreamingTrainingTests.ArrayRows.Of(train);
        var result = FlowTrainer.Train(architecture, rows, Brief(FlowDefaults.KernelDensityCentres));
        using (result.Flow)
        {
            // Every training row (not held out) is a centre: the held-out rows are the ones the share and width were chosen on.
            Assert.Equal(result.TrainingRows, result.Flow.KernelDensity!.Count);
        }
        var capped = FlowTrainer.Train(architecture, StreamingTrainingTests.ArrayRows.Of(train), Brief(50));
        using (capped.Flow)
            Assert.Equal(50, capped.Flow.KernelDensity!.Count);
    }

    [Fact]
    public void TheDetectorReportsItsKernelDensityKeepsItThroughMLNetSaveAndLoadAndLeavesItOutWhenAsked()
    {
        var ml = new MLContext(seed: 1);
        var train = ml.Data.LoadFromEnumerable(HamiltonianFlowTransformerTests.Clusters(300, 1));
        var test = ml.Data.LoadFromEnumerable(HamiltonianFlowTransformerTests.Clusters(50, 2));
        var detector = ml.AnomalyDetection.Trainers.HamiltonianFlow(HamiltonianFlowTransformerTests.SmallDetectorOptions()).Fit(train);
        // Two narrow clusters and a flow trained for 50 steps: the held-out rows ask for kernels on the 240 rows not held out.
        Assert.Contains(detector.Model.KernelDensityWeight, KernelShare.Shares);
        Assert.Equal(240, detector.Model.KernelDensityCentres);
        using var file = new MemoryStream();
        ml.Model.Save(detector, train.Schema, file);
        file.Position = 0;
        var loaded = (HamiltonianFlowAnomalyTransformer)new MLContext(seed: 5).Model.Load(file, out _);
        Assert.Equal(detector.Model.KernelDensityWeight, loaded.Model.KernelDensityWeight);
        Assert.Equal(240, loaded.Model.KernelDensityCentres);
        Assert.Equal(detector.Transform(test).GetColumn<float>("Score").ToArray(), loaded.Transform(test).GetColumn<float>("Score").ToArray());

        var options = HamiltonianFlowTransformerTests.SmallDetectorOptions();
        options.KernelDensityCentres = 0;
        var without = ml.AnomalyDetection.Trainers.HamiltonianFlow(options).Fit(train);
        Assert.Equal(0, without.Model.KernelDensityWeight);
        Assert.Equal(0, without.Model.KernelDensityCentres);
        foreach (var model in new[] { detector, loaded, without })
            model.Model.Dispose();
    }

    [Fact]
    public void AKernelDensityDrawsNearItsCentresWithTheKernelsSpread()
    {
        using var flow = TestFlows.Build(new FlowArchitecture { Dimension = 2, HiddenLayers = new[] { 8 } });
        flow.Gaussian.Set(new[] { 0.0, 0.0 }, new[] { 1.0, 1.0 }, new[,] { { 1.0, 0.0 }, { 0.0, 1.0 } }, FeatureCells.None(2));
        using var centres = Values(2, 2, 5.0, 0.0, -5.0, 0.0);
        using var moving = ones(2);
        flow.SetKernelDensity(new KernelDensity(centres, moving, width: 0.1, weight: 1));
        using var noGrad = no_grad();
        using Tensor draws = flow.Sample(20000, new Generator(9)).Q.to(ScalarType.Float64);
        // Every draw a centre plus N(0, 0.1^2): |x_1| about 5, x_2 about 0, both with sd 0.1; half on each centre.
        double offset = draws.select(1, 0).abs().Plus(-5).mean().item<double>();
        double spread = draws.select(1, 1).std().item<double>();
        double right = draws.select(1, 0).Above(0).to(ScalarType.Float64).mean().item<double>();
        Assert.True(Math.Abs(offset) < 0.005, $"mean offset from the centres {offset}");
        Assert.True(Math.Abs(spread - 0.1) < 0.005, $"spread {spread}");
        Assert.True(Math.Abs(right - 0.5) < 0.02, $"share of draws on the right centre {right}");
    }

    [Fact]
    public void AFlowWithAKernelDensitySavesAndLoadsItsCentresWidthAndShare()
    {
        var architecture = new FlowArchitecture { Dimension = 4, HiddenLayers = new[] { 16 } };
        using var train = Clusters(150, seed: 1);
        using var flow = FlowTrainer.Train(architecture, train, Brief(FlowDefaults.KernelDensityCentres)).Flow;
        Assert.NotNull(flow.KernelDensity);
        using var file = new MemoryStream();
        FlowWeightsFormat.Save(flow, file);
        file.Position = 0;
        using var loaded = FlowWeightsFormat.Load(file);
        Assert.Equal(flow.KernelDensity!.Count, loaded.KernelDensity!.Count);
        Assert.Equal(flow.KernelDensity.Width, loaded.KernelDensity.Width);
        Assert.Equal(flow.KernelDensity.Weight, loaded.KernelDensity.Weight);
        using var rows = Clusters(20, seed: 5);
        using var noise = randn(new long[] { 4, 20, flow.NoiseWidth }, generator: new Generator(6));
        using var noGrad = no_grad();
        // The same model in the same process: the same scores to the bit.
        Assert.Equal(flow.LogLikelihood(rows, noise).data<float>().ToArray(), loaded.LogLikelihood(rows, noise).data<float>().ToArray());
    }

    [Fact]
    public void NoCentresKeepTheTrainingRowsOutOfTheWeightsFile()
    {
        var architecture = new FlowArchitecture { Dimension = 4, HiddenLayers = new[] { 16 } };
        using var train = Clusters(150, seed: 1);
        using var with = FlowTrainer.Train(architecture, train, Brief(FlowDefaults.KernelDensityCentres)).Flow;
        using var without = FlowTrainer.Train(architecture, train, Brief(0)).Flow;
        using var withFile = new MemoryStream();
        using var withoutFile = new MemoryStream();
        FlowWeightsFormat.Save(with, withFile);
        FlowWeightsFormat.Save(without, withoutFile);
        // 120 centres of 4 float32 values, a width and a share: the only difference in size.
        Assert.Equal(120 * 4 * 4 + 16, withFile.Length - withoutFile.Length);
        withoutFile.Position = 0;
        using var loaded = FlowWeightsFormat.Load(withoutFile);
        Assert.Null(loaded.KernelDensity);
    }

    [Fact]
    public void AWeightsFileClaimingMoreCentresThanItHoldsIsCorrupt()
    {
        var architecture = new FlowArchitecture { Dimension = 4, HiddenLayers = new[] { 16 } };
        using var train = Clusters(150, seed: 1);
        using var flow = FlowTrainer.Train(architecture, train, Brief(FlowDefaults.KernelDensityCentres)).Flow;
        using var file = new MemoryStream();
        FlowWeightsFormat.Save(flow, file);
        byte[] bytes = file.ToArray();
        // The count sits before the width, the share and the centres, which end 32 bytes (the SHA-256) before the file does.
        int count = bytes.Length - 32 - (120 * 4 * 4 + 16) - 8;
        Assert.Equal(120L, BitConverter.ToInt64(bytes, count));
        BitConverter.GetBytes(1_000_000_000L).CopyTo(bytes, count);
        const int payloadOffset = 4 + 4 + 8;
        System.Security.Cryptography.SHA256.HashData(bytes.AsSpan(payloadOffset, bytes.Length - payloadOffset - 32)).CopyTo(bytes, bytes.Length - 32);
        var e = Assert.Throws<InvalidDataException>(() => FlowWeightsFormat.Load(new MemoryStream(bytes)));
        Assert.Contains("1000000000 centres", e.Message);
    }

    [Fact]
    public void TheShareIsChosenOnlyWhereAPairOfTheGridsBeatsTheModelAlone()
    {
        // Three rows where the kernels are far better at the second width, and the same rows where they are far worse.
        using var model = tensor(new[] { -5.0, -5.0, -5.0 });
        var better = new double[KernelShare.Widths.Length * 3];
        for (int i = 0; i < better.Length; i++)
            better[i] = i / 3 == 1 ? -1.0 : -30.0;
        using var kernels = tensor(better, new long[] { KernelShare.Widths.Length, 3 });
        var (width, share) = KernelShare.Fit(model, kernels);
        Assert.Equal(KernelShare.Widths[1], width);
        Assert.Equal(KernelShare.Shares[^1], share);
        using var worse = tensor(Enumerable.Repeat(-30.0, KernelShare.Widths.Length * 3).ToArray(), new long[] { KernelShare.Widths.Length, 3 });
        Assert.Equal(0, KernelShare.Fit(model, worse).Share);
    }
}
