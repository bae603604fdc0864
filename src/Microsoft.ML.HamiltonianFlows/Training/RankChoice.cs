using Microsoft.ML.HamiltonianFlows.Torch;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.HamiltonianFlows.Training;

/// <summary>
/// Chooses the rank k of a <see cref="CovarianceKind.LowRank"/> stage and the basis its fit works in, on a sample of the
/// rows the fit does not hold out for validation, split as the tail's sample is (<see cref="TailChoice.Split"/>): the
/// fitting rows are standardised (with the chosen tail), their leading k principal directions and variances give a
/// probabilistic PCA for each k of <see cref="Candidates"/> and for k = 0 (the diagonal Gaussian), and the k whose held-out
/// rows have the best mean log-likelihood is kept, with its directions as the basis.
/// </summary>
/// <remarks>
/// Measured on training images only (`analysis/density_probes.py lowrank`; the plain stage, held-out rows of the same
/// file): Fashion-MNIST 28 x 28 in logit space, bits/dim, diagonal 5.300, k = 8 4.756, 16 4.665, 32 4.590, 64 4.521,
/// 128 4.439, 256 4.332, full Ledoit-Wolf 4.259; MNIST-tiny's 587 training digits, nats per row, diagonal -3072.4, k = 8
/// -3049.1, 16 -3064.8, 64 -3234.2, 256 -5143.1, full -3048.4. The best rank grows with the rows: with few of them the
/// sample's leading variances are inflated and the others' mean too small, which held-out rows punish, so the rank is
/// chosen rather than fixed. The sample holds at most <see cref="TailChoice.MaxValues"/> values, which bounds the
/// choice's cost for any width (an eigendecomposition of at most 4,096 x 4,096 values).
/// </remarks>
internal static class RankChoice
{
    /// <summary>The ranks tried besides 0, those below the varying features and the fitting rows.</summary>
    public static readonly int[] Candidates = { 8, 16, 32, 64, 128, 256 };

    /// <summary>
    /// The basis [d, k] (k = 0 where the diagonal Gaussian wins, or fewer than 10 rows would be held out) for a stage
    /// fitted to <paramref name="sample"/> ([m, d], finite rows without gross outliers) with
    /// <paramref name="cells"/> and <paramref name="tail"/>, k at most <paramref name="maxRank"/>; zero on features constant
    /// in the fitting rows.
    /// </summary>
    public static double[,] Choose(Tensor sample, FeatureCells cells, double tail, int seed, int maxRank)
    {
        using var scope = NewDisposeScope();
        int d = (int)sample.shape[1];
        if (TailChoice.Split(sample, cells, seed) is not { } split)
            return new double[d, 0];
        var (fitting, scored) = split;

        // The standardised rows v (of t = c asinh(u / c) with a finite tail) that the stage's correlation is of.
        using var fit = new GaussianFit(d, FeatureCells.None(d), tail);
        fit.AddMoments(fitting);
        fit.EndMoments();
        int varying = d - fit.ConstantFeatures.Length;
        fit.AddLaterPasses(() => new[] { fitting.alias() }, CovarianceKind.Diagonal);
        using var stage = new GaussianStage(d, CovarianceKind.Diagonal);
        stage.to(ScalarType.Float64);
        fit.SetStage(stage);
        Tensor v = stage.Whiten(fitting).Z * stage.Varying;
        Tensor w = stage.Whiten(scored).Z * stage.Varying;

        // Principal directions of the fitting rows ([d, m]) and their variances, leading first.
        long n = v.shape[0];
        var (variance, directions) = PrincipalDirections(v, Math.Min(maxRank, Math.Min(n, d)));
        double trace = (v * v).sum().item<double>() / n;
        Tensor projected = w.matmul(directions);
        Tensor squaredNorms = (w * w).sum(1);

        int best = 0;
        double bestLogLikelihood = double.NegativeInfinity;
        foreach (int k in Candidates.Where(k => k <= maxRank && k < varying && k < n && variance[k - 1] > 0).Prepend(0))
        {
            double residual = (trace - variance.Take(k).Sum()) / (varying - k);
            if (!(residual > 0))
                continue;
            Tensor leading = projected.narrow(1, 0, k);
            Tensor leadingSquares = leading * leading;
            Tensor quadratic = (leadingSquares / tensor(variance.Take(k).ToArray())).sum(1)
                .Plus((squaredNorms - leadingSquares.sum(1)).Times(1 / residual));
            double logDeterminant = variance.Take(k).Sum(Math.Log) + (varying - k) * Math.Log(residual);
            double logLikelihood = -0.5 * (quadratic.mean().item<double>() + logDeterminant);
            if (logLikelihood > bestLogLikelihood)
            {
                best = k;
                bestLogLikelihood = logLikelihood;
            }
        }
        return GaussianFit.ToArray(directions.narrow(1, 0, best) * stage.Varying.unsqueeze(1));
    }

    /// <summary>
    /// The leading <paramref name="count"/> principal directions of rows v [n, d] (columns of a [d, count] matrix) and
    /// their variances (eigenvalues of v^T v / n), from whichever of v^T v and v v^T is smaller (at most 4,096 square, as
    /// the sample holds at most 2^24 values), which costs a fraction of a singular value decomposition. With fewer rows
    /// than features, directions of zero variance come last as zero columns (no candidate rank reaches them).
    /// </summary>
    private static (double[] Variance, Tensor Directions) PrincipalDirections(Tensor v, long count)
    {
        long n = v.shape[0], d = v.shape[1];
        bool byFeatures = d <= n;
        var (values, vectors) = linalg.eigh(byFeatures ? v.t().matmul(v) : v.matmul(v.t()));
        // eigh sorts ascending; the leading ones first, at most count of them.
        values = values.flip(0).narrow(0, 0, count).Clamp(0, double.MaxValue);
        vectors = vectors.flip(1).narrow(1, 0, count);
        // From v v^T's eigenvectors a: the directions v^T a / sqrt(eigenvalue), zero where the eigenvalue vanishes.
        Tensor directions = byFeatures ? vectors
            : v.t().matmul(vectors) * where(values.Above(1e-12 * values.max().item<double>()), values.rsqrt(), zeros_like(values));
        return (values.Times(1.0 / n).data<double>().ToArray(), directions);
    }
}
