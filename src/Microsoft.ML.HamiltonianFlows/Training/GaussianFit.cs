using Microsoft.ML.HamiltonianFlows.Torch;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.HamiltonianFlows.Training;

/// <summary>
/// Fits the <see cref="GaussianStage"/> to training rows, in float64, a block of rows at a time so that streamed data
/// fit the same way as a tensor: a first pass accumulates the per-feature means and variances (Chan et al.'s pairwise
/// update), a second the correlation of the standardised rows and the fourth moments Ledoit and Wolf's shrinkage needs.
/// With a finite tail c (<see cref="TailChoice"/>) a pass between them accumulates the means and variances of
/// t = c asinh(u / c), and the correlation is that of the standardised t.
/// </summary>
/// <remarks>
/// The correlation, not the covariance, is shrunk towards the identity (Ledoit and Wolf, 2004, applied to standardised
/// features, as scikit-learn's <c>ledoit_wolf</c> is): features of very different units keep their own variances, and the
/// estimate stays positive definite with fewer rows than features. A feature that is constant in training (which the flow's
/// dynamics then hold, <see cref="GaussianStage.Varying"/>) gets the varying features' typical scale (the geometric mean
/// of their standard deviations) and no correlation. Gross outliers are left out first (<see cref="GrossOutlierRule"/>).
/// Lattice features (<see cref="FeatureCells"/>) are fitted as dequantised: their uniform offsets' variance is added
/// (with a finite tail, whose t has no closed form, each pass after the first dequantises the rows with the same uniform
/// draws instead, from a generator of the fit's seed restarted at each pass). A low-rank correlation
/// (<see cref="CovarianceKind.LowRank"/>) is fitted within a basis chosen beforehand on a sample (<see cref="RankChoice"/>):
/// its last pass sums the projections on the basis, k x k values instead of d x d, and the directions and their variances
/// are those of that k x k matrix (Rayleigh and Ritz's estimate within the basis).
/// </remarks>
internal sealed class GaussianFit : IDisposable
{
    private readonly int dimension;
    private readonly RunningMoments moments = new();        // pass 1: of x
    private readonly RunningMoments tailMoments = new();    // the tail pass: of t
    private long correlationCount;
    private Tensor? cross;                  // last pass: sum of v v^T, [d, d] (of w w^T, w = B^T v, [k, k] for a low rank)
    private double fourthMoment;            // last pass: sum of |v|^4
    private double squaredNorms;            // last pass: sum of |v|^2
    private readonly LowRankBasis? basis;   // a low rank's basis B [d, k] and shrinkage
    private Tensor? basisTensor;            // B on this fit's varying features, orthonormal, float64 (the last pass's)
    private double[]? finalMean, finalScale, finalTailMean, finalTailScale;
    private bool[]? constant;
    private readonly FeatureCells cells;
    private readonly double tail;
    private readonly int seed;
    private Generator? offsets;

    /// <summary>
    /// A fit of rows of <paramref name="dimension"/> features, whose lattice features are dequantised over
    /// <paramref name="cells"/>, with marginals of tail <paramref name="tail"/> (+infinity: the plain Gaussian);
    /// <paramref name="seed"/> seeds the dequantisation draws of a finite tail; <paramref name="basis"/> is the basis of a
    /// low-rank correlation and its shrinkage (<see cref="RankChoice"/>; needed for <see cref="CovarianceKind.LowRank"/> only).
    /// </summary>
    public GaussianFit(int dimension, FeatureCells cells, double tail = double.PositiveInfinity, int seed = 0, LowRankBasis? basis = null)
    {
        if (!(tail > 0))
            throw new ArgumentOutOfRangeException(nameof(tail), tail, "The tail parameter must be positive (or +infinity).");
        if (basis is not null && basis.Directions.GetLength(0) != dimension)
            throw new ArgumentException($"The basis has {basis.Directions.GetLength(0)} rows; the fit has {dimension} features.", nameof(basis));
        this.basis = basis;
        this.dimension = dimension;
        this.cells = cells;
        this.tail = tail;
        this.seed = seed;
    }

