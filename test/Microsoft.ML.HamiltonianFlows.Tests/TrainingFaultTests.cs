using Microsoft.ML.Data;
using Xunit;
using Xunit.Abstractions;

namespace Microsoft.ML.HamiltonianFlows.Tests;

/// <summary>
/// Awkward training data and settings. Awkward data (and a learning rate 100 times the default, clipped) must give a model
/// whose scores are finite for in-distribution rows and never NaN for finite ones; a learning rate that makes every batch
/// diverge must stop the fit with a message saying what to change.
/// </summary>
[Collection(TorchGlobalGeneratorCollection.Name)]
public sealed class TrainingFaultTests
{
    private readonly ITestOutputHelper output;

    public TrainingFaultTests(ITestOutputHelper output) => this.output = output;

    private static HamiltonianFlowTransformerTests.Point P(float x, float y) => new() { Features = new[] { x, y } };

    private static HamiltonianFlowTransformerTests.Point[] Scaled(HamiltonianFlowTransformerTests.Point[] points, float scale, float offset = 0) =>
        points.Select(p => P(p.Features[0] * scale + offset, p.Features[1] * scale + offset)).ToArray();

    private static HamiltonianFlowTransformerTests.Point[] Collinear(IEnumerable<HamiltonianFlowTransformerTests.Point> points) =>
        points.Select(p => P(p.Features[0], 2 * p.Features[0] + 1)).ToArray();

    /// <summary>Training rows of each case, and the rows it is scored on (the training distribution and far from it).</summary>
    private static (HamiltonianFlowTransformerTests.Point[] Train, HamiltonianFlowTransformerTests.Point[] Test) Data(string fault)
    {
        var train = HamiltonianFlowTransformerTests.Clusters(256, 1);
        var test = HamiltonianFlowTransformerTests.Clusters(64, 2).Concat(new[] { P(40, -30), P(-400, 300), P(0, 0) }).ToArray();
        return fault switch
        {
            "non-finite rows" => (train.Select((p, i) => (i % 5) switch
            {
                0 => P(float.NaN, p.Features[1]),
                1 => P(p.Features[0], float.PositiveInfinity),
                2 => P(float.NegativeInfinity, float.NaN),
                _ => p,
            }).ToArray(), test),
            "constant column" => (train.Select(p => P(p.Features[0], 5)).ToArray(), test.Select(p => P(p.Features[0], p.Features[1] + 5)).ToArray()),
            "all rows identical" => (Enumerable.Repeat(P(1, 2), 256).ToArray(), test),
            "each row 16 times" => (train.Take(16).SelectMany(p => Enumerable.Repeat(p, 16)).ToArray(), test),
            "scale 1e6" => (Scaled(train, 1e6f, 3e6f), Scaled(test, 1e6f, 3e6f)),
            "scale 1e-6" => (Scaled(train, 1e-6f, 1e-5f), Scaled(test, 1e-6f, 1e-5f)),
            // A singular covariance: only the shrinkage keeps the fitted Gaussian's correlation invertible.
            "collinear columns" => (Collinear(train), Collinear(test[..64]).Concat(test[64..]).ToArray()),
            // Left out of the fit as a gross outlier.
            "one row at 1e30" => (train.Append(P(1e30f, 0)).ToArray(), test),
            _ => (train, test),
        };
    }

