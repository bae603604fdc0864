using Microsoft.ML.HamiltonianFlows.Torch;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace Microsoft.ML.HamiltonianFlows.Tests;

public class ObjectiveTests
{
    /// <summary>
    /// With f = 0, V = |q|^2/2 and K = |p|^2 / (2 m), every leapfrog step is the same linear, volume-preserving map of
    /// each (q_i, p_i), so the model's density of q is exactly N(0, s^2 I) with s^2 from the product of those maps
    /// (<see cref="ExactVariance"/>): a flow whose true log-likelihood is known in closed form. A mass of 1/2 makes
    /// s^2 near 2, not 1 (with m = 1 the dynamics would nearly keep N(0, I) and the momentum's posterior would be the
    /// proposal). The encoder is zeroed too, so it proposes p ~ N(0, I), broader than the exact posterior (variance
    /// 1 / s^2): importance weights then have finite variance and IW(K) converges at the textbook 1/K rate.
    /// </summary>
    private static HamiltonianFlow HarmonicFlow(double integrationTime, int d = 2)
    {
        var architecture = new FlowArchitecture
        {
            Dimension = d, HiddenLayers = new[] { 16 }, Hamiltonians = 1, LeapfrogSteps = Steps, StepSize = integrationTime / Steps,
            LearnStepSize = false, Mass = MassKind.LearnedScalar, Precision = ScalarType.Float64,
        };
        var flow = TestFlows.Build(architecture);
        using var noGrad = no_grad();
        foreach (var parameter in flow.Layers[0].Hamiltonian.Potential.parameters().Concat(flow.Encoder.parameters()))
            parameter.zero_();
        using Scalar logMassValue = Math.Log(Mass).ToScalar();
        foreach (var logMass in flow.Layers[0].Hamiltonian.Kinetic.parameters())
            logMass.fill_(logMassValue);
        return flow;
    }

    private const int Steps = 4;
    private const double Mass = 0.5;

    /// <summary>
    /// s^2 of <see cref="HarmonicFlow"/>: one leapfrog step of size h maps (q, p) to A (q, p) with
    /// A = [[1 - h^2/(2m), h/m], [-h (1 - h^2/(4m)), 1 - h^2/(2m)]] (det A = 1); q_T has variance (A^L A^L^T)[0, 0].
    /// </summary>
    private static double ExactVariance(double integrationTime)
    {
        double h = integrationTime / Steps, c = 1 - h * h / (2 * Mass);
        double[,] a = { { c, h / Mass }, { -h * (1 - h * h / (4 * Mass)), c } };
        double[,] power = { { 1, 0 }, { 0, 1 } };
        for (int step = 0; step < Steps; step++)
            power = new[,]
            {
                { a[0, 0] * power[0, 0] + a[0, 1] * power[1, 0], a[0, 0] * power[0, 1] + a[0, 1] * power[1, 1] },
                { a[1, 0] * power[0, 0] + a[1, 1] * power[1, 0], a[1, 0] * power[0, 1] + a[1, 1] * power[1, 1] },
            };
        return power[0, 0] * power[0, 0] + power[0, 1] * power[0, 1];
    }

    [Fact]
    public void ElboAndImportanceWeightedLikelihoodBracketTheExactLogDensity()
    {
        const double T = 1.0;
        const int n = 400;
        using var flow = HarmonicFlow(T);
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        double variance = ExactVariance(T);
        Tensor x = TestFlows.Points(n, 2, 21, ScalarType.Float64).Times(Math.Sqrt(variance));
        Tensor exact = x.Squared().sum(-1).Times(-0.5).DividedBy(variance).Plus(-Math.Log(2 * Math.PI * variance));

        using var generator = new Generator(3);
        double Gap(Tensor estimate) => (exact - estimate).mean().item<double>();
        double StandardError(Tensor estimate) => (exact - estimate).std().item<double>() / Math.Sqrt(n);

        Tensor elbo = flow.Elbo(x, generator);
        Tensor iw8 = flow.LogLikelihood(x, 8, generator);
        Tensor iw128 = flow.LogLikelihood(x, 128, generator);
        Tensor iw2048 = flow.LogLikelihood(x, 2048, generator);

        // ELBO <= IW(8) <= IW(128) <= IW(2048) <= log p, each within Monte Carlo error, and the gap closes.
        Assert.True(Gap(elbo) > 0.05, $"ELBO gap {Gap(elbo):F4} should be clearly positive with an untrained encoder");
        Assert.True(Gap(iw8) < Gap(elbo) - 3 * StandardError(elbo), $"IW(8) gap {Gap(iw8):F4} vs ELBO gap {Gap(elbo):F4}");
        Assert.True(Gap(iw128) < Gap(iw8), $"IW(128) gap {Gap(iw128):F4} vs IW(8) gap {Gap(iw8):F4}");
        Assert.True(Gap(iw2048) <= Gap(iw128) + 3 * StandardError(iw128), $"IW(2048) gap {Gap(iw2048):F4} vs IW(128) gap {Gap(iw128):F4}");
        Assert.True(Gap(iw2048) > -3 * StandardError(iw2048) - 1e-3, $"IW(2048) exceeds log p by {-Gap(iw2048):F4}");
        Assert.True(Gap(iw2048) < 0.01, $"IW(2048) is still {Gap(iw2048):F4} nats below log p (ELBO {Gap(elbo):F4}, IW8 {Gap(iw8):F4}, IW128 {Gap(iw128):F4})");
    }

