using Microsoft.ML.HamiltonianFlows.Torch;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.HamiltonianFlows.Inference;

/// <summary>
/// The affine map u = location + L z from the flow's coordinates z to the unconstrained parameters u, with L lower
/// triangular with a positive diagonal (stored as its logarithm): a multivariate location-scale family, as in a
/// Cholesky factor. It plays the part the <see cref="Torch.GaussianStage"/> plays for data (here there are no data to fit):
/// the flow works on an order-one scale whatever the parameters' units. It also carries the posterior's linear
/// correlations, which the symplectic leapfrog map with a fixed N(0, I) momentum law cannot produce linearly: a linear
/// symplectic map takes N(0, I) x N(0, I) to N(0, S) x N(0, I) only when S = I (Williamson's theorem).
/// Learned or fixed; its log-Jacobian is sum log diag L.
/// </summary>
public sealed class LocationScale : nn.Module<Tensor, Tensor>
{
    private readonly Tensor location;
    private readonly Tensor log_scale;
    private readonly Tensor shear;

    internal LocationScale(IReadOnlyList<double> location, IReadOnlyList<double> scale, bool learned, ScalarType dtype, Device device)
        : base(nameof(LocationScale))
    {
        int d = location.Count;
        Tensor initialLocation = tensor(location.ToArray(), dtype: dtype, device: device);
        Tensor initialLogScale = tensor(scale.Select(s => Math.Log(s)).ToArray(), dtype: dtype, device: device);
        Tensor initialShear = zeros(new long[] { d, d }, dtype: dtype, device: device);
        if (learned)
        {
            this.location = nn.Parameter(initialLocation);
            log_scale = nn.Parameter(initialLogScale);
            shear = nn.Parameter(initialShear);
        }
        else
        {
            this.location = initialLocation;
            log_scale = initialLogScale;
            shear = initialShear;
            register_buffer(nameof(this.location), this.location);
            register_buffer(nameof(log_scale), log_scale);
            register_buffer(nameof(shear), shear);
        }
        RegisterComponents();
    }

    /// <summary>The location, [d].</summary>
    public Tensor Location => location;

    /// <summary>The lower-triangular scale matrix L, [d, d].</summary>
    public Tensor ScaleMatrix => shear.tril(-1).Plus(log_scale.exp().diag());

    /// <summary>u = location + L z for z of shape [n, d].</summary>
    public override Tensor forward(Tensor z) => location.Plus(z.matmul(ScaleMatrix.t()));

    /// <summary>z = L^-1 (u - location).</summary>
    public Tensor Inverse(Tensor u) => (u - location).matmul(linalg.inv(ScaleMatrix).t());

    /// <summary>log |du/dz| = sum log diag L (a scalar tensor).</summary>
    public Tensor LogJacobian() => log_scale.sum();
}
