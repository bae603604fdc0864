using TorchSharp;
using static TorchSharp.torch;

namespace SupernovaCosmology;

/// <summary>
/// The distance modulus mu(z) = 5 log10(d_L / 10 pc) for a batch of (Omega_m, Omega_Lambda), differentiable in torch. With
/// E(z)^2 = Omega_m (1 + z)^3 + Omega_k (1 + z)^2 + Omega_Lambda, the comoving distance in units of c / H0 is
/// D(z) = integral_0^z dz' / E(z'), taken by fixed Gauss-Legendre quadrature (8 nodes by default: the integrand is smooth,
/// and a test checks them against 64 nodes to a micro-magnitude, far below the data's errors), and d_L = (1 + z) (c / H0) S_k(D), S_k(D) = sinh(sqrt(Omega_k) D) / sqrt(Omega_k) for
/// Omega_k &gt; 0, sin(sqrt(-Omega_k) D) / sqrt(-Omega_k) for Omega_k &lt; 0, D when flat.
/// </summary>
internal sealed class DistanceModulusModel : IDisposable
{
    private const double SpeedOfLight = 299792.458, HubbleConstant = 70; // km/s, km/s/Mpc

    // Universes with E(z)^2 <= 0 below the highest redshift have no big bang in the data's past (they bounce): E^2 is
    // floored there, which makes the distances, and so the chi^2, huge and the density negligible but finite.
    private const double MinimumSquaredExpansion = 1e-6;

    // Evaluate's numbers as Scalars made once. TorchSharp turns a number into a Scalar implicitly (x * 2, and its own
    // a + b on tensors, which passes alpha = 1) and leaves it to the garbage collector, which can finalise it while the
    // native call that reads it is still running; a Scalar in a static field is never finalised.
    private static readonly Scalar Zero = 0, One = 1, Three = 3, Five = 5, TwentyFive = 25;
    private static readonly Scalar SquaredExpansionFloor = MinimumSquaredExpansion, Tiny = 1e-12, HubbleDistance = SpeedOfLight / HubbleConstant;

    private readonly Tensor onePlusNodes;   // [N, K]: 1 + z' at the quadrature nodes of each supernova
    private readonly Tensor nodeWeights;    // [N, K]: weights times z / 2
    private readonly Tensor onePlusRedshift; // [N]

    public DistanceModulusModel(IReadOnlyList<double> redshifts, int order = 8)
    {
        var (x, w) = GaussLegendre.Rule(order);
        int n = redshifts.Count;
        var nodes = new double[n * order];
        var weights = new double[n * order];
        for (int i = 0; i < n; i++)
            for (int k = 0; k < order; k++)
            {
                nodes[i * order + k] = 1 + redshifts[i] * (1 + x[k]) / 2;
                weights[i * order + k] = redshifts[i] / 2 * w[k];
            }
        onePlusNodes = tensor(nodes, new long[] { n, order });
        nodeWeights = tensor(weights, new long[] { n, order });
        onePlusRedshift = tensor(redshifts.Select(z => 1 + z).ToArray());
    }

    /// <summary>mu of every supernova for each row (Omega_m, Omega_Lambda) of theta [n, 2]; returns [n, N] in theta's precision.</summary>
    public Tensor Evaluate(Tensor theta)
    {
        Tensor matter = theta[.., 0].view(-1, 1, 1), lambda = theta[.., 1].view(-1, 1, 1);
        Tensor curvature = matter.neg().add(One, alpha: One) - lambda; // 1 - Omega_m - Omega_Lambda
        Tensor a = onePlusNodes.to(theta.dtype);
        Tensor squaredExpansion = (matter * a.pow(Three)).add(curvature * a.mul(a), alpha: One).add(lambda, alpha: One).clamp_min(SquaredExpansionFloor);
        Tensor comoving = (nodeWeights.to(theta.dtype) * squaredExpansion.rsqrt()).sum(-1); // [n, N]

        Tensor k = curvature.view(-1, 1);
        Tensor root = k.abs().clamp_min(Tiny).sqrt();
        Tensor transverse = where(k.gt(Zero), (root * comoving).sinh() / root, (root * comoving).sin() / root);
        // A closed universe's sine turns negative past the antipode; such universes sit far outside the posterior.
        Tensor luminosity = (onePlusRedshift.to(theta.dtype) * transverse.clamp_min(Tiny)).mul(HubbleDistance);
        return luminosity.log10().mul(Five).add(TwentyFive, alpha: One); // 5 log10(d_L / Mpc) + 25
    }

    public void Dispose()
    {
        onePlusNodes.Dispose();
        nodeWeights.Dispose();
        onePlusRedshift.Dispose();
    }
}
