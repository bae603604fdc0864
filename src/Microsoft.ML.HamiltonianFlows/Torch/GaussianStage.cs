using static TorchSharp.torch;

namespace Microsoft.ML.HamiltonianFlows.Torch;

/// <summary>
/// The flow's first stage: a Gaussian N(mean, D R D) fitted to the training rows (per-feature means and standard
/// deviations D, a shrunk correlation matrix R = L L^T), applied as the whitening z = L^-1 D^-1 (x - mean). The
/// leapfrog dynamics act on z, whose base law is N(0, I); its log-Jacobian -sum log D - sum log diag L enters every
/// log-likelihood, so they are densities of x. With the quadratic part of the potential (<see cref="Potential"/>) the
/// untrained flow is this Gaussian, and training adds only what the data support.
/// </summary>
/// <remarks>
/// Identity until <see cref="Set"/> is called (the posterior sampler never calls it). With
/// <see cref="CovarianceKind.Diagonal"/> R is the identity and no d x d matrix is stored.
/// </remarks>
public sealed class GaussianStage : nn.Module<Tensor, Tensor>
{
    private readonly Tensor mean;
    private readonly Tensor scale;
    // Lower-triangular L and L^-1 (full covariance only): sampling needs L, scoring L^-1.
    private readonly Tensor? factor;
    private readonly Tensor? inverseFactor;

    // Lattice features (counts, codes, pixel levels): spacing of their values, 0 for a continuous feature, and a value on
    // the lattice. The Gaussian and the flow model x + width (u - 1/2), u ~ U[0, 1): a continuous density cannot put mass
    // on points, and fitted to raw integers it would buy unbounded likelihood by concentrating on them.
    private readonly Tensor cellWidth;
    private readonly Tensor cellOrigin;

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
        if (covariance == CovarianceKind.Full)
        {
            factor = eye(dimension);
            inverseFactor = eye(dimension);
            register_buffer(nameof(factor), factor);
            register_buffer(nameof(inverseFactor), inverseFactor);
        }
    }

    /// <summary>Full or diagonal covariance (resolved, never <see cref="CovarianceKind.Automatic"/>).</summary>
    public CovarianceKind Covariance { get; }

    /// <summary>Per-feature mean of the Gaussian, [d].</summary>
    public Tensor Mean => mean;

    /// <summary>Per-feature standard deviation D of the Gaussian, [d].</summary>
    public Tensor Scale => scale;

    /// <summary>Spacing of each lattice feature's values, 0 for a continuous feature, [d].</summary>
    public Tensor CellWidth => cellWidth;

    /// <summary>Whether some feature lies on a lattice, so that scoring dequantises.</summary>
    public bool HasCells
    {
        get
        {
            // Read from the buffer each time (not cached): loading weights replaces it.
            using var noGrad = no_grad();
            using Tensor any = cellWidth.Above(0).any();
            return any.item<bool>();
        }
    }

    /// <summary>x + width (u - 1/2) for rows x and uniforms u of the same shape: each lattice value spread over its cell.</summary>
    public Tensor Dequantize(Tensor x, Tensor uniform) => x.Plus(cellWidth * uniform.Plus(-0.5));

    /// <summary>Rows moved to the nearest lattice value on lattice features (samples of counts are counts).</summary>
    public Tensor Quantize(Tensor x) =>
        HasCells ? where(cellWidth.Above(0), cellOrigin.Plus(((x - cellOrigin) / cellWidth).round() * cellWidth), x) : x;

    /// <summary>The Gaussian's covariance D R D, [d, d] (a new tensor).</summary>
    public Tensor CovarianceMatrix()
    {
        Tensor correlation = factor is null ? eye(mean.shape[0], dtype: mean.dtype, device: mean.device) : factor.matmul(factor.t());
        return scale.unsqueeze(1) * correlation * scale.unsqueeze(0);
    }

    /// <summary>
    /// Sets the Gaussian: <paramref name="featureMean"/> and <paramref name="standardDeviation"/> per feature (each
    /// positive), the Cholesky factor L of the correlation matrix (ignored, and may be null, for a diagonal stage), and the
    /// lattice features' cells.
    /// </summary>
    internal void Set(double[] featureMean, double[] standardDeviation, double[,]? correlationFactor, FeatureCells cells)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        mean.copy_(tensor(featureMean));
        scale.copy_(tensor(standardDeviation));
        cellWidth.copy_(tensor(cells.Width));
        cellOrigin.copy_(tensor(cells.Origin));
        if (factor is not null)
        {
            if (correlationFactor is null)
                throw new ArgumentNullException(nameof(correlationFactor), "A full-covariance stage needs the correlation's Cholesky factor.");
            Tensor l = tensor(correlationFactor);
            factor.copy_(l);
            // Triangular solve, not a general inverse: L is well conditioned by the shrinkage and stays lower-triangular.
            inverseFactor!.copy_(linalg.solve_triangular(l, eye(l.shape[0], dtype: l.dtype), upper: false));
        }
    }

    /// <summary>z = L^-1 D^-1 (x - mean) for rows x of shape [n, d].</summary>
    public override Tensor forward(Tensor x)
    {
        Tensor u = (x - mean) / scale;
        return inverseFactor is null ? u : u.matmul(inverseFactor.t());
    }

    /// <summary>x = D L z + mean: the inverse of <see cref="forward"/>.</summary>
    public Tensor Inverse(Tensor z)
    {
        Tensor u = factor is null ? z : z.matmul(factor.t());
        return (u * scale).Plus(mean);
    }

    /// <summary>log |dz/dx| = -sum log D - sum log diag L (a scalar tensor).</summary>
    public Tensor LogJacobian()
    {
        Tensor logDeterminant = scale.log().sum();
        if (factor is not null)
            logDeterminant = logDeterminant.Plus(factor.diagonal().log().sum());
        return -logDeterminant;
    }
}
