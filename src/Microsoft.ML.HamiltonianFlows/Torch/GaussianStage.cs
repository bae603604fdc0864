using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.HamiltonianFlows.Torch;

/// <summary>
/// The flow's first stage: a Gaussian N(mean, D R D) fitted to the training rows (per-feature means and standard
/// deviations D, a shrunk correlation matrix R = L L^T), applied as the whitening z = L^-1 D^-1 (x - mean). The
/// leapfrog dynamics act on z, whose base law is N(0, I); its log-Jacobian -sum log D - sum log diag L enters every
/// log-likelihood, so they are densities of x. With the quadratic part of the potential (<see cref="Potential"/>) and the
/// fixed quadratic kinetic energy the untrained flow is this Gaussian (up to the leapfrog's O(eps^2) error), and training
/// adds only what the data support; a learned (neural) kinetic energy starts as a random network, so that flow is not. R may also be the identity (a diagonal
/// Gaussian) or of low rank plus a constant, whose whitening is its inverse square root (remarks).
/// </summary>
/// <remarks>
/// <para>
/// Heavier tails, where the training rows' own held-out rows ask for them (<see cref="Training.TailChoice"/>): with a
/// finite <see cref="Tail"/> c, each standardised feature u = (x - mean) / D is passed through t = c asinh(u / c) and
/// standardised again, v = (t - m_t) / s_t, before the whitening z = L^-1 v, R now the correlation of v. Each marginal is
/// then Johnson's S_U law (a Gaussian for small |u|, tails decaying as a power of |u| rather than as exp(-u^2 / 2)), and
/// the log-Jacobian gains -sum log s_t - 1/2 sum log(1 + (u / c)^2), which depends on the row. c = infinity is the
/// plain Gaussian above.
/// </para>
/// <para>
/// Identity until <see cref="Set"/> is called (the posterior sampler never calls it). With
/// <see cref="CovarianceKind.Diagonal"/> R is the identity and no d x d matrix is stored. With
/// <see cref="CovarianceKind.LowRank"/> R = s^2 (I - U U^T) + U diag(lambda) U^T over the varying features (U a d x k
/// orthonormal basis, zero on constant features; lambda the variances along it, s^2 the mean of the others: Tipping
/// and Bishop's probabilistic PCA of the standardised features), and the whitening is its symmetric inverse square root
/// z = y + U diag(1 / r - 1) U^T y with y = v / s and r = sqrt(lambda) / s: each z_j stays the j-th feature's coordinate,
/// and the log-Jacobian gains -(varying features) log s - sum log r. The basis is stored with
/// <see cref="FlowArchitecture.MaxRank"/> columns (fewer where d is smaller) whatever k is: unused columns are zero with
/// r = 1, so they change nothing, and a model file's shapes do not depend on its data.
/// </para>
/// </remarks>
public sealed class GaussianStage : nn.Module<Tensor, Tensor>
{
    private readonly Tensor mean;
    private readonly Tensor scale;
    // Lower-triangular L and L^-1 (full covariance only): sampling needs L, scoring L^-1.
    private readonly Tensor? factor;
    private readonly Tensor? inverseFactor;

    // Low-rank correlation only: the orthonormal basis U [d, columns], r = sqrt(lambda) / s per column (1 for an unused
    // column) and s, the scale of the varying features' other directions (0-dimensional).
    private readonly Tensor? basis;
    private readonly Tensor? basisScale;
    private readonly Tensor? residualScale;

    // Lattice features (counts, codes, pixel levels): spacing of their values, 0 for a continuous feature, and a value on
    // the lattice. The Gaussian and the flow model x + width (u - 1/2), u ~ U[0, 1): a continuous density cannot put mass
    // on points, and fitted to raw integers it would buy unbounded likelihood by concentrating on them.
    private readonly Tensor cellWidth;
    private readonly Tensor cellOrigin;

    // The tail parameter c (0-dimensional; 0 stands for c = infinity, the plain Gaussian, so that every buffer stays
    // finite and the candidates 1, 2, 3, 5, 10 are stored exactly) and the mean m_t and scale s_t of t = c asinh(u / c)
    // per feature (0 and 1 for the plain Gaussian).
    private readonly Tensor tail;
    private readonly Tensor tailMean;
    private readonly Tensor tailScale;

    /// <summary>The state keys of the tail's buffers (weights format 6).</summary>
    internal static readonly string[] TailStateKeys = { nameof(tail), nameof(tailMean), nameof(tailScale) };

