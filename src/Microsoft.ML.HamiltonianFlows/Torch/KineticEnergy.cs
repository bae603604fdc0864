using static TorchSharp.torch;

namespace Microsoft.ML.HamiltonianFlows.Torch;

/// <summary>The kinetic energy K(p) of the Hamiltonian H(q, p) = K(p) + V(q).</summary>
public abstract class KineticEnergy : nn.Module<Tensor, Tensor>
{
    private protected KineticEnergy(string name) : base(name) { }

    /// <summary>dK/dp for a batch p of shape [n, d]; returns [n, d]. It is the velocity dq/dt of the dynamics.</summary>
    public abstract Tensor Gradient(Tensor p);
}
