using System.Globalization;
using Microsoft.ML.HamiltonianFlows.Torch;
using Microsoft.ML.HamiltonianFlows.Training;
using Xunit;
using static TorchSharp.torch;

namespace Microsoft.ML.HamiltonianFlows.Tests;

public class FlowWeightsFormatTests
{
    private static HamiltonianFlow Trained(FlowArchitecture architecture)
    {
        // Correlated, off-centre data: the fitted Gaussian stage is far from the identity it starts as.
        using var scope = NewDisposeScope();
        Tensor points = TestFlows.Points(200, architecture.Dimension, 1, architecture.Precision);
        Tensor data = points.Times(2).Plus(1).Plus(points.sum(1, keepdim: true).Times(0.8));
        return FlowTrainer.Train(architecture, data, new FlowTrainingOptions { MaxSteps = 6, BatchSize = 50 }).Flow;
    }

    public static IEnumerable<object[]> Architectures() => new[]
    {
        new object[] { new FlowArchitecture { Dimension = 2, HiddenLayers = new[] { 8, 8 } } },
        new object[] { new FlowArchitecture { Dimension = 3, HiddenLayers = new[] { 8 }, EncoderHiddenLayers = new[] { 5, 6 }, Kinetic = KineticEnergyKind.Neural, Hamiltonians = 2, Activation = Activation.Tanh, LearnStepSize = false } },
        new object[] { new FlowArchitecture { Dimension = 2, HiddenLayers = new[] { 8 }, Mass = MassKind.LearnedDiagonal, Precision = ScalarType.Float64, Covariance = CovarianceKind.Diagonal } },
        new object[] { new FlowArchitecture { Dimension = 24, HiddenLayers = new[] { 8 }, Covariance = CovarianceKind.LowRank } },
    };

    [Theory]
    [MemberData(nameof(Architectures))]
    public void SaveThenLoadReproducesArchitectureWeightsAndOutputs(FlowArchitecture architecture)
    {
        using var flow = Trained(architecture);
        using var stream = new MemoryStream();
        FlowWeightsFormat.Save(flow, stream);
        stream.Position = 0;
        using var loaded = FlowWeightsFormat.Load(stream);

        Assert.Equal(stream.Length, stream.Position);
        Assert.Equal(architecture.HiddenLayers, loaded.Architecture.HiddenLayers);
        Assert.Equal(architecture with { HiddenLayers = loaded.Architecture.HiddenLayers, EncoderHiddenLayers = loaded.Architecture.EncoderHiddenLayers }, loaded.Architecture);
        var original = TestFlows.Weights(flow);
        var copy = TestFlows.Weights(loaded);
        Assert.Equal(original.Keys, copy.Keys);
        foreach (string key in original.Keys)
            Assert.Equal(original[key], copy[key]);
        // The Gaussian stage's buffers are among them, fitted: a full stage's factor and its inverse, a diagonal one's none.
        bool full = architecture.ResolvedCovariance == CovarianceKind.Full;
        Assert.Equal(full, original.ContainsKey("gaussian.factor") && original.ContainsKey("gaussian.inverseFactor"));
        Assert.DoesNotContain(original["gaussian.scale"], s => s == 1);
        if (full)
            Assert.True(Math.Abs(original["gaussian.factor"][architecture.Dimension]) > 0.1, "L[1, 0]: the fitted correlation should be far from 0");
        // A low-rank stage's basis, its scales and the residual scale; the rows share one strong direction, so the rank is not 0.
        bool lowRank = architecture.ResolvedCovariance == CovarianceKind.LowRank;
        Assert.Equal(lowRank, original.ContainsKey("gaussian.basis") && original.ContainsKey("gaussian.basisScale") && original.ContainsKey("gaussian.residualScale"));
        if (lowRank)
        {
            Assert.True(flow.Gaussian.Rank > 0);
            Assert.Equal(flow.Gaussian.Rank, loaded.Gaussian.Rank);
        }
        Assert.Equal(architecture.ResolvedCovariance, loaded.Gaussian.Covariance);

        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        Tensor x = TestFlows.Points(20, architecture.Dimension, 2, architecture.Precision);
        using var g1 = new Generator(3);
        using var g2 = new Generator(3);
        Assert.Equal(0, TestFlows.MaxAbs(flow.LogLikelihood(x, 4, g1) - loaded.LogLikelihood(x, 4, g2)));
        Assert.Equal(0, TestFlows.MaxAbs(flow.Sample(10, g1).Q - loaded.Sample(10, g2).Q));
    }

