using Microsoft.ML.HamiltonianFlows.Inference;
using Microsoft.ML.HamiltonianFlows.Torch;
using Microsoft.ML.HamiltonianFlows.Training;
using TorchSharp;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace Microsoft.ML.HamiltonianFlows.Tests;

public class PosteriorSamplerTests
{
    private static readonly FlowArchitecture Small = new() { Dimension = 2, HiddenLayers = new[] { 32, 32 }, LeapfrogSteps = 4, StepSize = 0.2 };

    // A correlated Gaussian known up to a constant: log pi = Offset - (x - mu)^T S^-1 (x - mu) / 2,
    // so log Z = Offset + log(2 pi) + log det(S) / 2.
    private static readonly double[] Mu = { 1.0, -2.0 };
    private const double Sd0 = 1.0, Sd1 = 0.5, Rho = 0.6, Offset = 3.0;
    private static readonly double TrueLogZ = Offset + Math.Log(2 * Math.PI) + Math.Log(Sd0 * Sd1 * Math.Sqrt(1 - Rho * Rho));

    private readonly ITestOutputHelper output;

    public PosteriorSamplerTests(ITestOutputHelper output) => this.output = output;

    private static Tensor GaussianLogDensity(Tensor x)
    {
        Tensor a = x[.., 0].Plus(-Mu[0]).DividedBy(Sd0), b = x[.., 1].Plus(-Mu[1]).DividedBy(Sd1);
        return (a.Squared() - a.Times(2 * Rho) * b).Plus(b.Squared()).DividedBy(2 * (1 - Rho * Rho)).SubtractedFrom(Offset);
    }

    [Fact]
    public void GaussianTargetMeanCovarianceAndEvidenceAreRecovered()
    {
        using var posterior = PosteriorSampler.Train(Small, GaussianLogDensity,
            new PosteriorSamplerOptions { Steps = 600, Seed = 1, NumberOfThreads = 1 });
        using var generator = new Generator(2);
        var samples = posterior.Sample(20000, generator);
        var summary = samples.Summarize();
        double ess = samples.EffectiveSampleSize;
        output.WriteLine($"ESS {ess:F0}, ELBO {samples.EvidenceLowerBound:F4}, IW log Z {samples.LogEvidence:F4}, true {TrueLogZ:F4}");
        output.WriteLine($"mean ({summary.Mean[0]:F4}, {summary.Mean[1]:F4}), sd ({summary.StandardDeviation[0]:F4}, {summary.StandardDeviation[1]:F4}), cov01 {summary.Covariance[0, 1]:F4}");

        Assert.True(ess > 2000, $"ESS {ess}");
        double[] sd = { Sd0, Sd1 };
        for (int j = 0; j < 2; j++)
        {
            Assert.True(Math.Abs(summary.Mean[j] - Mu[j]) < 5 * sd[j] / Math.Sqrt(ess), $"mean[{j}] {summary.Mean[j]}");
            Assert.True(Math.Abs(summary.StandardDeviation[j] / sd[j] - 1) < 0.05, $"sd[{j}] {summary.StandardDeviation[j]}");
        }
        Assert.True(Math.Abs(summary.Covariance[0, 1] - Rho * Sd0 * Sd1) < 0.05 * Sd0 * Sd1, $"cov {summary.Covariance[0, 1]}");
        // The median of a Gaussian is its mean.
        Assert.True(Math.Abs(summary.Quantiles[0, 2] - Mu[0]) < 0.1, $"median {summary.Quantiles[0, 2]}");

        Assert.True(samples.EvidenceLowerBound < TrueLogZ, $"ELBO {samples.EvidenceLowerBound} above log Z {TrueLogZ}");
        // The phase-space bound also pays for the momentum's law not yet being exactly N(0, I) at the end: 0.42 nats here.
        Assert.True(samples.EvidenceLowerBound > TrueLogZ - 0.6, $"ELBO {samples.EvidenceLowerBound} far below log Z {TrueLogZ}");
        Assert.True(Math.Abs(samples.LogEvidence - TrueLogZ) < 0.03, $"IW log Z {samples.LogEvidence}, true {TrueLogZ}");

        // The flow's marginal density at exact draws: E_p[log q - log p] = -KL(p || q), small for a good fit.
        using var exact = ExactGaussianDraws(2000, 3);
        using var noGrad = no_grad();
        double meanLogRatio = (posterior.LogDensity(exact, 64, generator) - GaussianLogDensity(exact).Plus(-TrueLogZ)).mean().item<float>();
        output.WriteLine($"E_p[log q - log p] = {meanLogRatio:F4}");
        // Less the bias of the K = 64 estimate of log q, which sits below it. Training seeds 1 to 6 gave -0.083 to -0.097:
        // -0.15 leaves room for seeds and CPUs, and still fails a flow that misses the correlation (KL = -log(1 - 0.6^2) / 2
        // = 0.22). Above 0 only by Monte Carlo error.
        Assert.InRange(meanLogRatio, -0.15, 0.02);
    }

