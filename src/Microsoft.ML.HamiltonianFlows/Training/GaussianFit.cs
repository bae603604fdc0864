using Microsoft.ML.HamiltonianFlows.Torch;
using static TorchSharp.torch;

namespace Microsoft.ML.HamiltonianFlows.Training;

/// <summary>
/// Fits the <see cref="GaussianStage"/> to training rows, in float64, a block of rows at a time so that streamed data
/// fit the same way as a tensor: a first pass accumulates the per-feature means and variances (Chan et al.'s pairwise
/// update), a second the correlation of the standardised rows and the fourth moments Ledoit and Wolf's shrinkage needs.
/// </summary>
/// <remarks>
/// The correlation, not the covariance, is shrunk towards the identity (Ledoit and Wolf, 2004, applied to standardised
/// features, as scikit-learn's <c>ledoit_wolf</c> is): features of very different units keep their own variances, and the
/// estimate stays positive definite with fewer rows than features. A feature that is constant in training keeps
/// variance 1 in its own units and no correlation. Gross outliers are left out first (<see cref="GrossOutlierRule"/>).
/// Lattice features (<see cref="FeatureCells"/>) are fitted as dequantised: their uniform offsets' variance is added.
/// </remarks>
internal sealed class GaussianFit
{
    private readonly int dimension;
    private long count;
    private Tensor? mean, squares;          // pass 1: [d] each, float64
    private long correlationCount;
    private Tensor? cross;                  // pass 2: sum of u u^T, [d, d]
    private double fourthMoment;            // pass 2: sum of |u|^4
    private double[]? finalMean, finalScale;
    private bool[]? constant;
    private readonly FeatureCells cells;

    /// <summary>A fit of rows of <paramref name="dimension"/> features, whose lattice features are dequantised over <paramref name="cells"/>.</summary>
    public GaussianFit(int dimension, FeatureCells cells)
    {
        this.dimension = dimension;
        this.cells = cells;
    }

    /// <summary>The lattice features' cells the fit dequantises over.</summary>
    public FeatureCells Cells => cells;

    /// <summary>Rows seen by the first pass.</summary>
    public long Count => count;

    /// <summary>First pass: adds a block of rows [b, d] (any floating type) to the means and variances.</summary>
    public void AddMoments(Tensor block)
    {
        using var scope = NewDisposeScope();
        Tensor x = block.to(ScalarType.Float64);
        long b = x.shape[0];
        if (b == 0)
            return;
        Tensor blockMean = x.mean(new long[] { 0 });
        Tensor centred = x - blockMean;
        Tensor blockSquares = (centred * centred).sum(new long[] { 0 });
        if (count == 0)
        {
            mean = blockMean.MoveToOuterDisposeScope();
            squares = blockSquares.MoveToOuterDisposeScope();
        }
        else
        {
            Tensor delta = blockMean - mean!;
            double total = count + b;
            Tensor newMean = mean!.Plus(delta.Times(b / total));
            Tensor newSquares = squares!.Plus(blockSquares).Plus((delta * delta).Times(count * (double)b / total));
            mean!.Dispose();
            squares!.Dispose();
            mean = newMean.MoveToOuterDisposeScope();
            squares = newSquares.MoveToOuterDisposeScope();
        }
        count += b;
    }

    /// <summary>Features with no spread in the rows (after <see cref="EndMoments"/>): they keep a unit scale in data units.</summary>
    public int[] ConstantFeatures =>
        constant is null ? throw new InvalidOperationException("The first pass has not ended.") : Enumerable.Range(0, dimension).Where(j => constant[j]).ToArray();

    /// <summary>Ends the first pass: fixes the means and the (population) standard deviations.</summary>
    public void EndMoments()
    {
        if (count == 0)
            throw new InvalidOperationException("No rows were added to the Gaussian fit.");
        finalMean = mean!.data<double>().ToArray();
        double[] variance = squares!.data<double>().ToArray();
        finalScale = new double[dimension];
        constant = new bool[dimension];
        for (int j = 0; j < dimension; j++)
        {
            // Dequantised over a cell of width w, a lattice feature gains the uniform offset's variance w^2 / 12.
            double sd = Math.Sqrt(variance[j] / count + cells.Width[j] * cells.Width[j] / 12);
            // Below float's resolution of the mean the spread is rounding, not data.
            constant[j] = !(sd > 1e-7 * Math.Abs(finalMean[j])) || sd == 0;
            finalScale[j] = constant[j] ? 1 : sd;
        }
        mean.Dispose();
        squares.Dispose();
    }