    // Whether the fit makes the tail pass between the first pass and the correlation's.
    private bool HasTailPass => double.IsFinite(tail);

    /// <summary>
    /// A float64 stage of <paramref name="covariance"/> with tail <paramref name="tail"/>, fitted to rows [m, d] held in
    /// memory and already dequantised (no lattice cells), and how many features vary in them: what the tail and rank
    /// choices score their held-out rows with.
    /// </summary>
    public static (GaussianStage Stage, int Varying) InMemoryStage(Tensor rows, double tail, CovarianceKind covariance)
    {
        int d = (int)rows.shape[1];
        using var fit = new GaussianFit(d, FeatureCells.None(d), tail);
        fit.AddMoments(rows);
        fit.EndMoments();
        // A view per pass: the passes dispose their blocks, and the caller's rows serve again.
        fit.AddLaterPasses(() => new[] { rows.alias() }, covariance);
        var stage = new GaussianStage(d, covariance);
        stage.to(ScalarType.Float64);
        fit.SetStage(stage);
        return (stage, d - fit.ConstantFeatures.Length);
    }

    /// <summary>First pass: adds a block of rows [b, d] (any floating type) to the means and variances.</summary>
    public void AddMoments(Tensor block)
    {
        using var scope = NewDisposeScope();
        moments.Add(block.to(ScalarType.Float64));
    }

    /// <summary>Features with no spread in the rows (after <see cref="EndMoments"/>): they get the varying features' typical scale.</summary>
    public int[] ConstantFeatures =>
        constant is null ? throw new InvalidOperationException("The first pass has not ended.") : Enumerable.Range(0, dimension).Where(j => constant[j]).ToArray();

    /// <summary>Ends the first pass: fixes the means and the (population) standard deviations.</summary>
    public void EndMoments()
    {
        if (moments.Count == 0)
            throw new InvalidOperationException("No rows were added to the Gaussian fit.");
        var (mean, variance) = moments.End();
        finalMean = mean;
        finalScale = new double[dimension];
        constant = new bool[dimension];
        for (int j = 0; j < dimension; j++)
        {
            // Dequantised over a cell of width w, a lattice feature gains the uniform offset's variance w^2 / 12.
            double sd = Math.Sqrt(variance[j] + cells.Width[j] * cells.Width[j] / 12);
            // Below float's resolution of the mean the spread is rounding, not data.
            constant[j] = !(sd > 1e-7 * Math.Abs(finalMean[j])) || sd == 0;
            finalScale[j] = sd;
        }
        double typical = TypicalScale(finalScale, constant);
        for (int j = 0; j < dimension; j++)
            if (constant[j])
                finalScale[j] = typical;
        if (HasTailPass)
            RestartOffsets();
    }

    /// <summary>
    /// The passes after the first (<see cref="EndMoments"/>): the tail pass where the tail is finite, then the correlation
    /// pass for a full or low-rank covariance, each over a new enumeration of <paramref name="blocks"/> (the same rows in the same
    /// order every time); each block is disposed once added, so views of a larger tensor may be given.
    /// </summary>
    public void AddLaterPasses(Func<IEnumerable<Tensor>> blocks, CovarianceKind covariance) =>
        LaterPasses(new[] { this }, blocks, null, covariance);

    /// <summary>
    /// Fits several Gaussians of one tail, each to the same <paramref name="sharedBlocks"/> followed by rows of its own
    /// (<paramref name="ownRows"/> of its index, disposed once added; they may have no rows), in every pass: each pass
    /// enumerates the shared blocks once for all of them, so that streamed data are read one to three times whatever the
    /// number of fits. Each fit sees its rows in the order a fit of its own would, and ends as that fit would. Their
    /// correlation sums are held at once: d x d float64 values per fit (k x k and a d x k basis for a low rank).
    /// </summary>
    public static void FitTogether(IReadOnlyList<GaussianFit> fits, Func<IEnumerable<Tensor>> sharedBlocks, Func<int, Tensor> ownRows, CovarianceKind covariance)
    {
        if (fits.Count == 0)
            throw new ArgumentException("No fit to make.", nameof(fits));
        if (fits.Any(fit => fit.tail != fits[0].tail))
            throw new ArgumentException("The fits must share their tail, which sets their passes.", nameof(fits));
        Pass(fits, sharedBlocks, ownRows, (fit, block) => fit.AddMoments(block));
        foreach (GaussianFit fit in fits)
            fit.EndMoments();
        LaterPasses(fits, sharedBlocks, ownRows, covariance);
    }

