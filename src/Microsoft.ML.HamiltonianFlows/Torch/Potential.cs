using static TorchSharp.torch;

namespace Microsoft.ML.HamiltonianFlows.Torch;

/// <summary>
/// The potential energy V(q) = |q|^2 / 2 + f(q) of the Hamiltonian, with f a multilayer perceptron R^d -&gt; R that
/// starts at zero. In the fixed-kinetic NHF it is the only learned energy, and it reads as an energy landscape of the
/// data in the coordinates of the fitted Gaussian (<see cref="GaussianStage"/>): the quadratic part is -log N(q; 0, I)
/// up to a constant, so the untrained V is that Gaussian's energy and the dynamics it drives (with K = |p|^2 / 2)
/// leave the base N(0, I) x N(0, I) in place; f then moves V towards -log p of the data.
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
    public override Tensor forward(Tensor q) => (q * q).sum(-1).Times(0.5).Plus(net.forward(q).squeeze(-1));

    /// <summary>dV/dq = q + df/dq for a batch q of shape [n, d]; returns [n, d], differentiable in the parameters.</summary>
    public Tensor Gradient(Tensor q) => q.Plus(net.InputGradient(q));
}
