using Microsoft.ML.HamiltonianFlows.Torch;
using Microsoft.ML.HamiltonianFlows.Training;
using Xunit;
using static TorchSharp.torch;

namespace Microsoft.ML.HamiltonianFlows.Tests;

public class OptionValidationTests
{
    public static IEnumerable<object[]> BadArchitectures() => new[]
    {
        new object[] { new FlowArchitecture { Dimension = 0 }, nameof(FlowArchitecture.Dimension) },
        new object[] { new FlowArchitecture { Dimension = 2, StepSize = 0 }, nameof(FlowArchitecture.StepSize) },
        new object[] { new FlowArchitecture { Dimension = 2, StepSize = -0.1 }, nameof(FlowArchitecture.StepSize) },
        new object[] { new FlowArchitecture { Dimension = 2, StepSize = double.NaN }, nameof(FlowArchitecture.StepSize) },
        new object[] { new FlowArchitecture { Dimension = 2, LeapfrogSteps = 0 }, nameof(FlowArchitecture.LeapfrogSteps) },
        new object[] { new FlowArchitecture { Dimension = 2, HiddenLayers = Array.Empty<int>() }, nameof(FlowArchitecture.HiddenLayers) },
        new object[] { new FlowArchitecture { Dimension = 2, HiddenLayers = new[] { 8, 0 } }, nameof(FlowArchitecture.HiddenLayers) },
        new object[] { new FlowArchitecture { Dimension = 2, EncoderHiddenLayers = Array.Empty<int>() }, nameof(FlowArchitecture.EncoderHiddenLayers) },
        new object[] { new FlowArchitecture { Dimension = 2, Hamiltonians = 0 }, nameof(FlowArchitecture.Hamiltonians) },
        new object[] { new FlowArchitecture { Dimension = 2, Precision = ScalarType.Int32 }, nameof(FlowArchitecture.Precision) },
        new object[] { new FlowArchitecture { Dimension = 2, Kinetic = (KineticEnergyKind)7 }, nameof(FlowArchitecture.Kinetic) },
        new object[] { new FlowArchitecture { Dimension = 2, Covariance = (CovarianceKind)7 }, nameof(FlowArchitecture.Covariance) },
    };

    [Theory]
    [MemberData(nameof(BadArchitectures))]
    public void BadArchitectureThrowsNamingTheOption(FlowArchitecture architecture, string option)
    {
        var error = Assert.Throws<ArgumentException>(() => new HamiltonianFlow(architecture));
        Assert.Equal(option, error.ParamName);
        Assert.Contains(option, error.Message);
    }

    public static IEnumerable<object[]> BadTrainingOptions() => new[]
    {
        new object[] { new FlowTrainingOptions { MaxSteps = -1 }, nameof(FlowTrainingOptions.MaxSteps) },
        new object[] { new FlowTrainingOptions { MaxTrainingTime = TimeSpan.FromSeconds(-1) }, nameof(FlowTrainingOptions.MaxTrainingTime) },
        new object[] { new FlowTrainingOptions { WeightDecay = -1e-4 }, nameof(FlowTrainingOptions.WeightDecay) },
        new object[] { new FlowTrainingOptions { WeightDecay = double.NaN }, nameof(FlowTrainingOptions.WeightDecay) },
        new object[] { new FlowTrainingOptions { MaxValidationRows = 0 }, nameof(FlowTrainingOptions.MaxValidationRows) },
        new object[] { new FlowTrainingOptions { EvaluationInterval = 0 }, nameof(FlowTrainingOptions.EvaluationInterval) },
        new object[] { new FlowTrainingOptions { BatchSize = 0 }, nameof(FlowTrainingOptions.BatchSize) },
        new object[] { new FlowTrainingOptions { LearningRate = 0 }, nameof(FlowTrainingOptions.LearningRate) },
        new object[] { new FlowTrainingOptions { GradientClipNorm = -1 }, nameof(FlowTrainingOptions.GradientClipNorm) },
        new object[] { new FlowTrainingOptions { ValidationFraction = 1 }, nameof(FlowTrainingOptions.ValidationFraction) },
        new object[] { new FlowTrainingOptions { EarlyStoppingPatience = 0 }, nameof(FlowTrainingOptions.EarlyStoppingPatience) },
        new object[] { new FlowTrainingOptions { NumberOfThreads = 0 }, nameof(FlowTrainingOptions.NumberOfThreads) },
        new object[] { new FlowTrainingOptions { KernelDensityCentres = -1 }, nameof(FlowTrainingOptions.KernelDensityCentres) },
    };

    [Theory]
    [MemberData(nameof(BadTrainingOptions))]
    public void BadTrainingOptionThrowsNamingTheOption(FlowTrainingOptions options, string option)
    {
        using var data = TestFlows.Points(16, 2, 1);
        var error = Assert.Throws<ArgumentException>(() => FlowTrainer.Train(new FlowArchitecture { Dimension = 2 }, data, options));
        Assert.Equal(option, error.ParamName);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-3)]
    public void ImportanceSampleCountBelowOneThrows(int samples)
    {
        using var flow = new HamiltonianFlow(new FlowArchitecture { Dimension = 2 });
        using var x = TestFlows.Points(4, 2, 1);
        var error = Assert.Throws<ArgumentException>(() => flow.LogLikelihood(x, samples));
        Assert.Equal("samples", error.ParamName);
    }

    [Fact]
    public void DataOfTheWrongWidthThrowsWithBothShapes()
    {
        using var flow = new HamiltonianFlow(new FlowArchitecture { Dimension = 3 });
        using var x = TestFlows.Points(4, 2, 1);
        var error = Assert.Throws<ArgumentException>(() => flow.Elbo(x));
        Assert.Contains("[n, 3]", error.Message);
        Assert.Contains("[4, 2]", error.Message);
    }
}
