using Microsoft.ML.HamiltonianFlows.Torch;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.HamiltonianFlows.Training;

/// <summary>
/// Chooses the rank k of a <see cref="CovarianceKind.LowRank"/> stage, its shrinkage, and the basis its fit works in, on a
/// sample of the rows the fit does not hold out for validation, split as the tail's sample is (<see cref="TailChoice.Split"/>):
/// the fitting rows are standardised (with the chosen tail), and their leading k principal directions and variances give,
/// for each k of <see cref="Candidates"/>, for k = 0 (the diagonal Gaussian) and for all the directions the rows span (at
/// most the basis's width), a probabilistic PCA and the same shrunk towards the identity by Ledoit and Wolf's intensity for
/// those rows; the pair whose held-out rows have the best mean log-likelihood is kept. Probabilistic PCA keeps the fitting
/// rows' leading k directions as the basis; a shrunk correlation takes the whole sample's, and its intensity.
/// </summary>
/// <remarks>
/// Measured on training images only (`analysis/density_probes.py lowrank`; the plain stage, held-out rows of the same
/// file): Fashion-MNIST 28 x 28 in logit space, bits/dim, diagonal 5.300, k = 8 4.756, 16 4.665, 32 4.590, 64 4.521,
/// 128 4.439, 256 4.332, full Ledoit-Wolf 4.259; MNIST-tiny's 587 training digits, nats per row, diagonal -3072.4, k = 8
/// -3049.1, 16 -3064.8, 64 -3234.2, 256 -5143.1, full -3048.4. The best rank grows with the rows: with few of them the
/// sample's leading variances are inflated and the others' mean too small, which held-out rows punish, so the rank is
/// chosen rather than fixed. With fewer rows than features probabilistic PCA loses far more: on tables of 58 to 161 rows
/// and 60 to 751 features the full Ledoit-Wolf correlation beat its best rank by 15 to 105 nats per held-out row
/// (`density_probes.py lowrank-sets`, nineteenth session). Shrunk by Ledoit and Wolf's intensity, a correlation within a
/// basis that spans the rows is the full Ledoit-Wolf one (the rows' correlation has no variance outside their span), so
/// wide data with at most <see cref="FlowArchitecture.MaxRank"/> + 1 rows get that estimate without its d x d matrix. The
/// sample holds at most <see cref="TailChoice.MaxValues"/> values, which bounds the choice's cost for any width (two
/// eigendecompositions of at most 4,096 x 4,096 values).
/// </remarks>
internal static class RankChoice
{
    /// <summary>The ranks tried besides 0 and the rows' span, those below the varying features and the fitting rows.</summary>
    public static readonly int[] Candidates = { 8, 16, 32, 64, 128, 256 };

    /// <summary>
    /// The basis [d, k] and shrinkage for a stage fitted to <paramref name="sample"/> ([m, d], finite rows without gross
    /// outliers) with <paramref name="cells"/> and <paramref name="tail"/>, k at most <paramref name="maxRank"/>, zero on
    /// features constant in the fitting rows: k = 0 where the diagonal Gaussian wins, and where fewer than 10 rows would be
    /// held out, the rows' span with Ledoit and Wolf's shrinkage (the full stage's estimate).
    /// </summary>
    public static LowRankBasis Choose(Tensor sample, FeatureCells cells, double tail, int seed, int maxRank)
    {
        using var scope = NewDisposeScope();
        int d = (int)sample.shape[1];
        if (TailChoice.Split(sample, cells, seed) is not { } split)
        {
            // Too few rows to choose on: the full stage's estimate, Ledoit and Wolf's within the rows' span.
            using var generator = new Generator((ulong)(uint)seed);
            return FromSample(cells.Dequantized(sample.to(ScalarType.Float64), generator), tail, maxRank, rank: null, shrunk: true);
        }
        var (fitting, scored) = split;

        // The standardised rows v (of t = c asinh(u / c) with a finite tail) that the stage's correlation is of.
        var (v, heldOut, varying) = Standardised(fitting, scored, tail);
        // No feature varies in the fitting rows: no direction to keep, the diagonal Gaussian.
        if (varying == 0)
            return new LowRankBasis(new double[d, 0], 0);
        Tensor w = heldOut!;
        long n = v.shape[0];
        var rows = Spectrum.Of(v, Math.Min(maxRank, Math.Min(n, d)), varying);
        Tensor projected = w.matmul(rows.Directions);
        Tensor squaredNorms = (w * w).sum(1);
        // Every direction the fitting rows span (up to the basis's width): with their shrinkage, the full Ledoit-Wolf Gaussian.
        int span = rows.Span;

        (int Rank, bool Shrunk) best = (0, false);
        double bestLogLikelihood = double.NegativeInfinity;
        foreach (int k in Candidates.Where(k => k <= maxRank && k < varying && k < n && rows.Variance[k - 1] > 0).Prepend(0).Append(Math.Min(span, varying - 1)).Distinct())
        {
            foreach (bool shrunk in new[] { false, true })
            {
                double shrinkage = shrunk ? rows.Shrinkage : 0;
                double[] variance = rows.Variance.Take(k).Select(x => (1 - shrinkage) * x + shrinkage).ToArray();
                double residual = (1 - shrinkage) * (rows.Trace - rows.Variance.Take(k).Sum()) / (varying - k) + shrinkage;
                if (!(residual > 0))
                    continue;
                Tensor leading = projected.narrow(1, 0, k);
                Tensor leadingSquares = leading * leading;
                Tensor quadratic = (leadingSquares / tensor(variance)).sum(1)
                    .Plus((squaredNorms - leadingSquares.sum(1)).Times(1 / residual));
                double logDeterminant = variance.Sum(Math.Log) + (varying - k) * Math.Log(residual);
                double logLikelihood = -0.5 * (quadratic.mean().item<double>() + logDeterminant);
                if (logLikelihood > bestLogLikelihood)
                {
                    best = (k, shrunk);
                    bestLogLikelihood = logLikelihood;
                }
            }
        }
        // Probabilistic PCA keeps the fitting rows' directions it was scored with; Ledoit and Wolf's intensity is the whole
        // sample's (it falls as the rows grow, and the choice's held-out rows are rows of the fit too), with its directions.
        if (!best.Shrunk && best.Rank != span)
            return new LowRankBasis(GaussianFit.ToArray(OnVarying(rows.Directions.narrow(1, 0, best.Rank), v)), 0);
        return FromSample(cat(new[] { fitting, scored }), tail, maxRank, best.Rank == span ? null : best.Rank, best.Shrunk);
    }

