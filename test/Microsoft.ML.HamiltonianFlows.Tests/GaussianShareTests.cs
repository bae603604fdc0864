using Microsoft.ML.HamiltonianFlows.Torch;
using Microsoft.ML.HamiltonianFlows.Training;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace Microsoft.ML.HamiltonianFlows.Tests;

/// <summary>
/// The flow's density is the mixture (1 - alpha) p_flow + alpha p_Gaussian, alpha fitted on held-out rows: its fit,
/// its log-likelihood, its samples and its file.
/// </summary>
[Collection(TorchGlobalGeneratorCollection.Name)]
public class GaussianShareTests
{
    private static Tensor Rows(params double[] values) => tensor(values, dtype: ScalarType.Float64);

    // A flow far from its Gaussian (every parameter moved, and each potential given a double well in both coordinates:
    // depth 2, sharpness 1.5) with a fitted-looking, correlated Gaussian stage.
    private static HamiltonianFlow Flow()
    {
        var flow = TestFlows.Build(new FlowArchitecture { Dimension = 2, HiddenLayers = new[] { 8 }, LeapfrogSteps = 2, Hamiltonians = 2, SeparableWells = true });
        flow.Gaussian.Set(new[] { 1.0, -2.0 }, new[] { 2.0, 0.5 }, new[,] { { 1.0, 0.0 }, { 0.6, 0.8 } }, FeatureCells.None(2));
        using var noGrad = no_grad();
        using Scalar depth = 2.0.ToScalar(), sharpness = 1.5.ToScalar();
        foreach (var (key, value) in flow.state_dict())
        {
            if (key.EndsWith(".well_depth", StringComparison.Ordinal))
                value.fill_(depth);
            if (key.EndsWith(".well_sharpness", StringComparison.Ordinal))
                value.fill_(sharpness);
        }
        return flow;
    }

    [Theory]
    [InlineData(4, 0.5)]
    [InlineData(400, 0.005)]
    [InlineData(4000, 0.0005)]
    public void AFlowBetterOnEveryRowKeepsAShareThatShrinksAsTheRowsGrow(int rows, double expected)
    {
        // The flow 0.5 nats above the Gaussian on every row: log(1 - a (1 - e^-0.5)) + log(a) / n peaks at
        // a = 1 / (n (1 - e^-0.5) + 1 - e^-0.5), about 0.51, 0.0064 and 0.00064; the grid's nearest best.
        using var flow = Rows(Enumerable.Repeat(-1.0, rows).ToArray());
        using var gaussian = Rows(Enumerable.Repeat(-1.5, rows).ToArray());
        Assert.Equal(expected, GaussianShare.Fit(flow, gaussian));
        Assert.Equal(1, GaussianShare.Fit(gaussian, flow));
    }

    [Fact]
    public void AFlowSharplyWrongOnAFewRowsGetsAShareThatBoundsThem()
    {
        // 18 rows where the flow gains 2 nats, 2 where it is 40 nats below the Gaussian: the mean log of the mixture minus
        // the flow's, 0.9 log(1 - a + a e^-2) + 0.1 log(1 - a + a e^40), peaks near a = 0.1 (0.116; of the grid, 0.1 with
        // 3.688 against 3.668 at 0.2), about the share of the rows the flow misses; with the prior's log(a) / 20 the
        // grid's best is 0.2 (3.588 against 3.573 at 0.1 and 3.386 at 0.5).
        double[] gaussian = Enumerable.Repeat(-10.0, 20).ToArray();
        double[] flow = gaussian.Select((g, i) => i < 2 ? g - 40 : g + 2).ToArray();
        double share = GaussianShare.Fit(Rows(flow), Rows(gaussian));
        Assert.Equal(0.2, share);

        // A NaN row (a row with a non-finite value) says nothing about the share.
        double[] withNan = flow.Append(double.NaN).ToArray();
        Assert.Equal(share, GaussianShare.Fit(Rows(withNan), Rows(gaussian.Append(-10.0).ToArray())));
    }

    [Fact]
    public void MeasuringOnHeldOutRowsSetsTheGridsShareThatScoresThemBest()
    {
        using var flow = Flow();
        // Half the rows drawn from the flow alone, half from its Gaussian alone: the best share lies inside the grid.
        var draws = new Generator(3);
        Tensor rows;
        using (no_grad())
        {
            flow.SetGaussianWeight(0);
            using Tensor fromFlow = flow.Sample(150, draws).Q;
            flow.SetGaussianWeight(1);
            using Tensor fromGaussian = flow.Sample(150, draws).Q;
            rows = cat(new[] { fromFlow, fromGaussian }, 0);
        }
        using var heldOut = rows;
        var measured = ScoringBudget.Measure(flow, rows, seed: 1);
        double share = flow.GaussianWeight;

        // The same draws again (one block of 300 rows, the same seed), each share of the grid scored as Measure scores it.
        using var noGrad = no_grad();
        var (flowWeights, gaussianWeights, _) = flow.ComponentLogImportanceWeights(rows, ScoringBudget.Reference, new Generator(1));
        // The held-out log-likelihood of the mixture (the estimate's constant log K does not move the best share) plus the
        // prior's log(a) / n.
        double Mean(double a) => HamiltonianFlow.MixLogWeights(flowWeights.to(ScalarType.Float64), gaussianWeights.to(ScalarType.Float64), a)
            .logsumexp(0).mean().item<double>() + Math.Log(a) / rows.shape[0];
        double best = GaussianShare.Grid.Max(Mean);
        Assert.Contains(GaussianShare.Grid, a => Math.Abs(a - share) < 1e-6 && Mean(a) == best);
        // What Measure reports: the mixture's and the Gaussian's mean log-likelihood, each less the estimate's log K.
        double chosen = GaussianShare.Grid.Single(a => Math.Abs(a - share) < 1e-6); // the grid's value, not the float32 buffer's
        Assert.Equal(best - Math.Log(chosen) / rows.shape[0] - Math.Log(ScoringBudget.Reference), measured.LogLikelihood, 9);
        Assert.Equal(Mean(1) - Math.Log(ScoringBudget.Reference), measured.GaussianLogLikelihood, 9);
        // Neither end of the grid: each component alone misses half the rows.
        Assert.InRange(share, 0.1, 0.9);
    }

