using Microsoft.ML.HamiltonianFlows.Torch;

namespace GaussianMixture2D;

/// <summary>
/// The interpretability measurements of the 2D experiment: the learned potential V(q) against -log p of the target,
/// weighted by p, and a learned kinetic energy K(p) against p^2/2, weighted by the base N(0, I) of the momentum.
/// </summary>
internal static class EnergyReadout
{
    /// <summary>Half-width of the momentum grid, in standardised units: +-3 standard deviations of the base.</summary>
    public const double MomentumHalf = 3;

    /// <summary>V(q) of Hamiltonian <paramref name="layer"/> against -log p(q) on the grid, weighted by p(q).</summary>
    public static EnergyMatch Potential(GaussianRing ring, HamiltonianFlow flow, RingGrid grid, int layer = 0)
    {
        double[,] reference = grid.Map((x, y) => -ring.LogDensity(x, y));
        double[,] potential = grid.Evaluate(flow, (f, x) => f.PotentialEnergyAt(x, layer));
        return EnergyMatch.Compute(Flatten(potential), Flatten(reference), Flatten(reference).Select(e => Math.Exp(-e)).ToArray());
    }

    /// <summary>K(p) against |p|^2 / 2 on a momentum grid over [-MomentumHalf, MomentumHalf]^2, weighted by N(p; 0, I).</summary>
    public static EnergyMatch Kinetic(HamiltonianFlow flow, RingGrid momentumGrid)
    {
        double[] reference = Flatten(momentumGrid.Map(QuadraticKinetic));
        double[,] kinetic = momentumGrid.Evaluate(flow, (f, p) => f.KineticEnergyAt(p));
        return EnergyMatch.Compute(Flatten(kinetic), reference, reference.Select(e => Math.Exp(-e)).ToArray());
    }

    /// <summary>The fixed kinetic energy |p|^2 / 2 (unit mass).</summary>
    public static double QuadraticKinetic(double px, double py) => (px * px + py * py) / 2;

    private static double[] Flatten(double[,] map) => map.Cast<double>().ToArray();
}