    /// <summary>Second pass: adds a block of rows [b, d] to the correlation of the standardised rows.</summary>
    public void AddCorrelation(Tensor block)
    {
        if (finalMean is null)
            throw new InvalidOperationException("The first pass has not ended.");
        using var scope = NewDisposeScope();
        Tensor u = Standardize(block.to(ScalarType.Float64));
        Tensor blockCross = u.t().matmul(u);
        Tensor squaredNorms = (u * u).sum(1);
        fourthMoment += (squaredNorms * squaredNorms).sum().item<double>();
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

    /// <summary>The fitted Gaussian: means, standard deviations and, for a full covariance, the correlation's Cholesky factor.</summary>
    public (double[] Mean, double[] Scale, double[,]? CorrelationFactor) Finish(CovarianceKind covariance)
    {
        if (finalMean is null || finalScale is null)
            throw new InvalidOperationException("The first pass has not ended.");
        if (covariance == CovarianceKind.Diagonal)
            return (finalMean, finalScale, null);
        if (cross is null)
            throw new InvalidOperationException("The second pass added no rows.");
        using var scope = NewDisposeScope();
        double n = correlationCount;
        // The offsets are independent of everything: they add to the diagonal only, which is then 1 for every varying feature.
        Tensor offsetVariance = tensor(cells.Width.Select((w, j) => w * w / 12 / (finalScale[j] * finalScale[j])).ToArray());
        Tensor s = cross.Times(1.0 / n).Plus(offsetVariance.diag());
        int varying = constant!.Count(c => !c);
        double shrinkage = varying == 0 ? 1 : LedoitWolfShrinkage(s, n, varying);
        Tensor identity = eye(dimension, dtype: ScalarType.Float64);
        Tensor correlation = s.Times(1 - shrinkage).Plus(identity.Times(shrinkage));
        // Constant features: unit variance, uncorrelated (their rows and columns of s are zero).
        Tensor constantMask = tensor(constant!.Select(c => c ? 1.0 : 0.0).ToArray());
        correlation = correlation.Plus(constantMask.diag().Times(1 - shrinkage));
        cross.Dispose();
        return (finalMean, finalScale, Cholesky(correlation));
    }

    /// <summary>
    /// Ledoit and Wolf's optimal intensity for shrinking the sample correlation s (over <paramref name="varying"/>
    /// non-constant features, of unit variance) towards the identity: min(beta, delta) / delta with
    /// delta = |s - I|_F^2 / p and beta = (sum_i |u_i|^4 / n - |s|_F^2) / (p n).
    /// </summary>
    private double LedoitWolfShrinkage(Tensor s, double n, int varying)
    {
        double trace = s.trace().item<double>();
        double mu = trace / varying;
        double frobenius = (s * s).sum().item<double>();
        double delta = (frobenius - 2 * mu * trace + varying * mu * mu) / varying;
        double beta = (fourthMoment / n - frobenius) / (varying * n);
        if (!(delta > 0))
            return 0;
        return Math.Clamp(Math.Min(beta, delta) / delta, 0, 1);
    }

    private Tensor Standardize(Tensor x)
    {
        Tensor u = (x - tensor(finalMean!)) / tensor(finalScale!);
        // A constant feature standardises to exact zeros, whatever the rounding of its mean.
        Tensor varying = tensor(constant!.Select(c => c ? 0.0 : 1.0).ToArray());
        return u * varying;
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
                return ToArray(factor, d);
        }
        return ToArray(eye(d, dtype: ScalarType.Float64), d);
    }

    private static double[,] ToArray(Tensor matrix, int d)
    {
        double[] flat = matrix.contiguous().data<double>().ToArray();
        var result = new double[d, d];
        Buffer.BlockCopy(flat, 0, result, 0, flat.Length * sizeof(double));
        return result;
    }
}
