using Microsoft.ML.Data;
using Microsoft.ML.HamiltonianFlows.Torch;
using Xunit;

namespace Microsoft.ML.HamiltonianFlows.Tests;

[Collection(TorchGlobalGeneratorCollection.Name)]
public class HamiltonianFlowTransformerTests
{
    internal sealed class Point
    {
        [VectorType(2)]
        public float[] Features { get; set; } = Array.Empty<float>();
    }

    internal sealed class Scored
    {
        public float LogLikelihood { get; set; }
    }

    /// <summary>
    /// A small flow that trains in about a second: one Hamiltonian of 2 steps, 50 steps of training (evaluated on the
    /// held-out fifth at steps 0 and 50, the better kept).
    /// </summary>
    internal static HamiltonianFlowTrainer.Options SmallOptions() => SmallOptions<HamiltonianFlowTrainer.Options>();

    /// <summary>The detector's options with the same flow as <see cref="SmallOptions()"/>.</summary>
    internal static HamiltonianFlowAnomalyTrainer.Options SmallDetectorOptions(double contamination = 0.05)
    {
        var options = SmallOptions<HamiltonianFlowAnomalyTrainer.Options>();
        options.Contamination = contamination;
        return options;
    }

    private static TOptions SmallOptions<TOptions>() where TOptions : HamiltonianFlowOptionsBase, new() => new()
    {
        MaxSteps = 50, HiddenLayers = new[] { 16, 16 }, Hamiltonians = 1, LeapfrogSteps = 2, BatchSize = 64, Seed = 3, ScoringImportanceSamples = 4,
    };

