using static TorchSharp.torch;

namespace Microsoft.ML.HamiltonianFlows.Torch;

/// <summary>
/// Per-feature affine map z = (x - mean) / scale, with mean and scale fitted on training data so that each
/// feature of z has standard deviation <see cref="FlowArchitecture.StandardizedScale"/>. Its log-Jacobian
/// -sum log scale is added to log-likelihoods so they are densities of x, not of z.
/// </summary>
public sealed class Standardizer : nn.Module<Tensor, Tensor>
{
    private readonly Tensor mean;
    private readonly Tensor scale;

    private readonly double target;

    internal Standardizer(int dimension, double targetScale) : base(nameof(Standardizer))
    {
        target = targetScale;
        mean = zeros(dimension);
        scale = ones(dimension);
        register_buffer(nameof(mean), mean);
        register_buffer(nameof(scale), scale);
    }

    /// <summary>Per-feature mean subtracted from the data.</summary>
    public Tensor Mean => mean;

    /// <summary>Per-feature scale the centred data are divided by.</summary>
    public Tensor Scale => scale;

    /// <summary>
    /// Sets mean and scale from the finite rows of data of shape [n, d]. A constant feature is only centred.
    /// </summary>
    /// <param name="data">Training rows.</param>
    /// <param name="minimumRelativeScale">
    /// Smallest per-feature scale as a fraction of the mean scale over features; 0 (the default) sets no floor.
    /// Without one, a feature that barely varies in training (a border pixel) gets a tiny scale, and any deviation
    /// from it then dominates the log-likelihood of a row.
    /// </param>
    public void Fit(Tensor data, double minimumRelativeScale = 0)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        data = data.index_select(0, data.isfinite().all(1).nonzero().squeeze(1));
        Tensor m = data.mean(new long[] { 0 });
        Tensor s = data.shape[0] > 1 ? data.std(0) : ones_like(m);
        Set(m, s, minimumRelativeScale);
    }

    /// <summary>
    /// <see cref="Fit(Tensor, double)"/> from statistics a caller accumulated itself over the finite rows (streamed data that is
    /// never a tensor): per-feature mean and sample standard deviation (n - 1 in the denominator) of <paramref name="count"/> rows.
    /// </summary>
    internal void FitStatistics(double[] featureMean, double[] standardDeviation, long count, double minimumRelativeScale)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        Tensor m = tensor(featureMean).to(mean.dtype);
        // As Fit on a tensor: one row has no spread, so the scale is left at one.
        Tensor s = count > 1 ? tensor(standardDeviation).to(scale.dtype) : ones_like(m);
        Set(m, s, minimumRelativeScale);
    }

    private void Set(Tensor m, Tensor s, double minimumRelativeScale)
    {
        if (minimumRelativeScale > 0)
            s = s.maximum(s.mean() * minimumRelativeScale);
        s = where(s > 0, s / target, ones_like(s));
        mean.copy_(m);
        scale.copy_(s);
    }

    /// <summary>z = (x - mean) / scale.</summary>
    public override Tensor forward(Tensor x) => (x - mean) / scale;

    /// <summary>x = z * scale + mean.</summary>
    public Tensor Inverse(Tensor z) => z * scale + mean;

    /// <summary>log |dz/dx| = -sum log scale (a scalar tensor).</summary>
    public Tensor LogJacobian() => -scale.log().sum();
}
