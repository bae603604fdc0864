using static TorchSharp.torch;

namespace Microsoft.ML.HamiltonianFlows.Torch;

/// <summary>The learned kinetic energy of the original NHF (Toth et al.): K(p) is a multilayer perceptron.</summary>
public sealed class NeuralKineticEnergy : KineticEnergy
{
    private readonly Mlp net;

    internal NeuralKineticEnergy(int dimension, IReadOnlyList<int> hidden, Activation activation)
        : base(nameof(NeuralKineticEnergy))
    {
        net = new Mlp("net", dimension, hidden, 1, activation);
        RegisterComponents();
    }

    /// <summary>K(p) for a batch p of shape [n, d]; returns [n].</summary>
    public override Tensor forward(Tensor p) => net.forward(p).squeeze(-1);

    /// <inheritdoc />
    public override Tensor Gradient(Tensor p) => net.InputGradient(p);
}