    [Theory]
    [InlineData("non-finite rows")]
    [InlineData("constant column")]
    [InlineData("all rows identical")]
    [InlineData("each row 16 times")]
    [InlineData("scale 1e6")]
    [InlineData("scale 1e-6")]
    [InlineData("collinear columns")]
    [InlineData("one row at 1e30")]
    [InlineData("learning rate 100x")]
    public void FitOnAwkwardDataReturnsAModelThatScoresTypicalRowsFinitelyAndNoRowNaN(string fault)
    {
        var ml = new MLContext(seed: 1);
        var (train, test) = Data(fault);
        var options = HamiltonianFlowTransformerTests.SmallOptions();
        if (fault == "learning rate 100x")
            options.LearningRate = 100 * Training.FlowDefaults.LearningRateFor(2);

        using var model = ml.Transforms.HamiltonianFlow(options).Fit(ml.Data.LoadFromEnumerable(train));
        // Finite rows at the edge of float's range, whose computation overflows.
        test = test.Concat(new[] { P(1e10f, -1e10f), P(1e20f, 3), P(-3e38f, 3e38f), P(float.MaxValue, float.MinValue) }).ToArray();
        var scores = model.Transform(ml.Data.LoadFromEnumerable(test)).GetColumn<float>("LogLikelihood").ToArray();
        output.WriteLine($"{fault}: fitted; in-distribution mean {scores[..64].Average():G4}, far rows {string.Join(", ", scores[64..])}");
        Assert.All(scores, s => Assert.False(float.IsNaN(s)));
        Assert.All(scores[..64], s => Assert.True(float.IsFinite(s)));
    }

    [Theory]
    [InlineData("constant column", "1")]
    [InlineData("one row", "0, 1")]
    [InlineData("two identical rows", "0, 1")]
    public void DegenerateTrainingDataFitsWithAWarningNamingTheConstantValues(string fault, string constant)
    {
        var ml = new MLContext(seed: 1);
        var train = fault switch
        {
            "constant column" => HamiltonianFlowTransformerTests.Clusters(256, 1).Select(p => P(p.Features[0], 5)).ToArray(),
            "one row" => new[] { P(1, 2) },
            _ => new[] { P(1, 2), P(1, 2) },
        };
        var warnings = new List<string>();
        ml.Log += (_, e) => { if (e.Kind == Runtime.ChannelMessageKind.Warning) lock (warnings) warnings.Add(e.Message); };

        using var model = ml.Transforms.HamiltonianFlow(HamiltonianFlowTransformerTests.SmallOptions()).Fit(ml.Data.LoadFromEnumerable(train));

        string warning = Assert.Single(warnings, w => w.Contains("constant"));
        Assert.Contains("'Features'", warning);
        Assert.Contains($"(0-based: {constant})", warning);
        var clean = new MLContext(seed: 1);
        var cleanWarnings = new List<string>();
        clean.Log += (_, e) => { if (e.Kind == Runtime.ChannelMessageKind.Warning) lock (cleanWarnings) cleanWarnings.Add(e.Message); };
        using var _ = clean.Transforms.HamiltonianFlow(HamiltonianFlowTransformerTests.SmallOptions())
            .Fit(clean.Data.LoadFromEnumerable(HamiltonianFlowTransformerTests.Clusters(256, 1)));
        Assert.DoesNotContain(cleanWarnings, w => w.Contains("constant"));
    }

    [Fact]
    public void ADoubleFeatureThatVariesLittleAroundALargeOffsetIsNamedInAWarning()
    {
        // Seconds since 1970 varying by about 300 s: Single holds values near 1.7e9 in steps of 128, so the flow, which reads
        // features as Single, sees much of the variation rounded away. The same rows with the offset subtracted do not warn.
        var random = new Random(3);
        var rows = Enumerable.Range(0, 300).Select(_ => (Time: 1.7e9 + 300 * random.Gaussian(), Other: random.Gaussian())).ToArray();
        List<string> Warnings(double offset, bool centred = false)
        {
            var ml = new MLContext(seed: 1);
            var warnings = new List<string>();
            ml.Log += (_, e) => { if (e.Kind == Runtime.ChannelMessageKind.Warning) lock (warnings) warnings.Add(e.Message); };
            var data = ml.Data.LoadFromEnumerable(rows.Select(r => new HamiltonianFlowTransformerTests.DoublePoint { Features = new[] { r.Time - offset, r.Other } }));
            var flow = ml.Transforms.HamiltonianFlow(HamiltonianFlowTransformerTests.SmallOptions());
            // The warning's advice: NormalizeMeanVariance centres a Double column in Double only with fixZero: false.
            ITransformer model = centred ? ml.Transforms.NormalizeMeanVariance("Features", fixZero: false).Append(flow).Fit(data) : flow.Fit(data);
            (model as IDisposable)?.Dispose();
            return warnings;
        }

        string warning = Assert.Single(Warnings(0), w => w.Contains("large offset"));
        Assert.Contains("1 of the 2 values of feature column 'Features'", warning);
        Assert.Contains("(0-based: 0 in steps of 128 with standard deviation", warning);
        Assert.DoesNotContain(Warnings(1.7e9), w => w.Contains("large offset"));
        Assert.DoesNotContain(Warnings(0, centred: true), w => w.Contains("large offset"));
    }

