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

    [Fact]
    public void LoadRejectsForeignTruncatedAndNewerStreams()
    {
        using var flow = Trained(new FlowArchitecture { Dimension = 2, HiddenLayers = new[] { 8 } });
        using var stream = new MemoryStream();
        FlowWeightsFormat.Save(flow, stream);
        byte[] bytes = stream.ToArray();

        var foreign = Assert.Throws<InvalidDataException>(() => FlowWeightsFormat.Load(new MemoryStream("PK\u0003\u0004 not weights"u8.ToArray())));
        Assert.Contains("NHFW", foreign.Message);

        byte[] newer = (byte[])bytes.Clone();
        BitConverter.GetBytes(FlowWeightsFormat.CurrentVersion + 1).CopyTo(newer, 4);
        var version = Assert.Throws<InvalidDataException>(() => FlowWeightsFormat.Load(new MemoryStream(newer)));
        Assert.Contains($"version {FlowWeightsFormat.CurrentVersion + 1}", version.Message);
        Assert.Contains($"version {FlowWeightsFormat.CurrentVersion}", version.Message);

        foreach (int length in new[] { 6, 20, bytes.Length / 2, bytes.Length - 1 })
            Assert.Throws<InvalidDataException>(() => FlowWeightsFormat.Load(new MemoryStream(bytes, 0, length)));
    }
}
