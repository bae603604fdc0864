using Microsoft.ML.HamiltonianFlows.Torch;
using Microsoft.ML.HamiltonianFlows.Training;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace Microsoft.ML.HamiltonianFlows.Tests;

[Collection(TorchGlobalGeneratorCollection.Name)]
public class ScoringBudgetTests
{
    [Fact]
    public void TheUntrainedFlowIsScoredWithOneSample()
    {
        // Untrained, the flow is its Gaussian: the weights barely vary and one sample is as good as 64.
        using var flow = HamiltonianFlow.Create(new FlowArchitecture { Dimension = 3 }, seed: 1);
        using var rows = randn(300, 3, generator: new Generator(2));
        Assert.Equal(1, ScoringBudget.Measure(flow, rows, seed: 1).Samples);
    }

    [Fact]
    public void AFlowWithVaryingWeightsGetsTheSamplesItsMeanNeeds()
    {
        // An encoder proposing momenta with sd 1.5 where the flow's base wants 1: per dimension E[w^2] = 1.5 / sqrt(2 - 1 / 1.5^2),
        // so in 2-D Var(w) = 0.45 and the K-sample estimate is low by about 0.22 / K nats. Within 0.02 nats takes K = 16,
        // give or take one step for the sampling noise of a mean over 1,024 rows.
        using var flow = HamiltonianFlow.Create(new FlowArchitecture { Dimension = 2 }, seed: 1);
        using (no_grad())
        {
            var outputBias = flow.Encoder.parameters().Last();
            using Scalar logSd = Math.Log(1.5).ToScalar();
            outputBias.narrow(0, 2, 2).fill_(logSd);
        }
        using var rows = randn(1000, 2, generator: new Generator(4));
        // The flow's own weights: measured as a whole, the exact Gaussian would take the density over and need one sample.
        using var logWeights = flow.LogImportanceWeights(rows, ScoringBudget.Reference, new Generator(1)).to(ScalarType.Float64);

        Assert.InRange(ScoringBudget.Samples(logWeights, flow), 8, 32);
    }

    [Fact]
    public void TheBoundCountsOnlyTheFeaturesThatVary()
    {
        // The flow above with six more features, constant in training: the dynamics hold their coordinates and their
        // momenta are proposed as the base draws them, so the weights spread as in 2-D and K is what 2-D needs. Counted
        // as dimensions they would loosen the bound to 0.08 nats, which K = 4 meets.
        const int d = 8;
        using var flow = HamiltonianFlow.Create(new FlowArchitecture { Dimension = d }, seed: 1);
        var identity = new double[d, d];
        for (int j = 0; j < d; j++)
            identity[j, j] = 1;
        flow.Gaussian.Set(new double[d], Enumerable.Repeat(1.0, d).ToArray(), identity, FeatureCells.None(d),
            constant: Enumerable.Range(0, d).Select(j => j >= 2).ToArray());
        using (no_grad())
        {
            var outputBias = flow.Encoder.parameters().Last();
            using Scalar logSd = Math.Log(1.5).ToScalar();
            outputBias.narrow(0, d, d).fill_(logSd);
        }
        using var rows = randn(1000, d, generator: new Generator(4));
        using var logWeights = flow.LogImportanceWeights(rows, ScoringBudget.Reference, new Generator(1)).to(ScalarType.Float64);

        Assert.InRange(ScoringBudget.Samples(logWeights, flow), 8, 32);
    }

    [Fact]
    public void TheMLNetModelScoresWithTheMeasuredSamplesUnlessTheOptionsSetThem()
    {
        var ml = new MLContext(seed: 1);
        var data = ml.Data.LoadFromEnumerable(HamiltonianFlowTransformerTests.Clusters(300, 1));
        var options = HamiltonianFlowTransformerTests.SmallOptions();
        options.ScoringImportanceSamples = null;
        var messages = new List<string>();
        ml.Log += (_, e) => { lock (messages) messages.Add(e.Message); };

        using var measured = ml.Transforms.HamiltonianFlow(options).Fit(data);
        options.ScoringImportanceSamples = 8;
        using var fixedSamples = ml.Transforms.HamiltonianFlow(options).Fit(data);

        int k = measured.Model.ScoringImportanceSamples;
        Assert.True(k is >= 1 and <= ScoringBudget.Reference && (k & (k - 1)) == 0, $"K = {k}");
        Assert.Contains(messages, m => m.Contains($"Scoring with {k} importance samples"));
        Assert.Contains(messages, m => m.Contains($"The fitted Gaussian's share of the density, measured on the held-out rows: {measured.Model.GaussianWeight:G3}; " +
                                                  "their mean negative log-likelihood "));
        // The share is one the held-out rows chose from the grid (a float32 buffer holds it).
        double weight = measured.Model.GaussianWeight;
        Assert.Contains(GaussianShare.Grid, share => Math.Abs(share - weight) <= 1e-6 * share);
        Assert.Equal(8, fixedSamples.Model.ScoringImportanceSamples);
    }
}