    [Fact]
    public void IntegerCountsThatSingleHoldsExactlyAreNotWarnedAbout()
    {
        // Counts near 1e6 varying by about 3: Single's spacing there is 0.0625, above 1% of their spread, but they are whole
        // numbers below 2^24, which Single holds exactly (a lattice of width 1, wider than the spacing).
        var random = new Random(5);
        var ml = new MLContext(seed: 1);
        var warnings = new List<string>();
        ml.Log += (_, e) => { if (e.Kind == Runtime.ChannelMessageKind.Warning) lock (warnings) warnings.Add(e.Message); };
        var data = ml.Data.LoadFromEnumerable(Enumerable.Range(0, 300).Select(_ => P((float)Math.Round(1e6 + 3 * random.Gaussian()), (float)random.Gaussian())).ToArray());
        using var model = ml.Transforms.HamiltonianFlow(HamiltonianFlowTransformerTests.SmallOptions()).Fit(data);
        Assert.DoesNotContain(warnings, w => w.Contains("large offset"));
    }

    [Theory]
    [InlineData(1e6)]
    [InlineData(30)]
    public void AFitWhoseEveryBatchDivergesStopsWithAMessage(double learningRate)
    {
        // Issue 14 saw a fit at 1e6 return a model whose every log-likelihood was -infinity, without an error. 30 is 10,000
        // times the default; without clipping its first batches already overflow. (A rate of 100 times the default without
        // clipping is left out: whether it diverges before the end depends on the CPU's rounding.)
        var ml = new MLContext(seed: 1);
        var options = HamiltonianFlowTransformerTests.SmallOptions();
        options.LearningRate = learningRate;
        options.GradientClipNorm = null;

        var e = Assert.Throws<InvalidOperationException>(() =>
            ml.Transforms.HamiltonianFlow(options).Fit(ml.Data.LoadFromEnumerable(HamiltonianFlowTransformerTests.Clusters(256, 1))));

        output.WriteLine(e.Message);
        Assert.Contains("diverged", e.Message);
        Assert.Contains(nameof(options.LearningRate), e.Message);
    }

    [Fact]
    public void EngineScoresAnOverflowingFiniteRowAsMinusInfinityAndANaNRowAsNaN()
    {
        using var flow = TestFlows.Build(new Torch.FlowArchitecture { Dimension = 2, HiddenLayers = new[] { 8 } });
        using var scope = TorchSharp.torch.NewDisposeScope();
        using var noGrad = TorchSharp.torch.no_grad();
        var x = TorchSharp.torch.tensor(new[] { 0.5f, -1f, -3e38f, 3e38f, float.NaN, 0f }, new long[] { 3, 2 });

        float[] logLikelihood = flow.LogLikelihood(x, 4).data<float>().ToArray();

        Assert.True(float.IsFinite(logLikelihood[0]));
        Assert.Equal(float.NegativeInfinity, logLikelihood[1]);
        Assert.True(float.IsNaN(logLikelihood[2]));
    }
}