    private static byte[] Saved(HamiltonianFlow flow)
    {
        using var stream = new MemoryStream();
        FlowWeightsFormat.Save(flow, stream);
        return stream.ToArray();
    }

    // "NHFW", int version, long payload length, payload, 32-byte SHA-256 of the payload.
    private const int PayloadOffset = 16;

    [Fact]
    public void LoadRejectsForeignTruncatedAndNewerStreams()
    {
        using var flow = Trained(new FlowArchitecture { Dimension = 2, HiddenLayers = new[] { 8 } });
        byte[] bytes = Saved(flow);

        var foreign = Assert.Throws<InvalidDataException>(() => FlowWeightsFormat.Load(new MemoryStream("PK\u0003\u0004 not weights"u8.ToArray())));
        Assert.Contains("NHFW", foreign.Message);

        byte[] newer = (byte[])bytes.Clone();
        BitConverter.GetBytes(FlowWeightsFormat.CurrentVersion + 1).CopyTo(newer, 4);
        var version = Assert.Throws<InvalidDataException>(() => FlowWeightsFormat.Load(new MemoryStream(newer)));
        Assert.Contains($"version {FlowWeightsFormat.CurrentVersion + 1}", version.Message);
        Assert.Contains($"versions 3 to {FlowWeightsFormat.CurrentVersion}", version.Message);

        Assert.Contains("corrupt header", Assert.Throws<InvalidDataException>(() => FlowWeightsFormat.Load(new MemoryStream(bytes, 0, 6))).Message);
        foreach (int length in new[] { 20, bytes.Length / 2, bytes.Length - 1 })
            Assert.Contains("truncated", Assert.Throws<InvalidDataException>(() => FlowWeightsFormat.Load(new MemoryStream(bytes, 0, length))).Message);
    }

