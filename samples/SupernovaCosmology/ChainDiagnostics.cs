namespace SupernovaCosmology;

/// <summary>Effective sample size of Markov chains by Geyer's initial monotone sequence estimator (Geyer 1992).</summary>
internal static class ChainDiagnostics
{
    /// <summary>The effective number of independent draws of one parameter, summed over chains.</summary>
    public static double EffectiveSampleSize(double[][] chains, int dimension, int parameter) =>
        chains.Sum(chain => ChainEffectiveSampleSize(Enumerable.Range(0, chain.Length / dimension).Select(i => chain[i * dimension + parameter]).ToArray()));

    private static double ChainEffectiveSampleSize(double[] x)
    {
        int n = x.Length;
        double mean = x.Average();
        double variance = x.Sum(v => (v - mean) * (v - mean)) / n;
        double Autocorrelation(int lag)
        {
            double s = 0;
            for (int i = 0; i + lag < n; i++)
                s += (x[i] - mean) * (x[i + lag] - mean);
            return s / n / variance;
        }
        // Sums of adjacent pairs of autocorrelations are positive and decreasing for a reversible chain: stop at the first
        // non-positive pair and keep the running minimum.
        double tau = -1, previous = double.PositiveInfinity;
        for (int lag = 0; lag + 1 < n; lag += 2)
        {
            double pair = Autocorrelation(lag) + Autocorrelation(lag + 1);
            if (pair <= 0)
                break;
            previous = Math.Min(previous, pair);
            tau += 2 * previous;
        }
        return n / Math.Max(tau, 1.0 / Math.Log10(Math.Max(n, 10)));
    }
}
