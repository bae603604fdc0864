namespace GaussianMixture2D;

/// <summary>
/// How well a learned energy E(x) reads as a reference energy R(x) up to an additive constant, measured on grid
/// points with weights w (typically the target density, so that the comparison covers the data's support).
/// </summary>
/// <param name="Correlation">Weighted Pearson correlation of E and R: 1 when E = a + b R with b &gt; 0.</param>
/// <param name="RmsAfterConstant">
/// sqrt(sum w (E - R - c)^2) with the best constant c = sum w (E - R): zero only when E = R + c, so unlike the
/// correlation it also sees a wrong scale.
/// </param>
/// <param name="Slope">b of the weighted least-squares fit E = a + b R: 1 when E has R's scale.</param>
internal sealed record EnergyMatch(double Correlation, double RmsAfterConstant, double Slope)
{
    /// <summary>Compares <paramref name="energy"/> with <paramref name="reference"/> under <paramref name="weights"/> (normalised here).</summary>
    public static EnergyMatch Compute(IReadOnlyList<double> energy, IReadOnlyList<double> reference, IReadOnlyList<double> weights)
    {
        if (energy.Count != reference.Count || energy.Count != weights.Count)
            throw new ArgumentException($"energy ({energy.Count}), reference ({reference.Count}) and weights ({weights.Count}) must have the same length.");
        double total = weights.Sum();
        if (!(total > 0) || weights.Any(w => w < 0))
            throw new ArgumentException("weights must be non-negative with a positive sum.", nameof(weights));

        double meanE = 0, meanR = 0;
        for (int i = 0; i < energy.Count; i++)
        {
            meanE += weights[i] / total * energy[i];
            meanR += weights[i] / total * reference[i];
        }
        double varE = 0, varR = 0, cov = 0;
        for (int i = 0; i < energy.Count; i++)
        {
            double w = weights[i] / total, de = energy[i] - meanE, dr = reference[i] - meanR;
            varE += w * de * de;
            varR += w * dr * dr;
            cov += w * de * dr;
        }
        // E - R - c with c = meanE - meanR has weighted mean zero, so its mean square is var(E - R).
        double rms = Math.Sqrt(Math.Max(0, varE + varR - 2 * cov));
        return new EnergyMatch(cov / Math.Sqrt(varE * varR), rms, cov / varR);
    }
}
