using Microsoft.ML.HamiltonianFlows.Inference;
using static TorchSharp.torch;

namespace SupernovaCosmology;

/// <summary>
/// The posterior of (Omega_m, Omega_Lambda) given a catalogue, up to nothing: a uniform prior on the box
/// 0 &lt; Omega_m &lt; 1, 0 &lt; Omega_Lambda &lt; 1.5, and the Gaussian likelihood of the distance moduli with the unknown
/// offset m (absolute magnitude and H0 together: mu_obs = mu(z; theta, H0 = 70) + m) integrated out analytically under a
/// flat prior of unit density (Goliath et al. 2001). With Delta_i = mu_obs,i - mu_i(theta), A = sum Delta^2 / sigma^2,
/// B = sum Delta / sigma^2, C = sum 1 / sigma^2:
/// <code>log L = -(A - B^2 / C) / 2 + log sqrt(2 pi / C) - sum log(sqrt(2 pi) sigma_i)</code>
/// The evidence Z is the integral of L times the prior over the box.
/// </summary>
internal sealed class SupernovaPosterior : IDisposable
{
    public const double MaxMatter = 1, MaxLambda = 1.5;

    private readonly DistanceModulusModel model;
    private readonly Tensor observed, inverseVariance;
    private readonly double precisionSum, constant;

    public SupernovaPosterior(IReadOnlyList<Supernova> catalogue)
    {
        model = new DistanceModulusModel(catalogue.Select(s => s.Redshift).ToArray());
        observed = tensor(catalogue.Select(s => s.DistanceModulus).ToArray());
        inverseVariance = tensor(catalogue.Select(s => 1 / (s.Error * s.Error)).ToArray());
        precisionSum = catalogue.Sum(s => 1 / (s.Error * s.Error));
        constant = 0.5 * Math.Log(2 * Math.PI / precisionSum) - catalogue.Sum(s => Math.Log(Math.Sqrt(2 * Math.PI) * s.Error))
            - Math.Log(MaxMatter * MaxLambda);
    }

    /// <summary>The prior's support, as the sampler's constraints.</summary>
    public static IReadOnlyList<ParameterConstraint> Constraints { get; } =
        new[] { ParameterConstraint.Interval(0, MaxMatter), ParameterConstraint.Interval(0, MaxLambda) };

    /// <summary>log posterior (unnormalised: likelihood times prior) for theta [n, 2]; -infinity outside the box. Returns [n].</summary>
    public Tensor LogDensity(Tensor theta)
    {
        Tensor delta = observed.to(theta.dtype) - model.Evaluate(theta);
        Tensor weights = inverseVariance.to(theta.dtype);
        Tensor a = (delta.square() * weights).sum(-1);
        Tensor b = (delta * weights).sum(-1);
        Tensor logDensity = -0.5 * (a - b.square() / precisionSum) + constant;
        Tensor inside = (theta > 0).all(1).logical_and(theta[.., 0] < MaxMatter).logical_and(theta[.., 1] < MaxLambda);
        return logDensity.masked_fill(inside.logical_not(), double.NegativeInfinity);
    }

    public void Dispose()
    {
        model.Dispose();
        observed.Dispose();
        inverseVariance.Dispose();
    }
}