    // 1 for a feature that varies in the training rows, 0 for one that is constant there. The flow's dynamics leave the
    // constant ones where they are (HamiltonianFlow): rows that all share a value give no density to learn, and a flow
    // free to move that coordinate would concentrate its mass on the value and buy unbounded likelihood.
    private readonly Tensor varying;

    /// <summary>The state key of the varying features' mask (weights format 7).</summary>
    internal const string VaryingStateKey = nameof(varying);

    // sinh(80) is about 3e34: the inverse clamps t / c there, since float32's sinh overflows near 89.
    private const double MaximumTailArgument = 80;

    internal GaussianStage(int dimension, CovarianceKind covariance) : base(nameof(GaussianStage))
    {
        Covariance = covariance;
        mean = zeros(dimension);
        scale = ones(dimension);
        cellWidth = zeros(dimension);
        cellOrigin = zeros(dimension);
        register_buffer(nameof(mean), mean);
        register_buffer(nameof(scale), scale);
        register_buffer(nameof(cellWidth), cellWidth);
        register_buffer(nameof(cellOrigin), cellOrigin);
        tail = zeros(Array.Empty<long>());
        tailMean = zeros(dimension);
        tailScale = ones(dimension);
        register_buffer(nameof(tail), tail);
        register_buffer(nameof(tailMean), tailMean);
        register_buffer(nameof(tailScale), tailScale);
        varying = ones(dimension);
        register_buffer(nameof(varying), varying);
        if (covariance == CovarianceKind.Full)
        {
            factor = eye(dimension);
            inverseFactor = eye(dimension);
            register_buffer(nameof(factor), factor);
            register_buffer(nameof(inverseFactor), inverseFactor);
        }
        else if (covariance == CovarianceKind.LowRank)
        {
            basis = zeros(dimension, BasisColumns(dimension));
            basisScale = ones(BasisColumns(dimension));
            residualScale = ones(Array.Empty<long>());
            register_buffer(nameof(basis), basis);
            register_buffer(nameof(basisScale), basisScale);
            register_buffer(nameof(residualScale), residualScale);
        }
        else if (covariance != CovarianceKind.Diagonal)
        {
            throw new ArgumentException($"A stage's covariance is Full, Diagonal or LowRank, got {covariance}.", nameof(covariance));
        }
    }

    /// <summary>Columns of a low-rank stage's stored basis for <paramref name="dimension"/> features: the most its rank can be.</summary>
    internal static int BasisColumns(int dimension) => Math.Min(FlowArchitecture.MaxRank, dimension);

    /// <summary>Full, diagonal or low-rank covariance (resolved, never <see cref="CovarianceKind.Automatic"/>).</summary>
    public CovarianceKind Covariance { get; }

    /// <summary>Per-feature mean of the Gaussian, [d].</summary>
    public Tensor Mean => mean;

    /// <summary>Per-feature standard deviation D of the Gaussian, [d].</summary>
    public Tensor Scale => scale;

    /// <summary>The tail parameter c of the marginals t = c asinh(u / c); +infinity for the plain Gaussian.</summary>
    public double Tail
    {
        get
        {
            // Read from the buffer each time (not cached): loading weights replaces it.
            using var noGrad = no_grad();
            using Tensor stored = tail.to(ScalarType.Float64);
            double c = stored.item<double>();
            return c > 0 ? c : double.PositiveInfinity;
        }
    }

    /// <summary>
    /// 1 for each feature that varies in the training rows, 0 for one that is constant there, [d] (all 1 until fitted). A
    /// constant feature is scored by the stage alone (the varying features' typical scale, no correlation) and sampled as
    /// its training value: the flow's dynamics do not move it.
    /// </summary>
    public Tensor Varying => varying;

    /// <summary>Whether some feature was constant in the training rows (<see cref="Varying"/> has a 0).</summary>
    public bool HasConstantFeatures => AnyFeature(varying, buffer => buffer.Below(1));

    /// <summary>Spacing of each lattice feature's values, 0 for a continuous feature, [d].</summary>
    public Tensor CellWidth => cellWidth;

    /// <summary>Whether some feature lies on a lattice, so that scoring dequantises.</summary>
    public bool HasCells => AnyFeature(cellWidth, buffer => buffer.Above(0));

    // Whether the condition holds for some feature of a per-feature buffer. Read from the buffer each time (not cached):
    // loading weights replaces it.
    private static bool AnyFeature(Tensor buffer, Func<Tensor, Tensor> condition)
    {
        using var noGrad = no_grad();
        using Tensor holds = condition(buffer);
        using Tensor any = holds.any();
        return any.item<bool>();
    }