    [Fact]
    public void ImportanceWeightedLikelihoodWithOneSampleIsTheElbo()
    {
        using var flow = HarmonicFlow(1.0);
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        Tensor x = TestFlows.Points(50, 2, 22, ScalarType.Float64);
        using var g1 = new Generator(9);
        using var g2 = new Generator(9);
        Assert.Equal(0, TestFlows.MaxAbs(flow.Elbo(x, g1) - flow.LogLikelihood(x, 1, g2)));
    }

    [Fact]
    public void TheGaussianStageKeepsLikelihoodsInDataUnits()
    {
        // Mapping the data by x -> 10 x + b and the Gaussian with it must shift log p by exactly -d log 10.
        using var flow = HarmonicFlow(1.0);
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        Tensor x = TestFlows.Points(200, 2, 23, ScalarType.Float64);
        double[] mean = { 0.3, -1 }, scale = { 0.5, 2 }, shift = { 4, -7 };
        double[,] factor = { { 1, 0 }, { 0.6, 0.8 } };
        flow.Gaussian.Set(mean, scale, factor, FeatureCells.None(mean.Length));
        using var g1 = new Generator(4);
        Tensor unscaled = flow.Elbo(x, g1);
        flow.Gaussian.Set(mean.Select((m, j) => 10 * m + shift[j]).ToArray(), scale.Select(s => 10 * s).ToArray(), factor, FeatureCells.None(mean.Length));
        using var g2 = new Generator(4);
        Tensor scaled = flow.Elbo(x.Times(10).Plus(tensor(shift)), g2);
        Assert.True(TestFlows.MaxAbs(unscaled.Plus(-2 * Math.Log(10)) - scaled) < 1e-9);
    }

    [Fact]
    public void SamplesFollowTheModelDensity()
    {
        // Samples of the harmonic flow are N(0, s^2 I), s^2 near 2 for T = 1.
        using var flow = HarmonicFlow(1.0);
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        using var generator = new Generator(5);
        double variance = ExactVariance(1.0);
        var (q, _) = flow.Sample(20000, generator);
        Assert.InRange(q.var(0).max().item<double>(), variance * 0.95, variance * 1.05);
        Assert.InRange(q.var(0).min().item<double>(), variance * 0.95, variance * 1.05);
        Assert.True(TestFlows.MaxAbs(q.mean(new long[] { 0 })) < 0.06);
    }

    [Fact]
    public void FixedKineticDropsExactlyOneKineticNetworkPerHamiltonianKeepingOnlyItsMasses()
    {
        // The paper's parameter saving: each Hamiltonian's K(p) network d -> 64 -> 64 -> 1 is replaced by its masses
        // (none, one, or d). Nothing else may differ, e.g. a kinetic network built and left unused, or one shared by the
        // Hamiltonians of the neural variant.
        const int d = 3, hamiltonians = 2;
        long network = (d * 64 + 64) + (64 * 64 + 64) + (64 + 1);
        using var neuralKinetic = new HamiltonianFlow(new FlowArchitecture { Dimension = d, Hamiltonians = hamiltonians, Kinetic = KineticEnergyKind.Neural });
        foreach (var (mass, masses) in new[] { (MassKind.Identity, 0), (MassKind.LearnedScalar, 1), (MassKind.LearnedDiagonal, d) })
        {
            using var fixedKinetic = new HamiltonianFlow(new FlowArchitecture { Dimension = d, Hamiltonians = hamiltonians, Mass = mass });
            Assert.Equal(hamiltonians * (network - masses), neuralKinetic.ParameterCount - fixedKinetic.ParameterCount);
        }
    }
}