    [Fact]
    public void AnyFlippedBitOfTheWeightsOrTheirChecksumFailsTheChecksum()
    {
        using var flow = Trained(new FlowArchitecture { Dimension = 2, HiddenLayers = new[] { 8 } });
        byte[] bytes = Saved(flow);
        var random = new Random(1);
        for (int i = 0; i < 200; i++)
        {
            int bit = PayloadOffset * 8 + random.Next((bytes.Length - PayloadOffset) * 8);
            byte[] flipped = (byte[])bytes.Clone();
            flipped[bit / 8] ^= (byte)(1 << (bit % 8));
            var e = Assert.Throws<InvalidDataException>(() => FlowWeightsFormat.Load(new MemoryStream(flipped)));
            Assert.Contains("SHA-256", e.Message);
        }
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    [InlineData(null)]
    public void TheWellsChoiceIsSavedWithTheWeights(bool? wells)
    {
        using var flow = Trained(new FlowArchitecture { Dimension = 2, HiddenLayers = new[] { 8 }, SeparableWells = wells });
        // Null resolves by the dimension: two features get none.
        Assert.Equal(wells == true ? 3 * flow.Architecture.Hamiltonians : 0, flow.state_dict().Keys.Count(key => key.Contains(".well_")));
        using var loaded = FlowWeightsFormat.Load(new MemoryStream(Saved(flow)));
        Assert.Equal(wells, loaded.Architecture.SeparableWells);
        Assert.Equal(TestFlows.Weights(flow), TestFlows.Weights(loaded));
    }

    [Fact]
    public void AnUnknownWellsFlagIsACorruptHeader()
    {
        using var flow = Trained(new FlowArchitecture { Dimension = 2, HiddenLayers = new[] { 8 } });
        byte[] bytes = Saved(flow);
        // The flag is the header's last field: after d, the layers (count, width), no encoder layers, activation, kinetic,
        // mass, L, eps (8 bytes), learned eps (1), Hamiltonians, covariance and precision. The checksum is recomputed, so
        // only the header's own check can catch it.
        const int flag = PayloadOffset + 4 + 4 + 4 + 1 + 4 * 4 + 8 + 1 + 3 * 4;
        Assert.Equal(0, bytes[flag]);
        bytes[flag] = 7;
        System.Security.Cryptography.SHA256.HashData(bytes.AsSpan(PayloadOffset, bytes.Length - PayloadOffset - 32)).CopyTo(bytes, bytes.Length - 32);
        var e = Assert.Throws<InvalidDataException>(() => FlowWeightsFormat.Load(new MemoryStream(bytes)));
        Assert.Contains("corrupt header", e.Message);
        Assert.Contains("separable wells flag is 7", e.Message);
    }

    [Theory]
    [InlineData(3)] // written by commit 9e67f1c
    [InlineData(4)] // written by commit 3164c00
    [InlineData(5)] // written by commit af524fe
    [InlineData(6)] // written by commit eefb36e, from rows whose feature 1 is constant
    [InlineData(7)] // written by commit 1250e53, from rows whose feature 1 is constant and feature 2 a count
    public void EarlierVersionFilesLoadAsTheFlowsTheyWereAndScoreAsTheyDid(int version)
    {
        // Each file was written by the commit named above, with its rows, the noise and the log-likelihoods it computed beside it.
        using var old = LoadResource(version);
        // Before version 5 no potential had wells (the version-5 and 6 flows, of 2 and 3 features, have none either: wells
        // start at 65 features); before version 6 every Gaussian stage had an infinite tail (so has the version-6 flow's:
        // its fit kept the Gaussian's); before version 7 the dynamics moved every coordinate, a constant feature's too (the
        // version-7 flow holds its constant feature); before version 8 no flow had a kernel density.
        Assert.False(old.Architecture.ResolvedSeparableWells);
        Assert.DoesNotContain(old.state_dict().Keys, key => key.Contains("well_"));
        Assert.True(double.IsPositiveInfinity(old.Gaussian.Tail));
        Assert.Equal(version >= 7, old.Gaussian.HasConstantFeatures);
        Assert.Null(old.KernelDensity);

        // Float32 on another CPU may round differently in the last bits; a changed model moves these by far more. A
        // tolerance, not rounding to 3 decimals: rounding fails on a last-bit difference that straddles a boundary.
        foreach (var (expected, actual) in ScoresOfTheResourceRows(old, version))
            Assert.Equal(expected, actual, 1e-3);
    }

    // The flow in Resources/flow-v{version}.nhfw, whose header must say that version.
    private static HamiltonianFlow LoadResource(int version)
    {
        byte[] file = File.ReadAllBytes(Path.Combine(AppContext.BaseDirectory, "Resources", $"flow-v{version}.nhfw"));
        Assert.Equal(version, BitConverter.ToInt32(file, 4));
        return FlowWeightsFormat.Load(new MemoryStream(file));
    }

    // The log-likelihoods the commit that wrote flow-v{version}.nhfw computed for the rows beside it, with the noise beside
    // it, and those the loaded flow computes now.
    private static IEnumerable<(double Expected, double Actual)> ScoresOfTheResourceRows(HamiltonianFlow old, int version)
    {
        string resources = Path.Combine(AppContext.BaseDirectory, "Resources");
        var lines = File.ReadLines(Path.Combine(resources, $"flow-v{version}-scores.csv")).Where(l => !l.StartsWith('#'))
            .Select(l => l.Split(',').Select(v => double.Parse(v, CultureInfo.InvariantCulture)).ToArray()).ToArray();
        float[] noiseValues = File.ReadLines(Path.Combine(resources, $"flow-v{version}-noise.csv")).Where(l => !l.StartsWith('#'))
            .Select(v => float.Parse(v, CultureInfo.InvariantCulture)).ToArray();
        int d = old.Dimension;
        Assert.All(lines, line => Assert.Equal(d + 1, line.Length));
        using var rows = tensor(lines.SelectMany(l => l.Take(d).Select(v => (float)v)).ToArray(), new long[] { lines.Length, d });
        using var noise = tensor(noiseValues, new long[] { 4, lines.Length, old.NoiseWidth });
        using var noGrad = no_grad();
        double[] scores = old.LogLikelihood(rows, noise).to(ScalarType.Float64).data<double>().ToArray();
        return lines.Select((line, i) => (line[d], scores[i])).ToArray();
    }

    [Fact]
    public void AVersion8FileOfMoreThan1024FeaturesLoadsAsTheDiagonalGaussianItWasAndScoresAsItDid()
    {
        // Written by commit 839382f, where Automatic meant a diagonal Gaussian above 1,024 features (a low rank since
        // version 9): 1,100 features sharing one factor, so a low-rank stage would score its rows otherwise.
        using var old = LoadResource(8);
        Assert.Equal(1100, old.Dimension);
        Assert.Equal(CovarianceKind.Diagonal, old.Architecture.Covariance);
        Assert.Equal(CovarianceKind.Diagonal, old.Gaussian.Covariance);
        Assert.Equal(CovarianceKind.LowRank, (old.Architecture with { Covariance = CovarianceKind.Automatic }).ResolvedCovariance);

        // Sums over 1,100 float32 features: a tolerance of a few parts in a million of the score.
        foreach (var (expected, actual) in ScoresOfTheResourceRows(old, 8))
            Assert.Equal(expected, actual, 1e-5 * Math.Abs(expected));
    }

    [Theory]
    [InlineData(5, "gaussian.tail")]
    [InlineData(6, "gaussian.varying")]
    public void AnEarlierVersionFileHoldingTensorsAddedSinceIsCorrupt(int version, string added)
    {
        // The tail's tensors came with version 6, the mask of varying features with version 7: an earlier header over them
        // is not a file any writer made.
        using var flow = Trained(new FlowArchitecture { Dimension = 2, HiddenLayers = new[] { 8 } });
        byte[] bytes = Saved(flow);
        Assert.Equal(FlowWeightsFormat.CurrentVersion, BitConverter.ToInt32(bytes, 4));
        BitConverter.GetBytes(version).CopyTo(bytes, 4);
        var e = Assert.Throws<InvalidDataException>(() => FlowWeightsFormat.Load(new MemoryStream(bytes)));
        Assert.Contains($"version {version} hold the tensors", e.Message);
        Assert.Contains(added, e.Message);
    }

    [Fact]
    public void VersionOneAndTwoFilesAreRefusedAskingForTheModelToBeTrainedAgain()
    {
        // Version 1 from the version-1 writer (commit af336f8); version 2 inside a model of the previous release
        // (commit 61cc9b2, see PreviousReleaseModelTests). Both hold flows with a standardiser.
        string resources = Path.Combine(AppContext.BaseDirectory, "Resources");
        byte[] v1 = File.ReadAllBytes(Path.Combine(resources, "flow-v1.nhfw"));
        byte[] v2 = ModelZip.Entry(File.ReadAllBytes(Path.Combine(resources, "density-model-previous-release.zip")), "FlowWeights");
        foreach (var (bytes, version) in new[] { (v1, 1), (v2, 2) })
        {
            Assert.Equal(version, BitConverter.ToInt32(bytes, 4));
            var e = Assert.Throws<InvalidDataException>(() => FlowWeightsFormat.Load(new MemoryStream(bytes)));
            Assert.Contains($"format version {version},", e.Message);
            Assert.Contains($"reads versions 3 to {FlowWeightsFormat.CurrentVersion} only", e.Message);
            Assert.Contains("Train the model again", e.Message);
        }
    }

    [Fact]
    public void SavingToAPathReplacesTheFileWholeAndLoadingNamesTheFile()
    {
        using var flow = Trained(new FlowArchitecture { Dimension = 2, HiddenLayers = new[] { 8 } });
        using var folder = new TemporaryFolder("nhf-weights-");
        string path = Path.Combine(folder.FullName, "flow.nhfw");
        File.WriteAllText(path, "an older file");
        FlowWeightsFormat.Save(flow, path);
        Assert.Equal(Saved(flow), File.ReadAllBytes(path));
        Assert.Single(Directory.GetFiles(folder.FullName));
        using (var loaded = FlowWeightsFormat.Load(path))
            Assert.Equal(TestFlows.Weights(flow)["gaussian.factor"], TestFlows.Weights(loaded)["gaussian.factor"]);

        File.WriteAllBytes(path, Saved(flow)[..100]);
        var e = Assert.Throws<InvalidDataException>(() => FlowWeightsFormat.Load(path));
        Assert.Contains(path, e.Message);
        Assert.Contains("truncated", e.Message);
    }
}
