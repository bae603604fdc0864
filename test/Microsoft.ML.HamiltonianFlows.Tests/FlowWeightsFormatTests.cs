using Microsoft.ML.HamiltonianFlows.Torch;
using Microsoft.ML.HamiltonianFlows.Training;
using Xunit;
using static TorchSharp.torch;

namespace Microsoft.ML.HamiltonianFlows.Tests;

public class FlowWeightsFormatTests
{
    private static HamiltonianFlow Trained(FlowArchitecture architecture)
    {
        using var data = TestFlows.Points(200, architecture.Dimension, 1) * 2 + 1;
        return FlowTrainer.Train(architecture, data, new FlowTrainingOptions { Epochs = 2, BatchSize = 50 }).Flow;
    }

    public static IEnumerable<object[]> Architectures() => new[]
    {
        new object[] { new FlowArchitecture { Dimension = 2, HiddenLayers = new[] { 8, 8 } } },
        new object[] { new FlowArchitecture { Dimension = 3, HiddenLayers = new[] { 8 }, EncoderHiddenLayers = new[] { 5, 6 }, Kinetic = KineticEnergyKind.Neural, Hamiltonians = 2, Activation = Activation.Tanh, LearnStepSize = false } },
        new object[] { new FlowArchitecture { Dimension = 2, HiddenLayers = new[] { 8 }, Mass = MassKind.LearnedDiagonal, Precision = ScalarType.Float64, StandardizedScale = 0.7, Standardize = false } },
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

    // Version 2: "NHFW", int version, long payload length, payload, 32-byte SHA-256 of the payload.
    private const int PayloadOffset = 16;

    /// <summary>What the version-1 writer wrote for the same flow: "NHFW", int 1, then the same payload.</summary>
    private static byte[] AsVersionOne(byte[] versionTwo) =>
        "NHFW"u8.ToArray().Concat(BitConverter.GetBytes(1)).Concat(versionTwo[PayloadOffset..^32]).ToArray();

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
        Assert.Contains($"version {FlowWeightsFormat.CurrentVersion}", version.Message);
        Assert.Contains("version 1", version.Message);

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

    [Fact]
    public void VersionOneFilesStillLoad()
    {
        // Written by the version-1 writer (commit af336f8): Dimension 2, HiddenLayers [6], LeapfrogSteps 2, 2 epochs.
        byte[] v1 = File.ReadAllBytes(Path.Combine(AppContext.BaseDirectory, "Resources", "flow-v1.nhfw"));
        Assert.Equal(1, BitConverter.ToInt32(v1, 4));

        using var loaded = FlowWeightsFormat.Load(new MemoryStream(v1));

        Assert.Equal(new FlowArchitecture { Dimension = 2, HiddenLayers = loaded.Architecture.HiddenLayers, LeapfrogSteps = 2 }, loaded.Architecture);
        Assert.Equal(new[] { 6 }, loaded.Architecture.HiddenLayers);
        // Version 2 wraps the same payload (architecture and torch state) in a length and a checksum.
        Assert.Equal(v1, AsVersionOne(Saved(loaded)));
    }

    [Fact]
    public void SavingToAPathReplacesTheFileWholeAndLoadingNamesTheFile()
    {
        using var flow = Trained(new FlowArchitecture { Dimension = 2, HiddenLayers = new[] { 8 } });
        var folder = Directory.CreateTempSubdirectory("nhf-weights-");
        try
        {
            string path = Path.Combine(folder.FullName, "flow.nhfw");
            File.WriteAllText(path, "an older file");
            FlowWeightsFormat.Save(flow, path);
            Assert.Equal(Saved(flow), File.ReadAllBytes(path));
            Assert.Single(folder.GetFiles());
            using (var loaded = FlowWeightsFormat.Load(path))
                Assert.Equal(TestFlows.Weights(flow)["standardizer.scale"], TestFlows.Weights(loaded)["standardizer.scale"]);

            File.WriteAllBytes(path, Saved(flow)[..100]);
            var e = Assert.Throws<InvalidDataException>(() => FlowWeightsFormat.Load(path));
            Assert.Contains(path, e.Message);
            Assert.Contains("truncated", e.Message);
        }
        finally
        {
            folder.Delete(recursive: true);
        }
    }
}