    [Fact]
    public void NeuralKineticVariantUsesTheEncoderAsMomentumLawAndBoundsTheEvidence()
    {
        var neural = Small with { Kinetic = KineticEnergyKind.Neural };
        using var posterior = PosteriorSampler.Train(neural, GaussianLogDensity,
            new PosteriorSamplerOptions { Steps = 300, Seed = 1, NumberOfThreads = 1 });
        using var generator = new Generator(2);
        var samples = posterior.Sample(10000, generator);
        output.WriteLine($"neural kinetic: ESS {samples.EffectiveSampleSize:F0}, ELBO {samples.EvidenceLowerBound:F4}, IW log Z {samples.LogEvidence:F4}, true {TrueLogZ:F4}");
        // Measured: ESS 8495 of 10000, ELBO 3.739, IW log Z 3.9172 against 3.9216.
        Assert.True(samples.EvidenceLowerBound < TrueLogZ, $"ELBO {samples.EvidenceLowerBound}");
        Assert.True(samples.EffectiveSampleSize > 3000, $"ESS {samples.EffectiveSampleSize}");
        Assert.True(Math.Abs(samples.LogEvidence - TrueLogZ) < 0.1, $"IW log Z {samples.LogEvidence}, true {TrueLogZ}");
    }

    [Fact]
    public void PositiveAndIntervalConstraintsRecoverGammaAndBetaPosteriors()
    {
        // theta0 ~ Gamma(3, rate 2) on (0, inf), theta1 ~ Beta(3, 3) on (0, 1), independent, written unnormalised:
        // log pi = 2 log theta0 - 2 theta0 + 2 log theta1 + 2 log(1 - theta1), Z = (Gamma(3) / 2^3) B(3, 3) = (1/4)(1/30);
        // means 3/2 and 1/2, standard deviations sqrt(3)/2 and sqrt(1/28).
        static Tensor LogDensity(Tensor x) => (x[.., 0].log().Times(2) - x[.., 0].Times(2)).Plus(x[.., 1].log().Times(2)).Plus(x[.., 1].SubtractedFrom(1).log().Times(2));
        double trueLogZ = Math.Log(1.0 / 120);
        var options = new PosteriorSamplerOptions
        {
            Steps = 500, Seed = 3, NumberOfThreads = 1,
            Constraints = new[] { ParameterConstraint.Positive, ParameterConstraint.Interval(0, 1) },
        };
        using var posterior = PosteriorSampler.Train(Small, LogDensity, options);
        using var generator = new Generator(4);
        var samples = posterior.Sample(20000, generator);
        var summary = samples.Summarize();
        double ess = samples.EffectiveSampleSize;
        output.WriteLine($"ESS {ess:F0}, IW log Z {samples.LogEvidence:F4} (true {trueLogZ:F4}), means ({summary.Mean[0]:F4}, {summary.Mean[1]:F4})");

        Assert.All(samples.Column(0), v => Assert.True(v > 0));
        Assert.All(samples.Column(1), v => Assert.True(v > 0 && v < 1));
        Assert.True(ess > 5000, $"ESS {ess}");
        Assert.True(Math.Abs(summary.Mean[0] - 1.5) < 5 * Math.Sqrt(3) / 2 / Math.Sqrt(ess), $"mean[0] {summary.Mean[0]}");
        Assert.True(Math.Abs(summary.Mean[1] - 0.5) < 5 * Math.Sqrt(1.0 / 28) / Math.Sqrt(ess), $"mean[1] {summary.Mean[1]}");
        Assert.True(Math.Abs(samples.LogEvidence - trueLogZ) < 0.02, $"IW log Z {samples.LogEvidence}");
        Assert.True(samples.EvidenceLowerBound < trueLogZ);
    }

