using static TorchSharp.torch;

namespace Microsoft.ML.HamiltonianFlows.Torch;

/// <summary>A separable Hamiltonian H(q, p) = K(p) + V(q).</summary>
public sealed class Hamiltonian : nn.Module<Tensor, Tensor, Tensor>
{
    private readonly Potential potential;
    private readonly KineticEnergy kinetic;

    internal Hamiltonian(FlowArchitecture architecture) : base(nameof(Hamiltonian))
    {
        potential = new Potential(architecture.Dimension, architecture.HiddenLayers, architecture.Activation, architecture.ResolvedSeparableWells);
        kinetic = architecture.Kinetic == KineticEnergyKind.Neural
            ? new NeuralKineticEnergy(architecture.Dimension, architecture.HiddenLayers, architecture.Activation)
            : new QuadraticKineticEnergy(architecture.Dimension, architecture.Mass);
        RegisterComponents();
    }

    /// <summary>The potential energy V(q).</summary>
    public Potential Potential => potential;

    /// <summary>The kinetic energy K(p).</summary>
    public KineticEnergy Kinetic => kinetic;

    /// <summary>H(q, p) for batches of shape [n, d]; returns [n].</summary>
    public override Tensor forward(Tensor q, Tensor p) => kinetic.forward(p).Plus(potential.forward(q));
}
