using Microsoft.ML.HamiltonianFlows.Torch;
using static TorchSharp.torch;

namespace Microsoft.ML.HamiltonianFlows.Training;

/// <summary>
/// The Gaussian's share alpha in a fitted flow's density (<see cref="HamiltonianFlow.GaussianWeight"/>), from n held-out
/// rows: the alpha of <see cref="Grid"/> with the largest mean of log((1 - alpha) p_flow(x) + alpha p_Gaussian(x)) +
/// log(alpha) / n, the posterior mode of alpha under a Beta(2, 1) prior. The likelihood alone gives alpha = 0 whenever
/// the flow beats its Gaussian on every held-out row, which with a few dozen rows says little about the rows they did not
/// contain (heavy tails): the prior keeps alpha at least about 1 / (n + 1) there (0.5 for 4 rows that favour the flow by
/// 0.5 nats each, 0.0005 for 4,000; a fit measures at most 1,024 rows, so 0.001 or more), which bounds a row the flow
/// misses at log(1 / alpha) below the Gaussian and costs the others at most -log(1 - alpha). The objective is concave in
/// alpha, and what matters is its order of magnitude: a grid, dense near 0, finds it without an iterative solver.
/// alpha = 1 keeps the Gaussian alone.
/// </summary>
/// <remarks>
/// Chosen by measurement on the tabular training files alone (`AnomalyBenchmark validate`, 80/20 splits). By maximum
/// likelihood (seeds 1 to 4, alpha fitted on one half of the held-out rows and scored on the other) ionosphere's gain
/// over the Gaussian went from +0.4, -7.4, -0.9 and -2.1 nats per row to +8.6, +7.3, +8.0 and +8.2 (alpha 0.2 to 0.7),
/// while pima, vehicle and satellite moved by at most 0.14 (alpha 0 to 0.1). With the prior, fits on 30 or 60 rows of
/// the five files (`validate --fit-rows`, seeds 1 to 4) that had lost up to 11.5 nats per held-out row against their
/// Gaussian (shuttle) or 4.3 (vehicle) gained 4.3 to 6.0 and 3.9 to 4.1 instead (sums over the 20 fits of each size
/// +18.5 and +5.1 by maximum likelihood, +20.1 and +43.8 with the prior); the full files' gains moved by at most 0.02
/// (docs/anomaly-benchmark.md).
/// </remarks>
internal static class GaussianShare
{
    public static readonly double[] Grid = { 0.0001, 0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1 };

    /// <summary>
    /// The share for per-row log-likelihoods of the flow alone and of the Gaussian alone, [n] each (float64). Rows where
    /// either is NaN are left out (n counts the others); with none left it is 0.
    /// </summary>
    public static double Fit(Tensor flowLogLikelihood, Tensor gaussianLogLikelihood)
    {
        using var scope = NewDisposeScope();
        Tensor usable = flowLogLikelihood.isnan().logical_or(gaussianLogLikelihood.isnan()).logical_not();
        if (!usable.any().item<bool>())
            return 0;
        Tensor rows = usable.nonzero().squeeze(1);
        Tensor flow = flowLogLikelihood.index_select(0, rows), gaussian = gaussianLogLikelihood.index_select(0, rows);
        double best = 0, bestMean = double.NegativeInfinity;
        long n = rows.shape[0];
        foreach (double share in Grid)
        {
            double mean = HamiltonianFlow.MixLogWeights(flow, gaussian, share).mean().item<double>() + Math.Log(share) / n;
            // Strictly better only: among equals the smaller share is kept.
            if (mean > bestMean)
            {
                best = share;
                bestMean = mean;
            }
        }
        return best;
    }
}
