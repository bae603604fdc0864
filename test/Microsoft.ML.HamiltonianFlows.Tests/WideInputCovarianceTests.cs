using Microsoft.ML.HamiltonianFlows.Torch;
using Microsoft.ML.HamiltonianFlows.Training;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace Microsoft.ML.HamiltonianFlows.Tests;

/// <summary>
/// <see cref="CovarianceKind.Automatic"/> is a full covariance up to <see cref="FlowArchitecture.FullCovarianceMaxDimension"/>
/// features and a low-rank one above, which stores no d x d matrix.
/// </summary>
public sealed class WideInputCovarianceTests
{
    private static bool HasFactor(HamiltonianFlow flow) => flow.state_dict().Keys.Any(k => k.Contains("factor", StringComparison.OrdinalIgnoreCase));

    [Fact]
    public void MoreThan1024FeaturesResolveToALowRankGaussianThatFitsAndScores()
    {
        const int d = 1100;
        var architecture = new FlowArchitecture { Dimension = d, HiddenLayers = new[] { 8 }, Hamiltonians = 1, LeapfrogSteps = 1 };
        Assert.Equal(CovarianceKind.LowRank, architecture.ResolvedCovariance);

        using var scope = NewDisposeScope();
        // 60 rows sharing one factor: held-out rows of the sample choose a rank above 0.
        Tensor points = TestFlows.Points(60, d, 1);
        Tensor data = points.Times(3).Plus(2).Plus(TestFlows.Points(60, 1, 2).Times(6));
        var result = FlowTrainer.Train(architecture, data, new FlowTrainingOptions { MaxSteps = 0 });
        using var flow = result.Flow;

        Assert.Equal(CovarianceKind.LowRank, flow.Gaussian.Covariance);
        Assert.False(HasFactor(flow));
        Assert.InRange(flow.Gaussian.Rank, 1, FlowArchitecture.MaxRank);
        // No d x d matrix anywhere in the flow's state: the largest is the d x 256 basis.
        Assert.All(flow.state_dict().Values, t => Assert.True(t.numel() <= (long)d * FlowArchitecture.MaxRank, $"a tensor of shape [{string.Join(", ", t.shape)}]"));
        // Fitted: each feature's own standard deviation, about sqrt(3^2 + 6^2) = 6.7.
        Assert.InRange(flow.Gaussian.Scale.mean().item<float>(), 5.5f, 8f);
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
        Assert.Equal(CovarianceKind.LowRank, (widest with { Dimension = 1025 }).ResolvedCovariance);
        Assert.Equal(CovarianceKind.Full, (widest with { Dimension = 1100, Covariance = CovarianceKind.Full }).ResolvedCovariance);
        Assert.Equal(CovarianceKind.Full, new FlowArchitecture { Dimension = 1 }.ResolvedCovariance);
    }
}