    // The passes after the first, for fits of one tail.
    private static void LaterPasses(IReadOnlyList<GaussianFit> fits, Func<IEnumerable<Tensor>> sharedBlocks, Func<int, Tensor>? ownRows, CovarianceKind covariance)
    {
        if (fits.Any(fit => fit.finalMean is null))
            throw new InvalidOperationException("The first pass has not ended.");
        if (fits[0].HasTailPass)
        {
            Pass(fits, sharedBlocks, ownRows, (fit, block) => fit.AddTailMoments(block));
            foreach (GaussianFit fit in fits)
                fit.EndTailMoments();
        }
        if (covariance == CovarianceKind.Full || covariance == CovarianceKind.LowRank && fits[0].Rank > 0)
            Pass(fits, sharedBlocks, ownRows, (fit, block) => fit.AddCorrelation(block));
    }

    // The rank of a low-rank fit's basis (0 without one: a diagonal Gaussian).
    private int Rank => basis?.Rank ?? 0;

    // One pass: each shared block to every fit, then each fit's own rows to it.
    private static void Pass(IReadOnlyList<GaussianFit> fits, Func<IEnumerable<Tensor>> sharedBlocks, Func<int, Tensor>? ownRows, Action<GaussianFit, Tensor> add)
    {
        foreach (Tensor block in sharedBlocks())
            using (block)
                foreach (GaussianFit fit in fits)
                    add(fit, block);
        if (ownRows is null)
            return;
        for (int i = 0; i < fits.Count; i++)
            using (Tensor rows = ownRows(i))
                if (rows.shape[0] > 0)
                    add(fits[i], rows);
    }

    // The tail pass: adds a block of rows [b, d] to the means and variances of t = c asinh(u / c).
    private void AddTailMoments(Tensor block)
    {
        using var scope = NewDisposeScope();
        tailMoments.Add(Tails(Standardize(Dequantized(block.to(ScalarType.Float64)))));
    }

    // Ends the tail pass: fixes the means and standard deviations of t.
    private void EndTailMoments()
    {
        if (tailMoments.Count == 0)
            throw new InvalidOperationException("The tail pass added no rows.");
        var (mean, variance) = tailMoments.End();
        finalTailMean = mean;
        finalTailScale = variance.Select((v, j) => constant![j] ? 1 : Math.Sqrt(v)).ToArray();
        RestartOffsets();
    }

    // The last pass: adds a block of rows [b, d] to the correlation of the standardised rows (of the standardised t with a
    // finite tail).
    private void AddCorrelation(Tensor block)
    {
        using var scope = NewDisposeScope();
        Tensor u = HasTailPass
            ? StandardizeTails(Tails(Standardize(Dequantized(block.to(ScalarType.Float64)))))
            : Standardize(block.to(ScalarType.Float64));
        basisTensor ??= basis is null ? null : OnVaryingFeatures(tensor(basis.Directions)).MoveToOuterDisposeScope();
        Tensor projected = basisTensor is null ? u : u.matmul(basisTensor);
        Tensor blockCross = projected.t().matmul(projected);
        Tensor rowNorms = (u * u).sum(1);
        fourthMoment += (rowNorms * rowNorms).sum().item<double>();
        squaredNorms += rowNorms.sum().item<double>();
        correlationCount += u.shape[0];
        if (cross is null)
        {
            cross = blockCross.MoveToOuterDisposeScope();
        }
        else
        {
            cross.PlusInPlace(blockCross);
        }
    }

