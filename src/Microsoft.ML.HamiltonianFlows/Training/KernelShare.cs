using Microsoft.ML.HamiltonianFlows.Torch;
using static TorchSharp.torch;

namespace Microsoft.ML.HamiltonianFlows.Training;

/// <summary>
/// The kernel density's width h and share beta in a fitted flow's density (<see cref="HamiltonianFlow.KernelDensity"/>),
/// from held-out rows: the pair of <see cref="Widths"/> x <see cref="Shares"/> with the largest mean over the rows of
/// log((1 - beta) p_model(x) + beta p_k(x)), p_model the flow with its Gaussian's share; beta = 0 (no kernel density) unless a
/// pair does strictly better. The centres are training rows that were not held out, so a held-out row is never a centre.
/// </summary>
/// <remarks>
/// Measured on the tabular training files only (`AnomalyBenchmark validate --dump` and
/// `samples/AnomalyBenchmark/analysis/kde_mixture.py --flow`, the grids below, beta and h chosen on one half of the held-out
/// rows and scored on the other; seeds 1 and 2): the flow's gain over its Gaussian went from 6.05 / 3.92 to 11.47 / 7.94
/// nats per row on ionosphere (beta 0.3 to 0.5), and rose by 0.03 to 0.8 on pima, vehicle, satellite and shuttle
/// (docs/anomaly-benchmark.md, twelfth session). Widths are in whitened units, where the training rows have unit variance.
/// </remarks>
internal static class KernelShare
{
    public static readonly double[] Widths = { 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.7, 1.0 };

    public static readonly double[] Shares = { 0.01, 0.03, 0.1, 0.2, 0.3, 0.5, 0.7, 0.9 };

    /// <summary>
    /// The (h, beta) for per-row log-likelihoods of the model, [n], and of the kernel density at each of
    /// <see cref="Widths"/>, [widths, n] (float64 both); beta = 0 (and h NaN) where no pair beats the model alone. Rows
    /// where the model's log-likelihood is NaN are left out.
    /// </summary>
    public static (double Width, double Share) Fit(Tensor modelLogLikelihood, Tensor kernelLogLikelihoods)
    {
        using var scope = NewDisposeScope();
        Tensor usable = modelLogLikelihood.isnan().logical_not();
        if (!usable.any().item<bool>())
            return (double.NaN, 0);
        Tensor rows = usable.nonzero().squeeze(1);
        Tensor model = modelLogLikelihood.index_select(0, rows), kernels = kernelLogLikelihoods.index_select(1, rows);
        double bestWidth = double.NaN, bestShare = 0, bestMean = model.mean().item<double>();
        for (int w = 0; w < Widths.Length; w++)
            foreach (double share in Shares)
            {
                double mean = HamiltonianFlow.MixLogWeights(model, kernels[w], share).mean().item<double>();
                // Strictly better only: among equals the narrower kernel and the smaller share (met first) are kept.
                if (mean > bestMean)
                    (bestWidth, bestShare, bestMean) = (Widths[w], share, mean);
            }
        return (bestWidth, bestShare);
    }
}