    [Fact]
    public void AnnealingFindsTheSecondModeThatPlainReverseKlMisses()
    {
        // Two equal modes 8 standard deviations apart (sd 0.5 at 0 and at 4); the flow starts around the first one, as
        // when it is centred at a local optimum. log Z = log(2 * 2 pi * 0.25) = 1.145; one mode alone holds log(pi / 2) = 0.452.
        static Tensor LogDensity(Tensor x)
        {
            Tensor near = x[.., 0].Squared().Plus(x[.., 1].Squared()).Times(-2);
            Tensor far = x[.., 0].Plus(-4).Squared().Plus(x[.., 1].Squared()).Times(-2);
            return stack(new[] { near, far }, 1).logsumexp(1);
        }
        double trueLogZ = Math.Log(Math.PI);
        var options = new PosteriorSamplerOptions { Steps = 500, Seed = 5, NumberOfThreads = 1 };
        (double Far, double LogZ) Fit(PosteriorSamplerOptions o)
        {
            using var posterior = PosteriorSampler.Train(Small, LogDensity, o);
            using var generator = new Generator(6);
            var samples = posterior.Sample(4000, generator);
            return (samples.Column(0).Count(v => v > 2) / 4000.0, samples.LogEvidence);
        }
        var plain = Fit(options);
        var annealed = Fit(options with { AnnealingSteps = 300, InitialInverseTemperature = 0.02 });
        output.WriteLine($"far-mode share and IW log Z (true {trueLogZ:F3}): plain {plain.Far:F3}, {plain.LogZ:F3}; annealed {annealed.Far:F3}, {annealed.LogZ:F3}");
        // Measured: plain 0.000 and 0.455, annealed 0.284 and 1.133.
        Assert.True(plain.Far < 0.05, $"plain reverse KL put {plain.Far} in the far mode");
        Assert.True(plain.LogZ < trueLogZ - 0.5, $"plain IW log Z {plain.LogZ}");
        Assert.InRange(annealed.Far, 0.15, 0.85);
        Assert.True(Math.Abs(annealed.LogZ - trueLogZ) < 0.1, $"annealed IW log Z {annealed.LogZ}");
    }

    [Fact]
    public void SameSeedGivesIdenticalDrawsAndAnotherSeedDoesNot()
    {
        var options = new PosteriorSamplerOptions { Steps = 20, BatchSize = 64, Seed = 8, NumberOfThreads = 1 };
        double[] Draws(PosteriorSamplerOptions o)
        {
            using var posterior = PosteriorSampler.Train(Small, GaussianLogDensity, o);
            using var generator = new Generator(9);
            var samples = posterior.Sample(100, generator);
            return samples.Values.Concat(samples.LogWeights).ToArray();
        }
        Assert.Equal(Draws(options), Draws(options));
        Assert.NotEqual(Draws(options), Draws(options with { Seed = 10 }));
    }

    [Fact]
    public void NanOrInfiniteDensityNamesTheFirstOffendingPoint()
    {
        var options = new PosteriorSamplerOptions { Steps = 5, BatchSize = 64, NumberOfThreads = 1 };
        var nan = Assert.Throws<InvalidOperationException>(() =>
            PosteriorSampler.Train(Small, x => where(x[.., 0].Above(0.5), float.NaN, -x.Squared().sum(1)), options));
        Assert.Contains("is NaN at point", nan.Message);
        Assert.True(FirstCoordinate(nan.Message) > 0.5, nan.Message);

        var infinite = Assert.Throws<InvalidOperationException>(() =>
            PosteriorSampler.Train(Small, x => where(x[.., 1].Below(-0.5), float.PositiveInfinity, -x.Squared().sum(1)), options));
        Assert.Contains("is Infinity at point", infinite.Message);
    }

    [Fact]
    public void DensityWithoutOrWithNonFiniteGradientIsAnError()
    {
        var options = new PosteriorSamplerOptions { Steps = 5, BatchSize = 64, NumberOfThreads = 1 };
        var constant = Assert.Throws<InvalidOperationException>(() =>
            PosteriorSampler.Train(Small, x => zeros(x.shape[0], dtype: x.dtype), options));
        Assert.Contains("no gradient", constant.Message);

        // Finite values, but sqrt of a negative number in the branch where() discards: NaN gradients there.
        var nanGradient = Assert.Throws<InvalidOperationException>(() =>
            PosteriorSampler.Train(Small, x => where(x[.., 0].Above(0), x[.., 0].sqrt(), zeros_like(x[.., 0])), options));
        Assert.Contains("gradient of the log-density is not finite at point", nanGradient.Message);
        Assert.True(FirstCoordinate(nanGradient.Message) <= 0, nanGradient.Message);
    }