    /// <summary>
    /// Sets <paramref name="stage"/> (of this fit's dimension) to the fitted Gaussian, its lattice cells, its constant
    /// features and its tail.
    /// </summary>
    public void SetStage(GaussianStage stage)
    {
        var (mean, scale, factor, tails, lowRank) = Finish(stage.Covariance);
        stage.Set(mean, scale, factor, cells, constant, tails, lowRank);
    }

    // The fitted Gaussian: means, standard deviations, for a full covariance the correlation's Cholesky factor, for a
    // low-rank one its directions and scales, and with a finite tail its marginals (null otherwise).
    private (double[] Mean, double[] Scale, double[,]? CorrelationFactor, TailMarginals? Tails, LowRankCorrelation? LowRank) Finish(CovarianceKind covariance)
    {
        if (finalMean is null || finalScale is null)
            throw new InvalidOperationException("The first pass has not ended.");
        if (HasTailPass && finalTailMean is null)
            throw new InvalidOperationException("The tail pass has not ended.");
        TailMarginals? tails = HasTailPass ? new TailMarginals(tail, finalTailMean!, finalTailScale!) : null;
        Dispose();
        if (covariance == CovarianceKind.Diagonal || covariance == CovarianceKind.LowRank && Rank == 0)
            return (finalMean, finalScale, null, tails, null);
        if (cross is null)
            throw new InvalidOperationException("The correlation pass added no rows.");
        using var scope = NewDisposeScope();
        double n = correlationCount;
        // The offsets are independent of everything: they add to the diagonal only, which is then 1 for every varying
        // feature. With a finite tail the rows were dequantised by draws, whose spread is in the sample already.
        Tensor offsetVariance = tensor(cells.Width.Select((w, j) => HasTailPass ? 0 : w * w / 12 / (finalScale[j] * finalScale[j])).ToArray());
        int varying = constant!.Count(c => !c);
        if (covariance == CovarianceKind.LowRank)
            return (finalMean, finalScale, null, tails, LowRankWithinBasis(n, offsetVariance, varying));
        Tensor s = cross.Times(1.0 / n).Plus(offsetVariance.diag());
        double shrinkage = varying == 0 ? 1 : LedoitWolfIntensity(s.trace().item<double>(), (s * s).sum().item<double>(), fourthMoment / n, n, varying);
        Tensor identity = eye(dimension, dtype: ScalarType.Float64);
        Tensor correlation = s.Times(1 - shrinkage).Plus(identity.Times(shrinkage));
        // Constant features: unit variance, uncorrelated (their rows and columns of s are zero).
        Tensor constantMask = tensor(constant!.Select(c => c ? 1.0 : 0.0).ToArray());
        correlation = correlation.Plus(constantMask.diag().Times(1 - shrinkage));
        cross.Dispose();
        return (finalMean, finalScale, Cholesky(correlation), tails, null);
    }

    /// <summary>
    /// The low-rank correlation within the basis B: the eigenpairs (lambda, Q) of B^T S B, S the rows' correlation, give
    /// the directions B Q and their variances; the other directions of the varying features share what is left of S's
    /// trace (their number, each of unit variance), s^2 = (p - sum lambda) / (p - k). Floors keep a direction the rows
    /// leave flat (or a basis as wide as the rows' span) from a zero scale. The basis's shrinkage then moves lambda and s^2
    /// towards 1, as a full correlation is shrunk towards the identity.
    /// </summary>
    private LowRankCorrelation? LowRankWithinBasis(double n, Tensor offsetVariance, int varying)
    {
        Tensor b = basisTensor!;
        int k = (int)b.shape[1];
        if (k == 0)
            return null;
        Tensor within = cross!.Times(1.0 / n).Plus(b.t().matmul(offsetVariance.unsqueeze(1) * b));
        var (values, vectors) = linalg.eigh(within);
        // eigh sorts ascending; the leading direction first.
        values = values.flip(0).Clamp(MinimumVariance, double.MaxValue);
        Tensor directions = b.matmul(vectors.flip(1));
        double trace = squaredNorms / n + offsetVariance.sum().item<double>();
        double residual = Math.Max((trace - values.sum().item<double>()) / Math.Max(1, varying - k), MinimumVariance);
        // Shrunk towards the identity as a full correlation is: with a basis spanning the rows, this is Ledoit and Wolf's.
        double shrinkage = basis!.Shrinkage;
        values = values.Times(1 - shrinkage).Plus(shrinkage);
        residual = (1 - shrinkage) * residual + shrinkage;
        double[] ratio = values.Times(1 / residual).sqrt().data<double>().ToArray();
        cross!.Dispose();
        basisTensor!.Dispose();
        basisTensor = null;
        return new LowRankCorrelation(ToArray(directions), ratio, Math.Sqrt(residual));
    }

