using Microsoft.ML.HamiltonianFlows.Torch;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace Microsoft.ML.HamiltonianFlows.Tests;

/// <summary>Log-likelihoods from momentum draws the caller supplies, which the ML.NET layer relies on for per-row reproducibility.</summary>
public class SuppliedNoiseTests
{
    [Fact]
    public void LogLikelihoodWithSuppliedNoiseEqualsTheGeneratorVersionGivenTheSameDraws()
    {
        using var flow = TestFlows.Build(new FlowArchitecture { Dimension = 3, HiddenLayers = new[] { 8 }, LeapfrogSteps = 2 });
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        Tensor x = TestFlows.Points(5, 3, 1);

        // The generator version draws [K * n, d] at once; the same draws reshaped are [K, n, d].
        using (var g = new torch.Generator(9))
        {
            Tensor expected = flow.LogLikelihood(x, 4, g);
            using var g2 = new torch.Generator(9);
            Tensor noise = randn(new long[] { 4 * 5, 3 }, generator: g2).view(4, 5, 3);
            Assert.Equal(expected.data<float>().ToArray(), flow.LogLikelihood(x, noise).data<float>().ToArray());
        }

        // Each row's estimate depends only on its own draws.
        Tensor all = randn(new long[] { 4, 5, 3 });
        Tensor first = flow.LogLikelihood(x.narrow(0, 0, 2), all.narrow(1, 0, 2));
        Assert.True(TestFlows.MaxAbs(first - flow.LogLikelihood(x, all).narrow(0, 0, 2)) < 1e-5);

        Assert.Throws<ArgumentException>(() => flow.LogLikelihood(x, randn(4, 5, 2)));
        Assert.Throws<ArgumentException>(() => flow.LogLikelihood(x, randn(0, 5, 3)));
    }
}
