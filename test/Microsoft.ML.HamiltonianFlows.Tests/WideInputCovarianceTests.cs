using Microsoft.ML.HamiltonianFlows.Torch;
using Microsoft.ML.HamiltonianFlows.Training;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace Microsoft.ML.HamiltonianFlows.Tests;

/// <summary>
/// <see cref="CovarianceKind.Automatic"/> is a full covariance up to <see cref="FlowArchitecture.FullCovarianceMaxDimension"/>
/// features and a diagonal one above, which stores no d x d matrix.
/// </summary>
public sealed class WideInputCovarianceTests
{
    private static bool HasFactor(HamiltonianFlow flow) => flow.state_dict().Keys.Any(k => k.Contains("factor", StringComparison.OrdinalIgnoreCase));

    [Fact]
    public void MoreThan1024FeaturesResolveToADiagonalGaussianThatFitsAndScores()
    {
        const int d = 1100;
        var architecture = new FlowArchitecture { Dimension = d, HiddenLayers = new[] { 8 }, Hamiltonians = 1, LeapfrogSteps = 1 };
        Assert.Equal(CovarianceKind.Diagonal, architecture.ResolvedCovariance);

        using var scope = NewDisposeScope();
        Tensor data = TestFlows.Points(12, d, 1).Times(3).Plus(2);
        var result = FlowTrainer.Train(architecture, data, new FlowTrainingOptions { MaxSteps = 0 });
        using var flow = result.Flow;

        Assert.Equal(CovarianceKind.Diagonal, flow.Gaussian.Covariance);
        Assert.False(HasFactor(flow));
        // Only [d] buffers in the stage: no d x d matrix anywhere in the flow's state.
        Assert.All(flow.state_dict().Values, t => Assert.True(t.numel() < (long)d * d, $"a tensor of shape [{string.Join(", ", t.shape)}]"));
        // Fitted: each feature's own standard deviation, about 3.
        Assert.InRange(flow.Gaussian.Scale.mean().item<float>(), 2.5f, 3.5f);
        using var noGrad = no_grad();
        using var generator = new Generator(2);
        Assert.True(flow.LogLikelihood(data.narrow(0, 0, 4), 2, generator).isfinite().all().item<bool>());
    }

    [Fact]
    public void AtMost1024FeaturesResolveToAFullGaussianAndAnExplicitKindIsKept()
    {
        Assert.Equal(1024, FlowArchitecture.FullCovarianceMaxDimension);
        var widest = new FlowArchitecture { Dimension = 1024, HiddenLayers = new[] { 4 }, Hamiltonians = 1, LeapfrogSteps = 1 };
        Assert.Equal(CovarianceKind.Full, widest.ResolvedCovariance);
        using (var flow = new HamiltonianFlow(widest))
        {
            Assert.Equal(CovarianceKind.Full, flow.Gaussian.Covariance);
            Assert.True(HasFactor(flow));
        }

        Assert.Equal(CovarianceKind.Diagonal, (widest with { Covariance = CovarianceKind.Diagonal }).ResolvedCovariance);
        Assert.Equal(CovarianceKind.Full, (widest with { Dimension = 1100, Covariance = CovarianceKind.Full }).ResolvedCovariance);
        Assert.Equal(CovarianceKind.Full, new FlowArchitecture { Dimension = 1 }.ResolvedCovariance);
    }
}