    /// <summary>x + width (u - 1/2) for rows x and uniforms u of the same shape: each lattice value spread over its cell.</summary>
    public Tensor Dequantize(Tensor x, Tensor uniform) => SpreadOverCells(x, cellWidth, uniform);

    /// <summary>x + width (u - 1/2): the lattice values of rows x spread over their cells by uniforms u (the stage's and the fit's one formula).</summary>
    internal static Tensor SpreadOverCells(Tensor x, Tensor width, Tensor uniform) => x.Plus(width * uniform.Plus(-0.5));

    /// <summary>t = c asinh(u / c) of standardised rows u, for a finite tail c (the stage's and the fit's one formula).</summary>
    internal static Tensor HeavierTails(Tensor u, double c) => u.Times(1 / c).asinh().Times(c);

    /// <summary>Rows moved to the nearest lattice value on lattice features (samples of counts are counts).</summary>
    public Tensor Quantize(Tensor x) =>
        HasCells ? where(cellWidth.Above(0), cellOrigin.Plus(((x - cellOrigin) / cellWidth).round() * cellWidth), x) : x;

    /// <summary>
    /// The Gaussian's covariance D R D, [d, d] (a new tensor): the covariance of the stage's law when <see cref="Tail"/> is
    /// infinite. With a finite tail R is the correlation of the standardised t, and D R D is not the law's covariance.
    /// </summary>
    public Tensor CovarianceMatrix()
    {
        Tensor correlation = factor is not null ? factor.matmul(factor.t())
            : basis is not null ? (ResidualScales() * ResidualScales()).diag().Plus((basis * (basisScale! * basisScale!).Plus(-1)).matmul(basis.t()) * residualScale! * residualScale!)
            : eye(mean.shape[0], dtype: mean.dtype, device: mean.device);
        return scale.unsqueeze(1) * correlation * scale.unsqueeze(0);
    }

    /// <summary>The rank k of a low-rank stage's correlation (its basis columns in use); 0 for other kinds.</summary>
    public int Rank
    {
        get
        {
            if (basis is null)
                return 0;
            using var noGrad = no_grad();
            using Tensor magnitude = basis.abs();
            using Tensor used = magnitude.Above(0).any(0);
            using Tensor count = used.sum();
            return (int)count.item<long>();
        }
    }

    // s for each varying feature, 1 for a constant one (which stays uncorrelated at its conventional scale), [d].
    private Tensor ResidualScales() => (varying * residualScale!.Plus(-1)).Plus(1);

