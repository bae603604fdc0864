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
    public override Tensor forward(Tensor p) => (p * Gradient(p)).sum(-1).Times(0.5);

    /// <inheritdoc />
    public override Tensor Gradient(Tensor p) => log_mass is null ? p : p * (-log_mass).exp();

    /// <summary>
    /// The momentum's normalised Boltzmann law exp(-K(p)) / Z = N(p; 0, M), with Z = (2 pi)^(d/2) det(M)^(1/2):
    /// log density for a batch p of shape [n, d]; returns [n]. It is the stationary law of p that the dynamics preserve.
    /// </summary>
    public Tensor LogBoltzmann(Tensor p)
    {
        Tensor logDensity = forward(p).SubtractedFrom(-0.5 * p.shape[^1] * Math.Log(2 * Math.PI));
        return log_mass is null ? logDensity : logDensity - log_mass.expand(p.shape[^1]).sum().Times(0.5);
    }

    /// <summary>Draws from the Boltzmann law N(0, M) given standard-normal draws e: p = M^(1/2) e.</summary>
    public Tensor SampleBoltzmann(Tensor e) => log_mass is null ? e : e * log_mass.Times(0.5).exp();
}
