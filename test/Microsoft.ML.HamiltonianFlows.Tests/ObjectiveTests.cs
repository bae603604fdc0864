using Microsoft.ML.HamiltonianFlows.Torch;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace Microsoft.ML.HamiltonianFlows.Tests;

public class ObjectiveTests
{
    /// <summary>
    /// With V = 0 and K = p^2/2 the flow is free motion, qT = q0 + T p0, so the model's density of q is exactly
    /// N(0, (1 + T^2) I): a flow whose true log-likelihood is known in closed form. The encoder is zeroed too, so
    /// it proposes p ~ N(0, I), broader than the exact posterior N(T q / (1 + T^2), 1 / (1 + T^2)): importance
    /// weights then have finite variance and IW(K) converges at the textbook 1/K rate.
    /// </summary>
    private static HamiltonianFlow FreeParticleFlow(double integrationTime, int d = 2)
    {
        var architecture = new FlowArchitecture
        {
            Dimension = d, HiddenLayers = new[] { 16 }, LeapfrogSteps = 4, StepSize = integrationTime / 4,
            LearnStepSize = false, Precision = ScalarType.Float64,
        };
        var flow = TestFlows.Build(architecture);
        using var noGrad = no_grad();
        foreach (var parameter in flow.Layers[0].Hamiltonian.Potential.parameters().Concat(flow.Encoder.parameters()))
            parameter.zero_();
        return flow;
    }

    [Fact]
    public void ElboAndImportanceWeightedLikelihoodBracketTheExactLogDensity()
    {
        const double T = 1.0;
        const int n = 400;
        using var flow = FreeParticleFlow(T);
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        Tensor x = TestFlows.Points(n, 2, 21, ScalarType.Float64) * Math.Sqrt(1 + T * T);
        Tensor exact = -0.5 * x.square().sum(-1) / (1 + T * T) - Math.Log(2 * Math.PI * (1 + T * T));

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
        using var flow = FreeParticleFlow(1.0);
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        Tensor x = TestFlows.Points(50, 2, 22, ScalarType.Float64);
        using var g1 = new Generator(9);
        using var g2 = new Generator(9);
        Assert.Equal(0, TestFlows.MaxAbs(flow.Elbo(x, g1) - flow.LogLikelihood(x, 1, g2)));
    }

    [Fact]
    public void StandardisationKeepsLikelihoodsInDataUnits()
    {
        // Scaling the data by s and fitting the standardiser to it must shift log p by exactly -d log s.
        using var flow = FreeParticleFlow(1.0);
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        Tensor x = TestFlows.Points(200, 2, 23, ScalarType.Float64);
        flow.Standardizer.Fit(x);
        using var g1 = new Generator(4);
        Tensor unscaled = flow.Elbo(x, g1);
        flow.Standardizer.Fit(x * 10);
        using var g2 = new Generator(4);
        Tensor scaled = flow.Elbo(x * 10, g2);
        Assert.True(TestFlows.MaxAbs(unscaled - 2 * Math.Log(10) - scaled) < 1e-9);
    }

    [Fact]
    public void SamplesFollowTheModelDensity()
    {
        // Free motion for time T: samples are N(0, (1 + T^2) I).
        using var flow = FreeParticleFlow(2.0);
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        using var generator = new Generator(5);
        var (q, _) = flow.Sample(20000, generator);
        Assert.InRange(q.var(0).max().item<double>(), 5 * 0.95, 5 * 1.05);
        Assert.InRange(q.var(0).min().item<double>(), 5 * 0.95, 5 * 1.05);
        Assert.True(TestFlows.MaxAbs(q.mean(new long[] { 0 })) < 0.06);
    }

    [Fact]
    public void FixedKineticHasFewerParametersThanNeuralKineticAtTheSameWidth()
    {
        foreach (MassKind mass in Enum.GetValues<MassKind>())
        {
            using var fixedKinetic = new HamiltonianFlow(new FlowArchitecture { Dimension = 2, Mass = mass });
            using var neuralKinetic = new HamiltonianFlow(new FlowArchitecture { Dimension = 2, Kinetic = KineticEnergyKind.Neural });
            Assert.True(fixedKinetic.ParameterCount < neuralKinetic.ParameterCount,
                $"{mass}: {fixedKinetic.ParameterCount} vs {neuralKinetic.ParameterCount}");
        }
    }
}