    /// <summary>
    /// The basis with its rows on this fit's constant features set to zero, orthonormal again (the stage needs U to be zero
    /// there). The sample that chose it had those features constant too, so this is the basis itself but where a feature
    /// varies in the sample's rows only at a spread below the constant rule's; then its directions are orthonormalised
    /// (QR) and any that vanish dropped.
    /// </summary>
    private Tensor OnVaryingFeatures(Tensor b)
    {
        using var scope = NewDisposeScope();
        Tensor masked = b * Varying().unsqueeze(1);
        if ((masked - b).abs().max().item<double>() == 0)
            return masked.MoveToOuterDisposeScope();
        var (q, r) = linalg.qr(masked);
        long[] kept = Enumerable.Range(0, (int)b.shape[1]).Where(j => Math.Abs(r[j, j].item<double>()) > 1e-8).Select(j => (long)j).ToArray();
        return (q.index_select(1, tensor(kept)) * Varying().unsqueeze(1)).MoveToOuterDisposeScope();
    }

    // The least variance (in units of a standardised feature's) a low-rank correlation gives a direction.
    private const double MinimumVariance = 1e-6;

    /// <summary>
    /// Ledoit and Wolf's optimal intensity for shrinking a sample correlation s (over <paramref name="varying"/> non-constant
    /// features, of unit variance, from <paramref name="n"/> rows u) towards the identity, from its trace, its squared
    /// Frobenius norm |s|_F^2 and the rows' mean |u|^4: min(beta, delta) / delta with delta = |s - mu I|_F^2 / p,
    /// mu = trace / p, and beta = (mean |u|^4 - |s|_F^2) / (p n). Two rows or fewer give the identity (intensity 1).
    /// </summary>
    internal static double LedoitWolfIntensity(double trace, double frobenius, double meanFourthMoment, double n, int varying)
    {
        // Two rows standardise to u and -u, so every correlation they estimate is +-1 and beta is exactly 0: unshrunk, the
        // correlation has rank 1, and a row off its line scored -1e10 (the held-out refits of a detector trained on three
        // rows set its threshold at 6.8e9 nats). They say nothing of the correlation.
        if (n <= 2)
            return 1;
        double mu = trace / varying;
        double delta = (frobenius - 2 * mu * trace + varying * mu * mu) / varying;
        double beta = (meanFourthMoment - frobenius) / (varying * n);
        if (!(delta > 0))
            return 0;
        return Math.Clamp(Math.Min(beta, delta) / delta, 0, 1);
    }

    /// <summary>
    /// The scale a constant feature gets: the geometric mean of the varying features' standard deviations (1 when none
    /// varies). The rows say nothing about that feature's spread, so any scale is a convention; this one keeps the
    /// model's ranking of rows unchanged when every feature's units change by one factor (pixels as 0-255 or 0-1), which
    /// a fixed unit scale in data units does not, and, unlike the mean variance that a covariance shrinkage such as
    /// scikit-learn's LedoitWolf gives it, is not set by the one feature with the largest units.
    /// </summary>
    private static double TypicalScale(double[] scale, bool[] constant)
    {
        double logSum = 0;
        int varying = 0;
        for (int j = 0; j < scale.Length; j++)
        {
            if (constant[j])
                continue;
            logSum += Math.Log(scale[j]);
            varying++;
        }
        return varying == 0 ? 1 : Math.Exp(logSum / varying);
    }

