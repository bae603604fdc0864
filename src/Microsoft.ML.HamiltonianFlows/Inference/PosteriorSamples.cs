using static TorchSharp.torch;

namespace Microsoft.ML.HamiltonianFlows.Inference;

/// <summary>
/// Draws from a <see cref="PosteriorFlow"/> with their log importance weights log w = log pi(theta) r(p | z) - log q(theta, p)
/// (phase-space weights against the unnormalised target). With n draws: mean(log w) is an unbiased estimate of a lower
/// bound on log Z (the ELBO); log (1/n) sum w estimates log Z itself (a bound in expectation, tight as n grows); the
/// weights also correct the flow's remaining error in expectations.
/// </summary>
public sealed class PosteriorSamples
{
    internal PosteriorSamples(double[] values, int dimension, double[] logWeights)
    {
        Values = values;
        Dimension = dimension;
        LogWeights = logWeights;
    }

    /// <summary>The draws, row-major: draw i, parameter j at [i * Dimension + j].</summary>
    public double[] Values { get; }

    /// <summary>Number d of parameters.</summary>
    public int Dimension { get; }

    /// <summary>Number of draws.</summary>
    public int Count => LogWeights.Length;

    /// <summary>log w of each draw (-infinity where the target's density is zero).</summary>
    public double[] LogWeights { get; }


    /// <summary>Parameter j of every draw.</summary>
    public double[] Column(int j)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(j);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(j, Dimension);
        return Enumerable.Range(0, Count).Select(i => Values[i * Dimension + j]).ToArray();
    }

    /// <summary>The ELBO: mean log w, an estimate of a lower bound on log Z.</summary>
    public double EvidenceLowerBound => LogWeights.Average();

    /// <summary>Importance-weighted log-evidence: log (1/n) sum w.</summary>
    public double LogEvidence => LogSumExp(LogWeights) - Math.Log(Count);

    /// <summary>
    /// Kish's effective sample size (sum w)^2 / sum w^2, between 1 and n; n when the flow is the exact posterior.
    /// </summary>
    /// <exception cref="InvalidOperationException">The target's density is zero at every draw.</exception>
    public double EffectiveSampleSize => Math.Exp(2 * LogTotalWeight() - LogSumExp(LogWeights.Select(l => 2 * l)));

    /// <summary>
    /// Mean, standard deviation, covariance and quantiles of the draws: weighted by the normalised importance weights
    /// (self-normalised importance sampling, which corrects the flow's error as n grows) or, when
    /// <paramref name="importanceWeighted"/> is false, each draw counting once (the flow's own law).
    /// </summary>
    /// <param name="importanceWeighted">Whether to weight the draws.</param>
    /// <param name="quantileLevels">Probabilities of the quantiles; default 0.025, 0.16, 0.5, 0.84, 0.975.</param>
    /// <exception cref="InvalidOperationException">Weighted, and the target's density is zero at every draw.</exception>
    public PosteriorSummary Summarize(bool importanceWeighted = true, params double[] quantileLevels)
    {
        if (quantileLevels.Length == 0)
            quantileLevels = new[] { 0.025, 0.16, 0.5, 0.84, 0.975 };
        foreach (double level in quantileLevels)
            if (!(level >= 0 && level <= 1))
                throw new ArgumentException($"Quantile levels must be in [0, 1], got {level}.", nameof(quantileLevels));
        int n = Count, d = Dimension;
        double[] weights = Weights(importanceWeighted);

        var mean = new double[d];
        for (int i = 0; i < n; i++)
            for (int j = 0; j < d; j++)
                mean[j] += weights[i] * Values[i * d + j];
        var covariance = new double[d, d];
        for (int i = 0; i < n; i++)
            for (int j = 0; j < d; j++)
                for (int k = 0; k < d; k++)
                    covariance[j, k] += weights[i] * (Values[i * d + j] - mean[j]) * (Values[i * d + k] - mean[k]);
        var deviation = Enumerable.Range(0, d).Select(j => Math.Sqrt(covariance[j, j])).ToArray();

        var quantiles = new double[d, quantileLevels.Length];
        for (int j = 0; j < d; j++)
        {
            var order = Enumerable.Range(0, n).OrderBy(i => Values[i * d + j]).ToArray();
            for (int k = 0; k < quantileLevels.Length; k++)
            {
                // The smallest value whose cumulative weight reaches the level.
                double cumulative = 0;
                int m = 0;
                while (m < n - 1 && (cumulative += weights[order[m]]) < quantileLevels[k])
                    m++;
                quantiles[j, k] = Values[order[m] * d + j];
            }
        }
        return new PosteriorSummary(mean, deviation, covariance, quantileLevels.ToArray(), quantiles);
    }

    /// <summary>Normalised weights: softmax of log w, or uniform.</summary>
    private double[] Weights(bool importanceWeighted)
    {
        if (!importanceWeighted)
            return Enumerable.Repeat(1.0 / Count, Count).ToArray();
        double total = LogTotalWeight();
        return LogWeights.Select(l => Math.Exp(l - total)).ToArray();
    }

    // log sum w; with every w zero the normalised weights would all be NaN (and every quantile the smallest draw).
    private double LogTotalWeight()
    {
        double total = LogSumExp(LogWeights);
        if (double.IsNegativeInfinity(total))
            throw new InvalidOperationException("The target's density is zero at every draw: no importance weight to normalise.");
        return total;
    }

    private static double LogSumExp(IEnumerable<double> values)
    {
        double max = values.Max();
        if (double.IsNegativeInfinity(max))
            return max;
        return max + Math.Log(values.Sum(v => Math.Exp(v - max)));
    }
}