    // Directions [d, k] zeroed on the features constant in the standardised rows v (zero columns there).
    private static Tensor OnVarying(Tensor directions, Tensor v) =>
        directions * v.abs().sum(new long[] { 0 }).Above(0).to(ScalarType.Float64).unsqueeze(1);

    // The leading `rank` directions of the rows (all they span, up to maxRank, for null) as the basis, and Ledoit and Wolf's
    // intensity for them where `shrunk` (0 otherwise); rank 0, or rows that vary in no feature, give the diagonal Gaussian.
    private static LowRankBasis FromSample(Tensor rows, double tail, int maxRank, int? rank, bool shrunk)
    {
        int d = (int)rows.shape[1];
        long m = rows.shape[0];
        if (rank == 0 || m < 2)
            return new LowRankBasis(new double[d, 0], 0);
        var (v, _, varying) = Standardised(rows, null, tail);
        var spectrum = Spectrum.Of(v, rank ?? Math.Min(maxRank, Math.Min(m, d)), varying);
        int kept = rank ?? spectrum.Span;
        if (varying == 0 || kept == 0)
            return new LowRankBasis(new double[d, 0], 0);
        return new LowRankBasis(GaussianFit.ToArray(OnVarying(spectrum.Directions.narrow(1, 0, kept), v)), shrunk ? spectrum.Shrinkage : 0);
    }

    // Rows standardised as the stage's diagonal fit to them does (constant features zero), other rows standardised alike,
    // and the number of varying features.
    private static (Tensor V, Tensor? W, int Varying) Standardised(Tensor rows, Tensor? other, double tail)
    {
        var (stage, varying) = GaussianFit.InMemoryStage(rows, tail, CovarianceKind.Diagonal);
        using var disposeStage = stage;
        Tensor Standardise(Tensor x) => stage.Whiten(x).Z * stage.Varying;
        return (Standardise(rows), other is null ? null : Standardise(other), varying);
    }

    // The leading principal directions of standardised rows, their variances, the correlation's trace and Ledoit and Wolf's
    // intensity for it.
    private sealed record Spectrum(double[] Variance, Tensor Directions, double Trace, double Shrinkage)
    {
        /// <summary>The directions the rows span: variances above rounding's share of the largest (the others' columns are zero).</summary>
        public int Span => Variance.Count(x => x > RoundingShare * Variance.DefaultIfEmpty(0).Max());

        public static Spectrum Of(Tensor v, long count, int varying)
        {
            long n = v.shape[0];
            var (variance, directions, frobenius) = PrincipalDirections(v, count);
            Tensor rowNorms = (v * v).sum(1);
            double trace = rowNorms.sum().item<double>() / n;
            double shrinkage = varying == 0 ? 1
                : GaussianFit.LedoitWolfIntensity(trace, frobenius, (rowNorms * rowNorms).mean().item<double>(), n, varying);
            return new Spectrum(variance, directions, trace, shrinkage);
        }
    }

    // Eigenvalues of a Gram matrix below this share of the largest are rounding: their directions are not the rows'.
    private const double RoundingShare = 1e-12;

    /// <summary>
    /// The leading <paramref name="count"/> principal directions of rows v [n, d] (columns of a [d, count] matrix) and
    /// their variances (eigenvalues of v^T v / n), from whichever of v^T v and v v^T is smaller (at most 4,096 square, as
    /// the sample holds at most 2^24 values), which costs a fraction of a singular value decomposition, and the squared
    /// Frobenius norm of v^T v / n. With fewer rows than features, directions of zero variance come last as zero columns.
    /// </summary>
    private static (double[] Variance, Tensor Directions, double Frobenius) PrincipalDirections(Tensor v, long count)
    {
        long n = v.shape[0], d = v.shape[1];
        bool byFeatures = d <= n;
        Tensor gram = byFeatures ? v.t().matmul(v) : v.matmul(v.t());
        // |v^T v / n|_F^2, which v v^T has too (the same nonzero eigenvalues).
        double frobenius = (gram * gram).sum().item<double>() / ((double)n * n);
        var (values, vectors) = linalg.eigh(gram);
        // eigh sorts ascending; the leading ones first, at most count of them.
        values = values.flip(0).narrow(0, 0, count).Clamp(0, double.MaxValue);
        vectors = vectors.flip(1).narrow(1, 0, count);
        // From v v^T's eigenvectors a: the directions v^T a / sqrt(eigenvalue), zero where the eigenvalue vanishes.
        Tensor directions = byFeatures ? vectors
            : v.t().matmul(vectors) * where(values.Above(RoundingShare * values.max().item<double>()), values.rsqrt(), zeros_like(values));
        return (values.Times(1.0 / n).data<double>().ToArray(), directions, frobenius);
    }
}
