using static TorchSharp.torch;

namespace Microsoft.ML.HamiltonianFlows.Torch;

/// <summary>
/// The potential energy V(q) of the Hamiltonian, a multilayer perceptron R^d -&gt; R. In the fixed-kinetic
/// NHF it is the only learned energy, and it can be read as an energy landscape of the (standardised) data.
/// </summary>
public sealed class Potential : nn.Module<Tensor, Tensor>
{
    private readonly Mlp net;

    internal Potential(int dimension, IReadOnlyList<int> hidden, Activation activation) : base(nameof(Potential))
    {
        net = new Mlp("net", dimension, hidden, 1, activation, zeroOutput: true);
        RegisterComponents();
    }

    /// <summary>V(q) for a batch q of shape [n, d]; returns [n].</summary>
    public override Tensor forward(Tensor q) => net.forward(q).squeeze(-1);

    /// <summary>dV/dq for a batch q of shape [n, d]; returns [n, d], differentiable in the parameters.</summary>
    public Tensor Gradient(Tensor q) => net.InputGradient(q);
}