    [Fact]
    public void ProgressIsReportedEveryIntervalAndACancelledTokenStopsTrainingBeforeItStarts()
    {
        var reports = new List<FlowTrainingProgress>();
        using (PosteriorSampler.Train(Small, GaussianLogDensity,
            new PosteriorSamplerOptions { Steps = 25, BatchSize = 32, ReportInterval = 10, NumberOfThreads = 1 }, reports.Add))
        {
        }
        Assert.Equal(new long[] { 10, 20, 25 }, reports.Select(r => r.Steps));
        Assert.All(reports, r => Assert.True(double.IsFinite(r.TrainingLoss) && r.ValidationLoss is null));

        using var cancellation = new CancellationTokenSource();
        cancellation.Cancel();
        Assert.Throws<OperationCanceledException>(() =>
            PosteriorSampler.Train(Small, GaussianLogDensity, new PosteriorSamplerOptions(), cancellationToken: cancellation.Token));
    }

    [Fact]
    public void InvalidOptionsNameTheOption()
    {
        var error = Assert.Throws<ArgumentException>(() => PosteriorSampler.Train(Small, GaussianLogDensity,
            new PosteriorSamplerOptions { Scale = new[] { 1.0, -1.0 } }));
        Assert.Contains("Scale[1]", error.Message);
        error = Assert.Throws<ArgumentException>(() => PosteriorSampler.Train(Small, GaussianLogDensity,
            new PosteriorSamplerOptions { Constraints = new[] { ParameterConstraint.Positive } }));
        Assert.Contains("Constraints", error.Message);
        Assert.Throws<ArgumentException>(() => ParameterConstraint.Interval(1, 1));
        // Annealing as long as the fit would never reach the target itself (beta stays below 1).
        error = Assert.Throws<ArgumentException>(() => PosteriorSampler.Train(Small, GaussianLogDensity,
            new PosteriorSamplerOptions { Steps = 100, AnnealingSteps = 100 }));
        Assert.Equal("AnnealingSteps", error.ParamName);
    }

    [Fact]
    public void ConstraintsDrawsAndLayersOutOfShapeAreErrorsNotSilentlyTruncated()
    {
        // One constraint for two columns dropped the second column and its Jacobian without a word.
        using var u = zeros(3, 2, dtype: ScalarType.Float64);
        var one = new[] { ParameterConstraint.Positive };
        Assert.Equal("u", Assert.Throws<ArgumentException>(() => ParameterConstraint.Constrain(one, u)).ParamName);
        Assert.Equal("theta", Assert.Throws<ArgumentException>(() => ParameterConstraint.Unconstrain(one, u)).ParamName);
        Assert.Equal("constraints", Assert.Throws<ArgumentException>(() =>
            ParameterConstraint.Constrain(new ParameterConstraint[] { ParameterConstraint.Positive, null! }, u)).ParamName);

        // Draws where the target's density is zero everywhere have no weights to normalise: NaN summaries and every
        // quantile at the smallest draw before.
        var nowhere = new PosteriorSamples(new[] { 1.0, 2.0, 3.0 }, 1, new[] { double.NegativeInfinity, double.NegativeInfinity, double.NegativeInfinity });
        Assert.Throws<InvalidOperationException>(() => nowhere.Summarize());
        Assert.Throws<InvalidOperationException>(() => nowhere.EffectiveSampleSize);
        Assert.Equal(2.0, nowhere.Summarize(importanceWeighted: false).Mean[0], 12);
        Assert.Throws<ArgumentOutOfRangeException>(() => nowhere.Column(1));

        using var posterior = PosteriorSampler.Train(Small, GaussianLogDensity, new PosteriorSamplerOptions { Steps = 2, NumberOfThreads = 1 });
        using var theta = zeros(4, 2);
        Assert.Equal("layer", Assert.Throws<ArgumentOutOfRangeException>(() => posterior.PotentialEnergy(theta, layer: Small.Hamiltonians)).ParamName);
        // More draws than one array of their values holds: named, before any is drawn (n d overflowed int).
        Assert.Equal("n", Assert.Throws<ArgumentException>(() => posterior.Sample(int.MaxValue)).ParamName);
    }

    /// <summary>The first coordinate of the "theta = (a, b)" an error message names.</summary>
    private static double FirstCoordinate(string message)
    {
        int start = message.IndexOf("theta = (", StringComparison.Ordinal) + "theta = (".Length;
        return double.Parse(message[start..message.IndexOf(',', start)], System.Globalization.CultureInfo.InvariantCulture);
    }

    private static Tensor ExactGaussianDraws(long n, int seed)
    {
        using var generator = new Generator((ulong)seed);
        Tensor e = randn(new[] { n, 2 }, generator: generator);
        Tensor x0 = e[.., 0].Times(Sd0).Plus(Mu[0]);
        Tensor x1 = e[.., 0].Times(Rho).Plus(e[.., 1].Times(Math.Sqrt(1 - Rho * Rho))).Times(Sd1).Plus(Mu[1]);
        return stack(new[] { x0, x1 }, 1);
    }
}
