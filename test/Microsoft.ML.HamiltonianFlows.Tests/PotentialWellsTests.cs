using Microsoft.ML.HamiltonianFlows.Torch;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace Microsoft.ML.HamiltonianFlows.Tests;

/// <summary>
/// The separable wells of <see cref="Potential"/>: x^2 / 2 - log cosh(m x) is the energy of the two-Gaussian mixture
/// N(m, 1) / 2 + N(-m, 1) / 2 up to a constant, and the wells start at depth 0, where V is the Gaussian's energy.
/// </summary>
public sealed class PotentialWellsTests
{
    private static Potential OneDimensional(double depth, double sharpness, double centre)
    {
        var potential = new Potential(1, new[] { 4 }, Activation.Softplus, wells: true);
        using var noGrad = no_grad();
        var state = potential.state_dict();
        using Scalar depthValue = depth.ToScalar(), sharpnessValue = sharpness.ToScalar(), centreValue = centre.ToScalar();
        state["well_depth"].fill_(depthValue);
        state["well_sharpness"].fill_(sharpnessValue);
        state["well_centre"].fill_(centreValue);
        return potential;
    }

    [Fact]
    public void AWellOfDepthOneIsTheEnergyOfASymmetricTwoGaussianMixture()
    {
        const double m = 1.7;
        using var potential = OneDimensional(1, m, 0);
        double[] xs = { -4, -2.5, -1.7, -0.3, 0, 0.8, 1.7, 3 };
        using var noGrad = no_grad();
        using var q = tensor(xs, dtype: ScalarType.Float64).to(ScalarType.Float32).view(-1, 1);
        float[] v = potential.forward(q).data<float>().ToArray();
        float v0 = potential.forward(zeros(1, 1)).item<float>();
        static double LogMixture(double x, double m) => Math.Log(0.5 * Math.Exp(-(x - m) * (x - m) / 2) + 0.5 * Math.Exp(-(x + m) * (x + m) / 2));
        for (int i = 0; i < xs.Length; i++)
            Assert.Equal(-(LogMixture(xs[i], m) - LogMixture(0, m)), v[i] - v0, 4);
        // Two wells, at about +-m, and a barrier at 0.
        Assert.True(v[Array.IndexOf(xs, 1.7)] < v0 && v[Array.IndexOf(xs, -1.7)] < v0);
    }

    [Theory]
    [InlineData(64, false)]
    [InlineData(65, true)]
    public void ByDefaultDataWiderThanTheNetworkGetWells(int dimension, bool wells)
    {
        using var flow = HamiltonianFlow.Create(new FlowArchitecture { Dimension = dimension, Hamiltonians = 2 }, seed: 1);
        Assert.Equal(wells, flow.Architecture.ResolvedSeparableWells);
        Assert.Equal(wells ? 6 : 0, flow.state_dict().Keys.Count(key => key.Contains(".well_")));
    }

    [Fact]
    public void AtDepthZeroTheWellsAddNothingWhateverTheirShape()
    {
        using var potential = OneDimensional(0, 2.3, 0.7);
        using var noGrad = no_grad();
        using var q = tensor(new float[] { -3, -1, 0, 0.5f, 2 }).view(-1, 1);
        float[] v = potential.forward(q).data<float>().ToArray();
        float[] force = potential.Gradient(q).data<float>().ToArray();
        float[] x = q.data<float>().ToArray();
        for (int i = 0; i < x.Length; i++)
        {
            Assert.Equal(x[i] * x[i] / 2, v[i], 6);
            Assert.Equal(x[i], force[i], 6);
        }
    }
}
