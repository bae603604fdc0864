using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.HamiltonianFlows.Torch;

/// <summary>
/// The fixed kinetic energy of Souveton et al.: K(p) = p^T M^-1 p / 2 with M = I, M = m I or M = diag(m),
/// the masses learned as logarithms so they stay positive. Its gradient is the closed form M^-1 p.
/// </summary>
public sealed class QuadraticKineticEnergy : KineticEnergy
{
    private readonly Parameter? log_mass;

    internal QuadraticKineticEnergy(int dimension, MassKind mass) : base(nameof(QuadraticKineticEnergy))
    {
        Mass = mass;
        log_mass = mass switch
        {
            MassKind.LearnedScalar => nn.Parameter(zeros(1)),
            MassKind.LearnedDiagonal => nn.Parameter(zeros(dimension)),
            _ => null,
        };
        RegisterComponents();
    }

    /// <summary>Which mass matrix this energy uses.</summary>
    public MassKind Mass { get; }

    /// <summary>K(p) for a batch p of shape [n, d]; returns [n].</summary>
    public override Tensor forward(Tensor p) => 0.5 * (p * Gradient(p)).sum(-1);

    /// <inheritdoc />
    public override Tensor Gradient(Tensor p) => log_mass is null ? p : p * (-log_mass).exp();
}