    [Fact]
    public void TheLogLikelihoodIsTheMixtureOfTheFlowsAndTheGaussians()
    {
        using var flow = Flow();
        using var rows = TestFlows.Points(50, 2, seed: 2).Times(2);
        using var noise = randn(new long[] { 4, rows.shape[0], flow.NoiseWidth }, generator: new Generator(3));
        using var noGrad = no_grad();
        double[] alone = flow.LogLikelihood(rows, noise).to(ScalarType.Float64).data<double>().ToArray();

        flow.SetGaussianWeight(1);
        double[] gaussian = flow.LogLikelihood(rows, noise).to(ScalarType.Float64).data<double>().ToArray();
        // The Gaussian's own density, from the stage's whitening: log N(z; 0, I) + log |dz/dx| (no lattice features here).
        var (z, logJacobian) = flow.Gaussian.Whiten(rows);
        double[] exact = StandardNormal.LogProbability(z).Plus(logJacobian).to(ScalarType.Float64).data<double>().ToArray();
        for (int i = 0; i < exact.Length; i++)
            FloatTolerance.Close(exact[i], gaussian[i], $"the Gaussian's own log-density, row {i}");

        flow.SetGaussianWeight(0.3);
        double[] mixed = flow.LogLikelihood(rows, noise).to(ScalarType.Float64).data<double>().ToArray();
        for (int i = 0; i < mixed.Length; i++)
        {
            // With the same noise each of the 4 samples mixes its own weights; the mean of the mixed weights is the mix of the means.
            double expected = Math.Log(0.7 * Math.Exp(alone[i]) + 0.3 * Math.Exp(gaussian[i]));
            FloatTolerance.Close(expected, mixed[i], $"the mixture's log-likelihood, row {i}");
        }
        flow.SetGaussianWeight(0);
        Assert.Equal(alone, flow.LogLikelihood(rows, noise).to(ScalarType.Float64).data<double>().ToArray());
    }

    [Fact]
    public void WithTheWholeShareEveryDrawIsTheGaussiansAndWithNoneTheFlows()
    {
        using var flow = Flow();
        using var noGrad = no_grad();
        // Sample draws q0 (then p0) from the generator first: the Gaussian's draw is that q0 mapped by the stage.
        using Tensor q0 = StandardNormal.Sample(500, 2, flow.Architecture.Precision, flow.Device, new Generator(5));
        using Tensor gaussian = flow.Gaussian.Inverse(q0);
        using Tensor byFlow = flow.Sample(500, new Generator(5)).Q;
        Assert.True(TestFlows.MaxAbs(byFlow - gaussian) > 0.1);

        flow.SetGaussianWeight(1);
        Assert.Equal(0, TestFlows.MaxAbs(flow.Sample(500, new Generator(5)).Q - gaussian));

        // A share of one half: about half the draws are the Gaussian's, the others the flow's.
        flow.SetGaussianWeight(0.5);
        using Tensor mixed = flow.Sample(500, new Generator(5)).Q;
        using Scalar zero = 0.ToScalar();
        long fromGaussian = (mixed - gaussian).abs().sum(1).eq(zero).sum().item<long>();
        long fromFlow = (mixed - byFlow).abs().sum(1).eq(zero).sum().item<long>();
        Assert.Equal(500, fromGaussian + fromFlow);
        Assert.InRange(fromGaussian, 200, 300);
    }

    [Fact]
    public void TheShareIsSavedAndAVersionThreeFileLoadsWithAShareOfZero()
    {
        using var flow = Flow();
        flow.SetGaussianWeight(0.2);
        using var stream = new MemoryStream();
        FlowWeightsFormat.Save(flow, stream);
        stream.Position = 0;
        using (var loaded = FlowWeightsFormat.Load(stream))
            Assert.Equal(0.2, loaded.GaussianWeight, 6);

        // Written by commit 9e67f1c (format version 3, before the share); FlowWeightsFormatTests checks that it scores as it did.
        using var old = FlowWeightsFormat.Load(Path.Combine(AppContext.BaseDirectory, "Resources", "flow-v3.nhfw"));
        Assert.Equal(0, old.GaussianWeight);
    }
}
