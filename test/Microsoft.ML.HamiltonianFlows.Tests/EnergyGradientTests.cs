using Microsoft.ML.HamiltonianFlows.Torch;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace Microsoft.ML.HamiltonianFlows.Tests;

public class EnergyGradientTests
{
    [Theory]
    [InlineData(Activation.Softplus, KineticEnergyKind.Quadratic, MassKind.LearnedDiagonal, true)]
    [InlineData(Activation.Tanh, KineticEnergyKind.Quadratic, MassKind.LearnedScalar, false)]
    [InlineData(Activation.Softplus, KineticEnergyKind.Neural, MassKind.Identity, false)]
    [InlineData(Activation.Tanh, KineticEnergyKind.Neural, MassKind.Identity, true)]
    public void ClosedFormGradientsMatchAutograd(Activation activation, KineticEnergyKind kinetic, MassKind mass, bool wells)
    {
        using var flow = Flow(activation, kinetic, mass, wells);
        using var scope = NewDisposeScope();
        Hamiltonian hamiltonian = flow.Layers[0].Hamiltonian;
        var (q, p) = PhasePoints();

        Tensor dVdq = autograd.grad(new[] { hamiltonian.Potential.forward(q).sum() }, new[] { q })[0];
        Tensor dKdp = autograd.grad(new[] { hamiltonian.Kinetic.forward(p).sum() }, new[] { p })[0];

        Assert.True(TestFlows.MaxAbs(dVdq) > 1e-3);
        Assert.True(TestFlows.MaxAbs(hamiltonian.Potential.Gradient(q) - dVdq) < 1e-12);
        Assert.True(TestFlows.MaxAbs(hamiltonian.Kinetic.Gradient(p) - dKdp) < 1e-12);
    }

    // Training backpropagates through dV/dq: the parameter gradients of a loss built on the closed form must be those
    // of the same loss built on autograd's input gradient (double backpropagation, the PyTorch way).
    [Theory]
    [InlineData(Activation.Softplus, KineticEnergyKind.Quadratic, MassKind.LearnedDiagonal, true)]
    [InlineData(Activation.Tanh, KineticEnergyKind.Neural, MassKind.Identity, false)]
    public void ClosedFormGradientsGiveAutogradParameterGradients(Activation activation, KineticEnergyKind kinetic, MassKind mass, bool wells)
    {
        using var flow = Flow(activation, kinetic, mass, wells);
        using var scope = NewDisposeScope();
        Hamiltonian hamiltonian = flow.Layers[0].Hamiltonian;
        var (q, p) = PhasePoints();
        // A fixed random projection makes the loss depend on every component of both gradients.
        Tensor weights = TestFlows.Points(40, 3, 3, ScalarType.Float64);
        var parameters = hamiltonian.parameters().ToList();

        Tensor closedForm = (hamiltonian.Potential.Gradient(q).Plus(hamiltonian.Kinetic.Gradient(p)) * weights).sum();
        var expected = ParameterGradients(closedForm, parameters);

        Tensor dVdq = autograd.grad(new[] { hamiltonian.Potential.forward(q).sum() }, new[] { q }, retain_graph: true, create_graph: true)[0];
        Tensor dKdp = autograd.grad(new[] { hamiltonian.Kinetic.forward(p).sum() }, new[] { p }, retain_graph: true, create_graph: true)[0];
        var actual = ParameterGradients((dVdq.Plus(dKdp) * weights).sum(), parameters);

        Assert.True(expected.Max(TestFlows.MaxAbs) > 1e-3);
        for (int i = 0; i < parameters.Count; i++)
            Assert.True(TestFlows.MaxAbs(expected[i] - actual[i]) < 1e-12, $"parameter {i} of {parameters.Count}");
    }

    // Three hidden layers of different widths, with or without the potential's separable wells (moved off depth 0 like
    // every parameter), in float64 so that the comparisons can be tight.
    private static HamiltonianFlow Flow(Activation activation, KineticEnergyKind kinetic, MassKind mass, bool wells) => TestFlows.Build(new FlowArchitecture
    {
        Dimension = 3, HiddenLayers = new[] { 16, 8, 12 }, Activation = activation, Kinetic = kinetic, Mass = mass,
        SeparableWells = wells, Precision = ScalarType.Float64,
    });

    private static (Tensor Q, Tensor P) PhasePoints() =>
        (TestFlows.Points(40, 3, 1, ScalarType.Float64).requires_grad_(true), TestFlows.Points(40, 3, 2, ScalarType.Float64).requires_grad_(true));

    private static List<Tensor> ParameterGradients(Tensor loss, List<TorchSharp.Modules.Parameter> parameters)
    {
        foreach (var parameter in parameters)
            parameter.grad = null;
        loss.backward();
        // The output bias of an energy does not move its gradient: no gradient reaches it on either path.
        return parameters.Select(parameter => parameter.grad?.clone() ?? zeros_like(parameter)).ToList();
    }
}
