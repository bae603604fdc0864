using Microsoft.ML.HamiltonianFlows.Torch;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace Microsoft.ML.HamiltonianFlows.Tests;

public class EnergyGradientTests
{
    [Theory]
    [InlineData(Activation.Softplus, KineticEnergyKind.Quadratic, MassKind.LearnedDiagonal)]
    [InlineData(Activation.Tanh, KineticEnergyKind.Quadratic, MassKind.LearnedScalar)]
    [InlineData(Activation.Softplus, KineticEnergyKind.Neural, MassKind.Identity)]
    [InlineData(Activation.Tanh, KineticEnergyKind.Neural, MassKind.Identity)]
    public void ClosedFormGradientsMatchAutograd(Activation activation, KineticEnergyKind kinetic, MassKind mass)
    {
        var architecture = new FlowArchitecture
        {
            Dimension = 3, HiddenLayers = new[] { 16, 8, 12 }, Activation = activation, Kinetic = kinetic, Mass = mass,
            Precision = ScalarType.Float64,
        };
        using var flow = TestFlows.Build(architecture);
        using var scope = NewDisposeScope();
        Hamiltonian hamiltonian = flow.Layers[0].Hamiltonian;
        Tensor q = TestFlows.Points(40, 3, 1, ScalarType.Float64).requires_grad_(true);
        Tensor p = TestFlows.Points(40, 3, 2, ScalarType.Float64).requires_grad_(true);

        Tensor dVdq = autograd.grad(new[] { hamiltonian.Potential.forward(q).sum() }, new[] { q })[0];
        Tensor dKdp = autograd.grad(new[] { hamiltonian.Kinetic.forward(p).sum() }, new[] { p })[0];

        Assert.True(TestFlows.MaxAbs(dVdq) > 1e-3);
        Assert.True(TestFlows.MaxAbs(hamiltonian.Potential.Gradient(q) - dVdq) < 1e-12);
        Assert.True(TestFlows.MaxAbs(hamiltonian.Kinetic.Gradient(p) - dKdp) < 1e-12);
    }
}
