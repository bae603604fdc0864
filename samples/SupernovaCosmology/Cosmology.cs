namespace SupernovaCosmology;

/// <summary>
/// A Lambda-CDM universe with curvature: matter density Omega_m and cosmological-constant density Omega_Lambda today,
/// curvature Omega_k = 1 - Omega_m - Omega_Lambda.
/// </summary>
internal sealed record Cosmology(double MatterDensity, double DarkEnergyDensity)
{
    /// <summary>The simulated catalogue's truth (H0 is 70 km/s/Mpc; it is degenerate with the magnitude offset).</summary>
    public static readonly Cosmology Truth = new(0.3, 0.7);

    /// <summary>mu(z) for this cosmology at each redshift, with H0 = 70 km/s/Mpc.</summary>
    public double[] DistanceModulus(double[] redshifts)
    {
        using var model = new DistanceModulusModel(redshifts);
        using var theta = TorchSharp.torch.tensor(new[] { MatterDensity, DarkEnergyDensity }, new long[] { 1, 2 });
        using var mu = model.Evaluate(theta);
        return mu.data<double>().ToArray();
    }
}