    private Tensor Standardize(Tensor x)
    {
        Tensor u = (x - tensor(finalMean!)) / tensor(finalScale!);
        // A constant feature standardises to exact zeros, whatever the rounding of its mean.
        return u * Varying();
    }

    private Tensor Varying() => tensor(constant!.Select(c => c ? 0.0 : 1.0).ToArray());

    private Tensor Tails(Tensor u) => GaussianStage.HeavierTails(u, tail);

    private Tensor StandardizeTails(Tensor t) => (t - tensor(finalTailMean!)) / tensor(finalTailScale!) * Varying();

    // Lattice features spread over their cells by the pass's uniform draws (the same draws in every pass after the first).
    private Tensor Dequantized(Tensor x) => cells.Width.All(w => w == 0) ? x : cells.Dequantized(x, offsets);

    private void RestartOffsets()
    {
        offsets?.Dispose();
        offsets = new Generator((ulong)(uint)seed);
    }

    /// <summary>The Cholesky factor of a correlation matrix, with a growing ridge if rounding made it indefinite.</summary>
    private static double[,] Cholesky(Tensor correlation)
    {
        int d = (int)correlation.shape[0];
        for (double ridge = 0; ridge <= 1; ridge = ridge == 0 ? 1e-10 : ridge * 100)
        {
            Tensor candidate = ridge == 0 ? correlation : correlation.Plus(eye(d, dtype: ScalarType.Float64).Times(ridge)).Times(1 / (1 + ridge));
            var (factor, info) = linalg.cholesky_ex(candidate);
            if (info.item<int>() == 0 && factor.isfinite().all().item<bool>())
                return ToArray(factor);
        }
        return ToArray(eye(d, dtype: ScalarType.Float64));
    }

    /// <summary>A float64 matrix as an array of its shape.</summary>
    internal static double[,] ToArray(Tensor matrix)
    {
        var result = new double[matrix.shape[0], matrix.shape[1]];
        // TorchSharp's accessor throws on an empty tensor (a basis of rank 0).
        if (matrix.numel() == 0)
            return result;
        double[] flat = matrix.contiguous().data<double>().ToArray();
        Buffer.BlockCopy(flat, 0, result, 0, flat.Length * sizeof(double));
        return result;
    }

    /// <summary>
    /// Releases the dequantisation draws' generator (a finite tail's), which <see cref="SetStage"/> releases too; the running
    /// sums are tensors of the caller's dispose scope.
    /// </summary>
    public void Dispose()
    {
        offsets?.Dispose();
        offsets = null;
    }

    /// <summary>Per-feature means and variances of blocks of rows, merged by Chan et al.'s pairwise update, in float64.</summary>
    private sealed class RunningMoments
    {
        private Tensor? mean, squares;

        public long Count { get; private set; }

        public void Add(Tensor x)
        {
            long b = x.shape[0];
            if (b == 0)
                return;
            Tensor blockMean = x.mean(new long[] { 0 });
            Tensor centred = x - blockMean;
            Tensor blockSquares = (centred * centred).sum(new long[] { 0 });
            if (Count == 0)
            {
                mean = blockMean.MoveToOuterDisposeScope();
                squares = blockSquares.MoveToOuterDisposeScope();
            }
            else
            {
                Tensor delta = blockMean - mean!;
                double total = Count + b;
                Tensor newMean = mean!.Plus(delta.Times(b / total));
                Tensor newSquares = squares!.Plus(blockSquares).Plus((delta * delta).Times(Count * (double)b / total));
                mean!.Dispose();
                squares!.Dispose();
                mean = newMean.MoveToOuterDisposeScope();
                squares = newSquares.MoveToOuterDisposeScope();
            }
            Count += b;
        }

        /// <summary>The means and (population) variances, releasing the running sums.</summary>
        public (double[] Mean, double[] Variance) End()
        {
            double[] m = mean!.data<double>().ToArray();
            double[] variance = squares!.data<double>().Select(s => s / Count).ToArray();
            mean.Dispose();
            squares.Dispose();
            return (m, variance);
        }
    }
}