    /// <summary>
    /// Sets the Gaussian: <paramref name="featureMean"/> and <paramref name="standardDeviation"/> per feature (each
    /// positive), the Cholesky factor L of the correlation matrix (ignored, and may be null, for a diagonal or low-rank
    /// stage), and the lattice features' cells, which features are <paramref name="constant"/> in the training rows (null:
    /// none), the tail c with the mean and scale of t = c asinh(u / c) per feature (null when c is infinite), and a
    /// low-rank stage's correlation (null: the identity).
    /// </summary>
    internal void Set(double[] featureMean, double[] standardDeviation, double[,]? correlationFactor, FeatureCells cells, bool[]? constant = null, TailMarginals? tails = null,
        LowRankCorrelation? lowRank = null)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        mean.copy_(tensor(featureMean));
        scale.copy_(tensor(standardDeviation));
        cellWidth.copy_(tensor(cells.Width));
        cellOrigin.copy_(tensor(cells.Origin));
        varying.copy_(constant is null ? ones(featureMean.Length) : tensor(constant.Select(c => c ? 0.0 : 1.0).ToArray()));
        using (Scalar c = (tails is null ? 0 : tails.Tail).ToScalar())
            tail.fill_(c);
        tailMean.copy_(tensor(tails?.Mean ?? new double[featureMean.Length]));
        tailScale.copy_(tails is null ? ones(featureMean.Length) : tensor(tails.Scale));
        if (factor is not null)
        {
            if (correlationFactor is null)
                throw new ArgumentNullException(nameof(correlationFactor), "A full-covariance stage needs the correlation's Cholesky factor.");
            Tensor l = tensor(correlationFactor);
            factor.copy_(l);
            // Triangular solve, not a general inverse: L is well conditioned by the shrinkage and stays lower-triangular.
            inverseFactor!.copy_(linalg.solve_triangular(l, eye(l.shape[0], dtype: l.dtype), upper: false));
        }
        if (basis is not null)
        {
            int k = lowRank?.Ratio.Length ?? 0;
            if (k > basis.shape[1])
                throw new ArgumentException($"A rank of {k} exceeds the stage's {basis.shape[1]} basis columns.", nameof(lowRank));
            using Scalar one = 1.0.ToScalar();
            basis.zero_();
            basisScale!.fill_(one);
            residualScale!.fill_(one);
            if (k > 0)
            {
                basis.narrow(1, 0, k).copy_(tensor(lowRank!.Basis));
                basisScale.narrow(0, 0, k).copy_(tensor(lowRank.Ratio));
                using Scalar s = lowRank.ResidualScale.ToScalar();
                residualScale.fill_(s);
            }
        }
    }

    /// <summary>
    /// z = L^-1 D^-1 (x - mean) for rows x of shape [n, d] (with a finite <see cref="Tail"/>, z = L^-1 v; a low-rank stage
    /// applies R^-1/2 in place of L^-1, a diagonal one nothing).
    /// </summary>
    public override Tensor forward(Tensor x) => Whiten(x).Z;

    /// <summary>
    /// The whitened rows z and log |dz/dx| per row, [n]: -sum log D - sum log diag L (for a low-rank stage
    /// -(varying features) log s - sum log r in place of the last term), and with a finite <see cref="Tail"/> also
    /// -sum log s_t - 1/2 sum log(1 + (u / c)^2).
    /// </summary>
    public (Tensor Z, Tensor LogJacobian) Whiten(Tensor x)
    {
        Tensor u = (x - mean) / scale;
        Tensor logJacobian = ConstantLogJacobian();
        double c = Tail;
        if (double.IsFinite(c))
        {
            Tensor ratio = u.Times(1 / c);
            // 1/2 log(1 + r^2) as log hypot(1, r): r^2 overflows float32 for a row 1e19 scales out, hypot does not.
            logJacobian = logJacobian - ratio.hypot(ones_like(ratio)).log().sum(1);
            u = (HeavierTails(u, c) - tailMean) / tailScale;
        }
        else
        {
            logJacobian = logJacobian.expand(x.shape[0]);
        }
        if (inverseFactor is not null)
            return (u.matmul(inverseFactor.t()), logJacobian);
        if (basis is null)
            return (u, logJacobian);
        Tensor y = u / ResidualScales();
        return (y.Plus(y.matmul(basis).mul(basisScale!.reciprocal().Plus(-1)).matmul(basis.t())), logJacobian);
    }

    /// <summary>
    /// x = D L z + mean (with a finite <see cref="Tail"/>, u = c sinh(t / c) with t = s_t L z + m_t; R^1/2 in place of L for a
    /// low-rank stage): the inverse of <see cref="forward"/>.
    /// </summary>
    public Tensor Inverse(Tensor z)
    {
        Tensor u = factor is not null ? z.matmul(factor.t())
            : basis is not null ? z.Plus(z.matmul(basis).mul(basisScale!.Plus(-1)).matmul(basis.t())) * ResidualScales()
            : z;
        double c = Tail;
        if (double.IsFinite(c))
            u = (u * tailScale).Plus(tailMean).Times(1 / c).Clamp(-MaximumTailArgument, MaximumTailArgument).sinh().Times(c);
        return (u * scale).Plus(mean);
    }

    // The part of log |dz/dx| that is the same for every row: -sum log D - sum log s_t - sum log diag L, or for a low-rank
    // correlation -(varying features) log s - sum log r instead of the last term (a scalar tensor).
    private Tensor ConstantLogJacobian()
    {
        Tensor logDeterminant = scale.log().sum().Plus(tailScale.log().sum());
        if (factor is not null)
            logDeterminant = logDeterminant.Plus(factor.diagonal().log().sum());
        if (basis is not null)
            logDeterminant = logDeterminant.Plus(ResidualScales().log().sum()).Plus(basisScale!.log().sum());
        return -logDeterminant;
    }
}

/// <summary>
/// A <see cref="GaussianStage"/>'s low-rank correlation: the orthonormal basis U [d, k] (zero on constant features), the
/// ratio r = sqrt(lambda) / s of each direction's standard deviation to <paramref name="ResidualScale"/> s, that of the
/// other directions.
/// </summary>
internal sealed record LowRankCorrelation(double[,] Basis, double[] Ratio, double ResidualScale);

/// <summary>The tail c of a <see cref="GaussianStage"/>'s marginals t = c asinh(u / c) and the mean and scale of t per feature.</summary>
internal sealed record TailMarginals(double Tail, double[] Mean, double[] Scale);