    /// <summary>Two elongated clusters around (-2, 0) and (2, 1).</summary>
    internal static Point[] Clusters(int n, int seed)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, n).Select(i =>
        {
            float cx = i % 2 == 0 ? -2 : 2, cy = i % 2 == 0 ? 0 : 1;
            return new Point { Features = new[] { cx + 0.5f * (float)random.Gaussian(), cy + 0.2f * (float)random.Gaussian() } };
        }).ToArray();
    }

    private static float[] LogLikelihoods(IDataView scored) =>
        scored.GetColumn<float>("LogLikelihood").ToArray();

    [Fact]
    public void TransformScoresInDistributionRowsAboveFarRowsAndNonFiniteRowsAsNaN()
    {
        var ml = new MLContext(seed: 1);
        var model = ml.Transforms.HamiltonianFlow(SmallOptions()).Fit(ml.Data.LoadFromEnumerable(Clusters(400, 1)));

        var test = Clusters(600, 2).Concat(new[]
        {
            new Point { Features = new[] { 12f, -9f } },
            new Point { Features = new[] { float.NaN, 0f } },
            new Point { Features = new[] { 1f, float.PositiveInfinity } },
        }).ToArray();
        var scores = LogLikelihoods(model.Transform(ml.Data.LoadFromEnumerable(test)));

        Assert.Equal(test.Length, scores.Length);
        var inDistribution = scores[..600];
        Assert.All(inDistribution, s => Assert.True(float.IsFinite(s)));
        Assert.True(inDistribution.Average() > scores[600] + 10, $"mean {inDistribution.Average()} vs far {scores[600]}");
        Assert.True(float.IsNaN(scores[601]));
        Assert.True(float.IsNaN(scores[602]));
        // A second pass, and the same rows in another order, give the same values.
        Assert.Equal(scores, LogLikelihoods(model.Transform(ml.Data.LoadFromEnumerable(test))));
        var reversed = LogLikelihoods(model.Transform(ml.Data.LoadFromEnumerable(test.Reverse())));
        Assert.Equal(scores, reversed.Reverse());
    }

    [Fact]
    public void PredictionEngineGivesTheTransformValueForEachRow()
    {
        var ml = new MLContext(seed: 1);
        var model = ml.Transforms.HamiltonianFlow(SmallOptions()).Fit(ml.Data.LoadFromEnumerable(Clusters(300, 1)));
        var test = Clusters(300, 5);
        var batch = LogLikelihoods(model.Transform(ml.Data.LoadFromEnumerable(test)));

        var engine = ml.Model.CreatePredictionEngine<Point, Scored>(model);
        var single = test.Select(p => engine.Predict(p).LogLikelihood).ToArray();

        // Same momenta per row; only the batch size of the matrix products differs (1 against a block of 300), which
        // oneMKL's AVX-512 kernels round differently in the last bits.
        FloatTolerance.Close(batch, single, "one row through a PredictionEngine against the same row in a block");
    }

    [Fact]
    public void DoublePrecisionTrainsAFloat64FlowThatScoresAndReloadsBitForBit()
    {
        var ml = new MLContext(seed: 1);
        var options = SmallOptions();
        options.DoublePrecision = true;
        var data = ml.Data.LoadFromEnumerable(Clusters(300, 1));
        var model = ml.Transforms.HamiltonianFlow(options).Fit(data);
        Assert.Equal(TorchSharp.torch.ScalarType.Float64, model.Model.Architecture.Precision);

        var test = Clusters(200, 5).Append(new Point { Features = new[] { 12f, -9f } }).ToArray();
        var scores = LogLikelihoods(model.Transform(ml.Data.LoadFromEnumerable(test)));
        Assert.True(scores[..200].Average() > scores[200] + 10, $"mean {scores[..200].Average()} vs far {scores[200]}");

        // One row at a time through a PredictionEngine: products of another shape, equal to rounding.
        var engine = ml.Model.CreatePredictionEngine<Point, Scored>(model);
        FloatTolerance.Close(scores, test.Select(p => engine.Predict(p).LogLikelihood).ToArray(), "a PredictionEngine's score");

        using var file = new MemoryStream();
        ml.Model.Save(model, data.Schema, file);
        file.Position = 0;
        var reloaded = ml.Model.Load(file, out _);
        Assert.Equal(scores, LogLikelihoods(reloaded.Transform(ml.Data.LoadFromEnumerable(test))));
    }

    [Fact]
    public void ScoresDoNotDependOnTheBlockARowIsScoredIn()
    {
        var ml = new MLContext(seed: 1);
        var model = ml.Transforms.HamiltonianFlow(SmallOptions()).Fit(ml.Data.LoadFromEnumerable(Clusters(300, 1)));
        int blockRows = FlowScoreDataView.BlockRows(model.Model);
        // A block and a half: reversed, every row moves to another position and half of them to the other block.
        var test = Clusters(blockRows + blockRows / 2, 6);

        var scores = LogLikelihoods(model.Transform(ml.Data.LoadFromEnumerable(test)));
        var reversed = LogLikelihoods(model.Transform(ml.Data.LoadFromEnumerable(test.Reverse())));

        Assert.All(scores, s => Assert.True(float.IsFinite(s)));
        Assert.Equal(scores, reversed.Reverse());
    }

    [Fact]
    public void ParallelCursorsGiveTheSameScoresAsOneCursor()
    {
        var ml = new MLContext(seed: 1);
        var model = ml.Transforms.HamiltonianFlow(SmallOptions()).Fit(ml.Data.LoadFromEnumerable(Clusters(300, 1)));
        var scored = model.Transform(ml.Data.LoadFromEnumerable(Clusters(700, 9)));
        var expected = LogLikelihoods(scored);

        var results = new float[4][];
        Parallel.For(0, results.Length, i => results[i] = LogLikelihoods(scored));

        Assert.All(results, r => Assert.Equal(expected, r));
    }

    [Fact]
    public void WorksInsideATransformerChainAfterNormalization()
    {
        var ml = new MLContext(seed: 1);
        var data = ml.Data.LoadFromEnumerable(Clusters(300, 1));
        var pipeline = ml.Transforms.NormalizeMinMax("Features")
            .Append(ml.Transforms.HamiltonianFlow("Density", "Features", maxSteps: 15, hiddenLayers: new[] { 8 }, leapfrogSteps: 2, seed: 4));
        TransformerChain<HamiltonianFlowTransformer> chain = pipeline.Fit(data);

        var scored = chain.Transform(data);
        Assert.Equal(NumberDataViewType.Single, scored.Schema["Density"].Type);
        Assert.All(scored.GetColumn<float>("Density"), v => Assert.True(float.IsFinite(v)));
        Assert.Equal("Density", chain.LastTransformer.OutputColumnName);
    }

    internal sealed class Point3
    {
        [VectorType(3)]
        public float[] Features { get; set; } = Array.Empty<float>();
    }

    [Fact]
    public void AValueConstantInTrainingIsSampledAsItselfAndScoredLowerOffIt()
    {
        var ml = new MLContext(seed: 1);
        // The clusters with a middle value that is 7 in every training row.
        var rows = Clusters(300, 2).Select(p => new Point3 { Features = new[] { p.Features[0], 7f, p.Features[1] } }).ToArray();
        var model = ml.Transforms.HamiltonianFlow(SmallOptions()).Fit(ml.Data.LoadFromEnumerable(rows));

        var points = model.Sample(300, seed: 5).GetColumn<float[]>("Features").ToArray();
        Assert.All(points, p => Assert.Equal(7f, p[1]));
        Assert.True(points.Select(p => p[0]).Distinct().Count() > 100, "the varying values should vary");

        var scored = LogLikelihoods(model.Transform(ml.Data.LoadFromEnumerable(new[]
        {
            new Point3 { Features = new[] { 2f, 7f, 1f } },
            new Point3 { Features = new[] { 2f, 9f, 1f } },
        })));
        Assert.True(scored[1] < scored[0] - 0.5, $"off the constant value {scored[1]}, on it {scored[0]}");
    }

    [Fact]
    public void SampleReturnsAVectorColumnNamedLikeTheFeaturesNearTheData()
    {
        var ml = new MLContext(seed: 1);
        var options = SmallOptions();
        options.MaxSteps = 150;
        var model = ml.Transforms.HamiltonianFlow(options).Fit(ml.Data.LoadFromEnumerable(Clusters(400, 1)));

        var samples = model.Sample(500, seed: 11);

        var type = Assert.IsType<VectorDataViewType>(samples.Schema["Features"].Type);
        Assert.Equal(NumberDataViewType.Single, type.ItemType);
        Assert.Equal(2, type.Size);
        var points = samples.GetColumn<float[]>("Features").ToArray();
        Assert.Equal(500, points.Length);
        // The data's mean is (0, 0.5) with x spread over [-3.5, 3.5].
        Assert.InRange(points.Average(p => p[0]), -0.6, 0.6);
        Assert.InRange(points.Average(p => p[1]), 0.1, 0.9);
        Assert.Equal(points, model.Sample(500, seed: 11).GetColumn<float[]>("Features").ToArray());
        Assert.NotEqual(points, model.Sample(500, seed: 12).GetColumn<float[]>("Features").ToArray());
    }

    [Fact]
    public void ADrawLargerThanOneBlockFillsEveryRowAndOneTooLargeForAnArrayNamesTheCount()
    {
        var ml = new MLContext(seed: 1);
        var options = SmallOptions();
        options.MaxSteps = 0;
        using var model = ml.Transforms.HamiltonianFlow(options).Fit(ml.Data.LoadFromEnumerable(Clusters(400, 1)));

        // Drawn in blocks of 65,536 rows: the rows of the second block are draws too, like the first block's.
        var points = model.Sample(65_536 + 4_000, seed: 3).GetColumn<float[]>("Features").ToArray();
        Assert.Equal(69_536, points.Length);
        var first = points[..4_000];
        var second = points[65_536..];
        Assert.Equal(first.Average(p => p[0]), second.Average(p => p[0]), 0.15);
        Assert.Equal(StandardDeviation(first.Select(p => (double)p[0])), StandardDeviation(second.Select(p => (double)p[0])), 0.15);
        // Rows, not single values: two Single draws of one feature can coincide by chance.
        Assert.Equal(4_000, second.Select(p => (p[0], p[1])).Distinct().Count());
        // The same seed draws the same rows past the first block.
        Assert.Equal(second, model.Sample(65_536 + 4_000, seed: 3).GetColumn<float[]>("Features").Skip(65_536).ToArray());

        var error = Assert.Throws<ArgumentOutOfRangeException>(() => model.Sample(int.MaxValue, seed: 1));
        Assert.Equal("count", error.ParamName);
    }

    private static double StandardDeviation(IEnumerable<double> values)
    {
        double[] v = values.ToArray();
        double mean = v.Average();
        return Math.Sqrt(v.Sum(x => (x - mean) * (x - mean)) / v.Length);
    }

    [Fact]
    public void ZeroRowsInGiveZeroRowsOutWithTheColumnsTypes()
    {
        var ml = new MLContext(seed: 1);
        var model = ml.Transforms.HamiltonianFlow(SmallOptions()).Fit(ml.Data.LoadFromEnumerable(Clusters(100, 1)));

        // No draws: an empty view whose column still declares d values (it said "unknown size", after a TorchSharp error
        // on the empty tensor was fixed).
        IDataView none = model.Sample(0, seed: 1);
        Assert.Equal(new VectorDataViewType(NumberDataViewType.Single, 2), none.Schema["Features"].Type);
        Assert.Empty(none.GetColumn<float[]>("Features"));
        Assert.Empty(LogLikelihoods(model.Transform(ml.Data.LoadFromEnumerable(Array.Empty<Point>()))));
    }

    [Fact]
    public void PotentialIsReadAtEachPointAndRejectsAPartialPoint()
    {
        var ml = new MLContext(seed: 1);
        var model = ml.Transforms.HamiltonianFlow(SmallOptions()).Fit(ml.Data.LoadFromEnumerable(Clusters(200, 1)));

        float[] v = model.Potential(new[] { -2f, 0f, 2f, 1f, 0f, 0.5f });

        Assert.Equal(3, v.Length);
        Assert.All(v, x => Assert.True(float.IsFinite(x)));
        FloatTolerance.Close(v[1], model.Potential(new[] { 2f, 1f })[0], "the potential at one point against the same point among three");
        Assert.Throws<ArgumentException>(() => model.Potential(new[] { 1f, 2f, 3f }));
    }

    [Fact]
    public void AcceptsDoubleVectorAndSingleScalarFeatures()
    {
        var ml = new MLContext(seed: 1);
        var points = Clusters(200, 1);
        var doubles = ml.Data.LoadFromEnumerable(points.Select(p => new DoublePoint { Features = p.Features.Select(x => (double)x).ToArray() }));
        var scalars = ml.Data.LoadFromEnumerable(points.Select(p => new ScalarPoint { Features = p.Features[0] }));

        var fromDoubles = ml.Transforms.HamiltonianFlow(SmallOptions()).Fit(doubles);
        var fromSingles = ml.Transforms.HamiltonianFlow(SmallOptions()).Fit(ml.Data.LoadFromEnumerable(points));
        var fromScalars = ml.Transforms.HamiltonianFlow(SmallOptions()).Fit(scalars);

        // The same values as Single train the same flow.
        var singles = ml.Data.LoadFromEnumerable(points);
        float[] scores = LogLikelihoods(fromSingles.Transform(singles));
        Assert.Equal(scores, LogLikelihoods(fromDoubles.Transform(doubles)));
        // Each scores the other storage too (binding checks the size; the rows are read as they are stored): Double rows
        // for a Single flow threw from GetGetter, in the transform and in a prediction engine.
        Assert.Equal(scores, LogLikelihoods(fromSingles.Transform(doubles)));
        Assert.Equal(scores, LogLikelihoods(fromDoubles.Transform(singles)));
        var engine = ml.Model.CreatePredictionEngine<DoublePoint, Scored>(fromSingles);
        FloatTolerance.Close(scores[0], engine.Predict(new DoublePoint { Features = points[0].Features.Select(x => (double)x).ToArray() }).LogLikelihood, "one Double row through a PredictionEngine");
        var detector = ml.AnomalyDetection.Trainers.HamiltonianFlow(SmallDetectorOptions()).Fit(singles);
        Assert.Equal(detector.Transform(singles).GetColumn<float>("Score"), detector.Transform(doubles).GetColumn<float>("Score"));
        Assert.Equal(1, fromScalars.Model.Dimension);
        // A scalar flow scores a one-value vector column of the same values, and the reverse.
        var vectors = ml.Data.LoadFromEnumerable(points.Select(p => new OneValuePoint { Features = new[] { (double)p.Features[0] } }));
        var fromVectors = ml.Transforms.HamiltonianFlow(SmallOptions()).Fit(vectors);
        Assert.Equal(LogLikelihoods(fromScalars.Transform(scalars)), LogLikelihoods(fromScalars.Transform(vectors)));
        Assert.Equal(LogLikelihoods(fromVectors.Transform(vectors)), LogLikelihoods(fromVectors.Transform(scalars)));
        Assert.All(LogLikelihoods(fromScalars.Transform(scalars)), v => Assert.True(float.IsFinite(v)));
        Assert.Equal(1, ((VectorDataViewType)fromScalars.Sample(3, 1).Schema["Features"].Type).Size);
    }

    [Fact]
    public void AFiniteDoubleBeyondSinglesRangeIsAFarRowNotAMissingValue()
    {
        var ml = new MLContext(seed: 1);
        DoublePoint D(double a, double b) => new() { Features = new[] { a, b } };
        var train = Clusters(200, 1).Select(p => D(p.Features[0], p.Features[1])).Append(D(1e39, 0)).ToList();
        var warnings = new List<string>();
        ml.Log += (_, e) => { if (e.Kind == Runtime.ChannelMessageKind.Warning) lock (warnings) warnings.Add(e.Message); };

        using var model = ml.Transforms.HamiltonianFlow(SmallOptions()).Fit(ml.Data.LoadFromEnumerable(train));
        // In training it is a gross outlier, not a row with a missing value (it was skipped as "NaN or infinite").
        Assert.Contains(warnings, w => w.Contains("Left 1 training rows out of the fit"));
        Assert.DoesNotContain(warnings, w => w.Contains("NaN or infinite"));

        // Scored as the Single row at Single's limit of the same sign is, never NaN; an infinite Double stays a missing value.
        var rows = new[] { D(1e39, 0.5), D(-1e300, 0.5), D(double.PositiveInfinity, 0.5) };
        float[] scores = LogLikelihoods(model.Transform(ml.Data.LoadFromEnumerable(rows)));
        float[] atSinglesLimits = LogLikelihoods(model.Transform(ml.Data.LoadFromEnumerable(new[]
        {
            new Point { Features = new[] { float.MaxValue, 0.5f } }, new Point { Features = new[] { -float.MaxValue, 0.5f } },
        })));
        Assert.All(atSinglesLimits, s => Assert.False(float.IsNaN(s)));
        Assert.Equal(atSinglesLimits.Append(float.NaN), scores);

        using var detector = ml.AnomalyDetection.Trainers.HamiltonianFlow(SmallDetectorOptions()).Fit(ml.Data.LoadFromEnumerable(train));
        var flagged = detector.Transform(ml.Data.LoadFromEnumerable(rows.Take(1)));
        Assert.False(float.IsNaN(flagged.GetColumn<float>("Score").Single()));
        Assert.True(flagged.GetColumn<bool>("PredictedLabel").Single());
    }

    internal sealed class DoublePoint
    {
        [VectorType(2)]
        public double[] Features { get; set; } = Array.Empty<double>();
    }

    internal sealed class OneValuePoint
    {
        [VectorType(1)]
        public double[] Features { get; set; } = Array.Empty<double>();
    }

    internal sealed class DoubleScalarPoint
    {
        public double Features { get; set; }
    }

    internal sealed class ScalarPoint
    {
        public float Features { get; set; }
    }

    internal sealed class VariablePoint
    {
        [VectorType]
        public float[] Features { get; set; } = Array.Empty<float>();
    }

    internal sealed class TextPoint
    {
        public string Features { get; set; } = "";
    }

    internal sealed class IntegerPoint
    {
        [VectorType(2)]
        public int[] Features { get; set; } = Array.Empty<int>();
    }

    [Fact]
    public void RejectsWrongColumnTypesNamingColumnAndType()
    {
        var ml = new MLContext(seed: 1);
        var variable = ml.Data.LoadFromEnumerable(new[] { new VariablePoint { Features = new[] { 1f } } });
        var text = ml.Data.LoadFromEnumerable(new[] { new TextPoint { Features = "a" } });
        var estimator = ml.Transforms.HamiltonianFlow(SmallOptions());

        // Each message names the column and its type, and says what makes the column one the flow reads.
        var e1 = Assert.Throws<ArgumentOutOfRangeException>(() => estimator.Fit(variable));
        Assert.Contains("'Features'", e1.Message);
        Assert.Contains("Vector<Single>", e1.Message);
        Assert.Contains("[VectorType(d)]", e1.Message);
        var e2 = Assert.Throws<ArgumentOutOfRangeException>(() => estimator.GetOutputSchema(Shape(variable.Schema)));
        Assert.Contains("variable size", e2.Message);
        Assert.Contains("[VectorType(d)]", e2.Message);
        var e3 = Assert.Throws<ArgumentOutOfRangeException>(() => estimator.GetOutputSchema(Shape(text.Schema)));
        Assert.Contains("String", e3.Message);
        Assert.Contains("FeaturizeText", e3.Message);
        var integers = ml.Data.LoadFromEnumerable(new[] { new IntegerPoint { Features = new[] { 1, 2 } } });
        Assert.Contains("ConvertType", Assert.Throws<ArgumentOutOfRangeException>(() => estimator.Fit(integers)).Message);
        // A Double scalar: only a vector may hold Doubles (it had no hint at all).
        var doubleScalar = ml.Data.LoadFromEnumerable(new[] { new DoubleScalarPoint { Features = 1 } });
        var e6 = Assert.Throws<ArgumentOutOfRangeException>(() => estimator.Fit(doubleScalar));
        Assert.Contains("Concatenate", e6.Message);
        Assert.Contains("Concatenate", Assert.Throws<ArgumentOutOfRangeException>(
            () => estimator.Fit(ml.Data.LoadFromEnumerable(Clusters(100, 1))).GetOutputSchema(doubleScalar.Schema)).Message);
        var keys = ml.Transforms.Conversion.MapValueToKey("Features").Fit(text).Transform(text);
        Assert.Contains("MapKeyToValue", Assert.Throws<ArgumentOutOfRangeException>(() => estimator.Fit(keys)).Message);
        var e4 = Assert.Throws<ArgumentOutOfRangeException>(() => ml.Transforms.HamiltonianFlow(featureColumnName: "Missing").Fit(text));
        Assert.Contains("'Missing'", e4.Message);
        Assert.Contains("its columns: Features;", e4.Message);

        // A fitted 2-D model refuses a 1-D column of the same name, and a view without it says the column must be there.
        var model = estimator.Fit(ml.Data.LoadFromEnumerable(Clusters(100, 1)));
        var renamed = ml.Transforms.CopyColumns("Other", "Features").Append(ml.Transforms.DropColumns("Features"))
            .Fit(ml.Data.LoadFromEnumerable(Clusters(10, 1))).Transform(ml.Data.LoadFromEnumerable(Clusters(10, 1)));
        Assert.Contains("trained on", Assert.Throws<ArgumentOutOfRangeException>(() => model.Transform(renamed)).Message);
        var scalar = ml.Data.LoadFromEnumerable(new[] { new ScalarPoint { Features = 1 } });
        var e5 = Assert.Throws<ArgumentOutOfRangeException>(() => model.GetOutputSchema(scalar.Schema));
        Assert.Contains("trained on 2", e5.Message);
    }

    [Theory]
    [InlineData(3)] // longer than [VectorType(2)]: failed inside VBuffer.CopyTo without a name
    [InlineData(1)] // shorter: would have kept the previous row's second value
    public void ARowWhoseVectorBreaksItsDeclaredSizeIsRefusedNamingColumnAndRow(int length)
    {
        var ml = new MLContext(seed: 1);
        Point[] rows = Clusters(100, 1);
        rows[37] = new Point { Features = Enumerable.Repeat(1f, length).ToArray() };
        var broken = ml.Data.LoadFromEnumerable(rows);
        var doubles = ml.Data.LoadFromEnumerable(rows.Select(p => new DoublePoint { Features = p.Features.Select(x => (double)x).ToArray() }));

        void RefusedAtRow37(Action act)
        {
            var e = Assert.Throws<InvalidOperationException>(act);
            Assert.Contains("'Features'", e.Message);
            Assert.Contains($"holds {length} values at row position 37", e.Message);
            Assert.Contains("declares 2", e.Message);
        }

        RefusedAtRow37(() => ml.Transforms.HamiltonianFlow(SmallOptions()).Fit(broken));
        RefusedAtRow37(() => ml.Transforms.HamiltonianFlow(SmallOptions()).Fit(doubles));
        RefusedAtRow37(() => ml.AnomalyDetection.Trainers.HamiltonianFlow(SmallDetectorOptions()).Fit(broken));
        var streamed = SmallOptions();
        streamed.MemoryBudgetMegabytes = 0.0001; // about 100 bytes, below the 800 of the rows: read as a stream
        RefusedAtRow37(() => ml.Transforms.HamiltonianFlow(streamed).Fit(broken));
        var model = ml.Transforms.HamiltonianFlow(SmallOptions()).Fit(ml.Data.LoadFromEnumerable(Clusters(100, 1)));
        RefusedAtRow37(() => LogLikelihoods(model.Transform(broken)));
        var engine = ml.Model.CreatePredictionEngine<Point, Scored>(model);
        var e = Assert.Throws<InvalidOperationException>(() => engine.Predict(rows[37]));
        Assert.Contains($"'Features' holds {length} values", e.Message);
    }

    [Fact]
    public void ATimeLimitInTheOptionsEndsTheFitAndTheLogSaysSo()
    {
        var ml = new MLContext(seed: 1);
        var log = new List<string>();
        ml.Log += (_, e) => { lock (log) log.Add(e.Message); };
        var options = SmallOptions();
        options.MaxSteps = 1_000_000;
        options.MaxTrainingTime = TimeSpan.Zero;
        options.ValidationFraction = 0;
        using var model = ml.Transforms.HamiltonianFlow(options).Fit(ml.Data.LoadFromEnumerable(Clusters(100, 1)));
        Assert.Contains(log, m => m.Contains("Kept the weights of step 1; stopped at the time limit (MaxTrainingTime)."));
    }

    [Fact]
    public void EmptyOrAllNonFiniteTrainingDataThrowsAndNonFiniteRowsAreSkippedWithALogMessage()
    {
        var ml = new MLContext(seed: 1);
        var log = new List<string>();
        ml.Log += (_, e) => { lock (log) log.Add(e.Message); };
        var estimator = ml.Transforms.HamiltonianFlow(SmallOptions());

        // The engine's exception type for the same fault (DataWithNoFiniteRowThrowsBeforeTraining).
        var empty = Assert.Throws<ArgumentException>(() => estimator.Fit(ml.Data.LoadFromEnumerable(Array.Empty<Point>())));
        Assert.Contains("empty", empty.Message);
        var allNaN = new[] { new Point { Features = new[] { float.NaN, 1f } } };
        var nonFinite = Assert.Throws<ArgumentException>(() => estimator.Fit(ml.Data.LoadFromEnumerable(allNaN)));
        Assert.Contains("'Features'", nonFinite.Message);

        var data = Clusters(100, 1).Concat(allNaN).Concat(new[] { new Point { Features = new[] { 1f, float.NegativeInfinity } } });
        estimator.Fit(ml.Data.LoadFromEnumerable(data));
        lock (log)
        {
            Assert.Contains(log, m => m.Contains("Skipped 2 training rows") && m.Contains("'Features'") && m.Contains("ReplaceMissingValues"));
            Assert.Contains(log, m => m.Contains("Step 50: training loss"));
        }
    }

    [Fact]
    public void TheMissingValueHintKeepsRowsWithAGapInTheFitAndScoresThem()
    {
        // The skipped-rows warning advises ReplaceMissingValues in front of the flow: with it, a row with a NaN is
        // fitted and scored finite instead of skipped and scored NaN.
        var ml = new MLContext(seed: 1);
        var log = new List<string>();
        ml.Log += (_, e) => { lock (log) log.Add(e.Message); };
        var gap = new Point { Features = new[] { float.NaN, 1f } };
        var data = ml.Data.LoadFromEnumerable(Clusters(100, 1).Append(gap));

        float Score(ITransformer model) =>
            ml.Data.CreateEnumerable<Scored>(model.Transform(ml.Data.LoadFromEnumerable(new[] { gap })), reuseRowObject: false).Single().LogLikelihood;

        // Without the replacement: the row is skipped with the warning, and scores NaN.
        using (var alone = ml.Transforms.HamiltonianFlow(SmallOptions()).Fit(data))
            Assert.True(float.IsNaN(Score(alone)));
        lock (log)
        {
            Assert.Contains(log, m => m.Contains("Skipped 1 training rows") && m.Contains("ReplaceMissingValues"));
            log.Clear();
        }

        var model = ml.Transforms.ReplaceMissingValues("Features").Append(ml.Transforms.HamiltonianFlow(SmallOptions())).Fit(data);
        using var flow = model.LastTransformer;
        float score = Score(model);

        Assert.True(float.IsFinite(score), $"log-likelihood {score}");
        lock (log)
            Assert.DoesNotContain(log, m => m.Contains("Skipped"));
    }

    [Fact]
    public void SeedComesFromTheMLContextWhenTheOptionsGiveNone()
    {
        float[] Train(int contextSeed)
        {
            var ml = new MLContext(seed: contextSeed);
            var options = SmallOptions();
            options.Seed = null;
            options.MaxSteps = 4;
            // Nothing held out: the flow is scored alone. With held-out rows, 4 steps leave a flow that the measured
            // Gaussian share can replace by the Gaussian, whose fit to all rows depends on no seed.
            options.ValidationFraction = 0;
            var data = ml.Data.LoadFromEnumerable(Clusters(100, 1));
            return LogLikelihoods(ml.Transforms.HamiltonianFlow(options).Fit(data).Transform(data));
        }

        Assert.Equal(Train(5), Train(5));
        Assert.NotEqual(Train(5), Train(6));
    }

    [Fact]
    public void CancelExecutionStopsTrainingBetweenBatches()
    {
        var ml = new MLContext(seed: 1);
        ml.Log += (_, e) =>
        {
            if (e.Message.Contains("Step 0:"))
                CancelExecution(ml);
        };
        var options = SmallOptions();
        options.MaxSteps = 100_000;
        var estimator = ml.Transforms.HamiltonianFlow(options);

        Assert.ThrowsAny<OperationCanceledException>(() => estimator.Fit(ml.Data.LoadFromEnumerable(Clusters(200, 1))));
    }

    // ML.NET 5.0.1 keeps SchemaShape.Create and MLContext's cancellation (ICancelable) internal; tools such as AutoML reach them.
    private static SchemaShape Shape(DataViewSchema schema) =>
        (SchemaShape)typeof(SchemaShape).GetMethod("Create", System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Static)!
            .Invoke(null, new object[] { schema })!;

    internal static void CancelExecution(MLContext ml)
    {
        object env = typeof(MLContext).GetFields(System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Instance)
            .Select(f => f.GetValue(ml)).Single(v => v?.GetType().GetInterface("ICancelable") is not null)!;
        env.GetType().GetInterface("ICancelable")!.GetMethod("CancelExecution")!.Invoke(env, null);
    }

    [Fact]
    public void InvalidOptionsAreRejectedNamingTheOption()
    {
        var ml = new MLContext();
        var e = Assert.Throws<ArgumentException>(() => ml.Transforms.HamiltonianFlow(new HamiltonianFlowTrainer.Options { ScoringImportanceSamples = 0 }));
        Assert.Contains("ScoringImportanceSamples", e.Message);
        e = Assert.Throws<ArgumentException>(() => ml.Transforms.HamiltonianFlow(new HamiltonianFlowTrainer.Options { LeapfrogSteps = 0 }));
        Assert.Contains("LeapfrogSteps", e.Message);
        e = Assert.Throws<ArgumentException>(() => ml.Transforms.HamiltonianFlow(new HamiltonianFlowTrainer.Options { MaxConsecutiveNonFiniteBatches = 0 }));
        Assert.Contains("MaxConsecutiveNonFiniteBatches", e.Message);
        // Named as the user set it, not as the engine's architecture calls it (Kinetic).
        e = Assert.Throws<ArgumentException>(() => ml.Transforms.HamiltonianFlow(new HamiltonianFlowTrainer.Options { KineticEnergy = (KineticEnergyKind)7 }));
        Assert.Equal("KineticEnergy", e.ParamName);
        Assert.StartsWith("KineticEnergy 7 ", e.Message);
    }

    [Theory]
    [InlineData(4097)]
    [InlineData(1 << 26)] // overflowed the scoring block's arithmetic (DivideByZeroException) when it was allowed
    [InlineData(int.MaxValue)]
    public void ImportanceSampleCountsAboveTheBoundAreRejectedWhenTheTrainerIsBuilt(int samples)
    {
        var ml = new MLContext();
        var e = Assert.Throws<ArgumentException>(() => ml.Transforms.HamiltonianFlow(new HamiltonianFlowTrainer.Options { ScoringImportanceSamples = samples }));
        Assert.Equal("ScoringImportanceSamples", e.ParamName);
        Assert.Contains("4096", e.Message);
        e = Assert.Throws<ArgumentException>(() => ml.AnomalyDetection.Trainers.HamiltonianFlow(new HamiltonianFlowAnomalyTrainer.Options { TrainingImportanceSamples = samples }));
        Assert.Equal("TrainingImportanceSamples", e.ParamName);
        // The bound itself is allowed.
        ml.Transforms.HamiltonianFlow(new HamiltonianFlowTrainer.Options { ScoringImportanceSamples = 4096, TrainingImportanceSamples = 4096 });
    }
}
