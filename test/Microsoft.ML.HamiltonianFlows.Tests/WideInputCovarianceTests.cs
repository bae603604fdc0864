using Microsoft.ML.Data;
using Microsoft.ML.HamiltonianFlows.Torch;
using Microsoft.ML.HamiltonianFlows.Training;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace Microsoft.ML.HamiltonianFlows.Tests;

/// <summary>
/// <see cref="CovarianceKind.Automatic"/> is a full covariance up to <see cref="FlowArchitecture.FullCovarianceMaxDimension"/>
/// features and a low-rank one above, which stores no d x d matrix.
/// </summary>
public sealed class WideInputCovarianceTests
{
    private static bool HasFactor(HamiltonianFlow flow) => flow.state_dict().Keys.Any(k => k.Contains("factor", StringComparison.OrdinalIgnoreCase));

    [Fact]
    public void MoreThan1024FeaturesResolveToALowRankGaussianThatFitsAndScores()
    {
        const int d = 1100;
        var architecture = new FlowArchitecture { Dimension = d, HiddenLayers = new[] { 8 }, Hamiltonians = 1, LeapfrogSteps = 1 };
        Assert.Equal(CovarianceKind.LowRank, architecture.ResolvedCovariance);

        using var scope = NewDisposeScope();
        // 80 rows sharing one factor: the 64 not held out for validation are enough for the rank's own held-out rows (a
        // fifth of them, at least 10) to choose a rank above 0.
        Tensor points = TestFlows.Points(80, d, 1);
        Tensor data = points.Times(3).Plus(2).Plus(TestFlows.Points(80, 1, 2).Times(6));
        var result = FlowTrainer.Train(architecture, data, new FlowTrainingOptions { MaxSteps = 0 });
        using var flow = result.Flow;

        Assert.Equal(CovarianceKind.LowRank, flow.Gaussian.Covariance);
        Assert.False(HasFactor(flow));
        Assert.InRange(flow.Gaussian.Rank, 1, FlowArchitecture.MaxRank);
        // No d x d matrix anywhere in the flow's state: the largest is the d x 256 basis.
        Assert.All(flow.state_dict().Values, t => Assert.True(t.numel() <= (long)d * FlowArchitecture.MaxRank, $"a tensor of shape [{string.Join(", ", t.shape)}]"));
        // Fitted: each feature's own standard deviation, about sqrt(3^2 + 6^2) = 6.7.
        Assert.InRange(flow.Gaussian.Scale.mean().item<float>(), 5.5f, 8f);
        using var noGrad = no_grad();
        using var generator = new Generator(2);
        Assert.True(flow.LogLikelihood(data.narrow(0, 0, 4), 2, generator).isfinite().all().item<bool>());
    }

    private sealed class WideRow
    {
        [VectorType(1100)]
        public float[] Features { get; set; } = Array.Empty<float>();
    }

    // Rows of 1,100 features: with `factor`, two shared factors plus noise (each feature's variance 5); without, independent
    // features of the same variance, which a diagonal Gaussian cannot tell from them.
    private static WideRow[] WideRows(int n, bool factor, int seed)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, n).Select(_ =>
        {
            double a = random.Gaussian(), b = random.Gaussian();
            return new WideRow
            {
                Features = Enumerable.Range(0, 1100).Select(j => (float)(factor
                    ? (j % 2 == 0 ? 2 * a : 2 * b) + random.Gaussian()
                    : Math.Sqrt(5) * random.Gaussian())).ToArray(),
            };
        }).ToArray();
    }

    [Fact]
    public void AWideAnomalyDetectorFindsTheRowsCorrelationSavesAndLoads()
    {
        var ml = new MLContext(seed: 1);
        var messages = new List<string>();
        ml.Log += (_, e) => { lock (messages) messages.Add(e.Message); };
        var options = HamiltonianFlowTransformerTests.SmallDetectorOptions(contamination: 0.1);
        options.MaxSteps = 5;
        var train = ml.Data.LoadFromEnumerable(WideRows(150, factor: true, seed: 1));
        var model = ml.AnomalyDetection.Trainers.HamiltonianFlow(options).Fit(train);
        Assert.Contains(messages, m => m.Contains("correlation has rank") && !m.Contains("rank 0 "));

        var normal = WideRows(40, factor: true, seed: 2);
        var uncorrelated = WideRows(40, factor: false, seed: 3);
        var test = ml.Data.LoadFromEnumerable(normal.Concat(uncorrelated));
        float[] scores = model.Transform(test).GetColumn<float>("Score").ToArray();
        // Same marginals, no shared factors: the correlation sets them apart by far more than the marginals alone do (seen
        // here: about 1,960 nats between the least anomalous uncorrelated row and the most anomalous normal one, 170 with
        // the diagonal stage the default was before).
        double gap = scores.Skip(40).Min() - scores.Take(40).Max();
        Assert.True(gap > 800, $"the uncorrelated rows should score as more anomalous than every normal one by far, by {gap} nats");

        // The threshold is the held-out rows' quantile, less what the stage gains on them from having been fitted to them:
        // about Contamination of new normal rows are flagged (30 held-out rows here, so within a wide band). With the
        // directions chosen on the held-out rows too, 57% were.
        var fresh = ml.Data.LoadFromEnumerable(WideRows(300, factor: true, seed: 4));
        double flagged = model.Transform(fresh).GetColumn<bool>("PredictedLabel").Average(b => b ? 1.0 : 0.0);
        Assert.InRange(flagged, 0.0, 0.25);

        using var stream = new MemoryStream();
        ml.Model.Save(model, train.Schema, stream);
        stream.Position = 0;
        var loaded = new MLContext(seed: 7).Model.Load(stream, out _);
        Assert.Equal(scores, loaded.Transform(test).GetColumn<float>("Score").ToArray());
    }

    [Fact]
    public void AtMost1024FeaturesResolveToAFullGaussianAndAnExplicitKindIsKept()
    {
        Assert.Equal(1024, FlowArchitecture.FullCovarianceMaxDimension);
        var widest = new FlowArchitecture { Dimension = 1024, HiddenLayers = new[] { 4 }, Hamiltonians = 1, LeapfrogSteps = 1 };
        Assert.Equal(CovarianceKind.Full, widest.ResolvedCovariance);
        using (var flow = new HamiltonianFlow(widest))
        {
            Assert.Equal(CovarianceKind.Full, flow.Gaussian.Covariance);
            Assert.True(HasFactor(flow));
        }

        Assert.Equal(CovarianceKind.Diagonal, (widest with { Covariance = CovarianceKind.Diagonal }).ResolvedCovariance);
        Assert.Equal(CovarianceKind.LowRank, (widest with { Dimension = 1025 }).ResolvedCovariance);
        Assert.Equal(CovarianceKind.Full, (widest with { Dimension = 1100, Covariance = CovarianceKind.Full }).ResolvedCovariance);
        Assert.Equal(CovarianceKind.Full, new FlowArchitecture { Dimension = 1 }.ResolvedCovariance);
    }
}
