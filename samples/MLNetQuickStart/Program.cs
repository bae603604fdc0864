// ML.NET entry points of Microsoft.ML.HamiltonianFlows, one per command:
//   dotnet run --project samples/MLNetQuickStart -- density              density, sampling and the potential on 2D data
//   dotnet run --project samples/MLNetQuickStart -- anomaly [folder]     anomaly detection on ML.NET's MNIST tiny files, with Evaluate
//                                                                         (default: the copy of test/data/mlnet-mnist-tiny in the output folder)
//   dotnet run --project samples/MLNetQuickStart -- saveload             save a NormalizeMinMax -> HamiltonianFlow chain and load it back
using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetQuickStart;

return args.FirstOrDefault() switch
{
    "density" => Samples.Density(),
    "anomaly" => Samples.Anomaly(args.Length > 1 ? args[1] : Path.Combine(AppContext.BaseDirectory, "data", "mlnet-mnist-tiny")),
    "saveload" => Samples.SaveLoad(),
    _ => Usage(),
};

static int Usage()
{
    Console.Error.WriteLine("Usage: MLNetQuickStart density | anomaly [mnist-tiny folder] | saveload");
    return 2;
}

namespace MLNetQuickStart
{
    public sealed class Point
    {
        [VectorType(2)]
        public float[] Features { get; set; } = Array.Empty<float>();
    }

    public sealed class Density
    {
        public float LogLikelihood { get; set; }
    }

    internal static class Samples
    {
        // Two clusters, around (-2, 0) and (2, 1).
        private static Point[] Clusters(int n, int seed)
        {
            var random = new Random(seed);
            float Normal() => (float)(Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble()));
            return Enumerable.Range(0, n).Select(i => i % 2 == 0
                ? new Point { Features = new[] { -2 + 0.5f * Normal(), 0.2f * Normal() } }
                : new Point { Features = new[] { 2 + 0.5f * Normal(), 1 + 0.2f * Normal() } }).ToArray();
        }

        internal static int Density()
        {
            var ml = new MLContext(seed: 0);
            ml.Log += (_, e) => { if (e.Message.Contains("Kept the weights")) Console.WriteLine(e.Message); };
            var data = ml.Data.LoadFromEnumerable(Clusters(1000, 1));

            // The defaults: at most 2,000 steps, stopped when a fifth of the rows held out stops improving. The transformer
            // owns the flow's native tensors: dispose it (and engines over it) when done, as a long-running service must.
            using var model = ml.Transforms.HamiltonianFlow().Fit(data);

            using var engine = ml.Model.CreatePredictionEngine<Point, Density>(model);
            foreach (var x in new[] { new[] { -2f, 0f }, new[] { 2f, 1f }, new[] { 0f, 0.5f }, new[] { 6f, -4f } })
                Console.WriteLine($"log p({x[0]}, {x[1]}) = {engine.Predict(new Point { Features = x }).LogLikelihood:F3} nats, " +
                                  $"V = {model.Potential(x)[0]:F3}");
            var samples = model.Sample(5, seed: 7).GetColumn<float[]>("Features");
            Console.WriteLine("Samples: " + string.Join("  ", samples.Select(s => $"({s[0]:F2}, {s[1]:F2})")));
            return 0;
        }

        internal static int Anomaly(string folder)
        {
            var ml = new MLContext(seed: 1);
            var loader = ml.Data.CreateTextLoader(new[]
            {
                new TextLoader.Column("Label", DataKind.Single, 0),
                new TextLoader.Column("Features", DataKind.Single, 1, 784),
            }, allowSparse: true);
            var train = loader.Load(Path.Combine(folder, "MNIST.Train.0-class.tiny.txt"));
            var test = loader.Load(Path.Combine(folder, "MNIST.Test.tiny.txt"));

            using var detector = ml.AnomalyDetection.Trainers.HamiltonianFlow(contamination: 0.05).Fit(train);
            var scored = detector.Transform(test);
            var metrics = ml.AnomalyDetection.Evaluate(scored, falsePositiveCount: 5);
            Console.WriteLine($"HamiltonianFlow: AUC {metrics.AreaUnderRocCurve:F5}, detection rate at 5 false positives {metrics.DetectionRateAtFalsePositiveCount:F3}");
            // PredictedLabel: the threshold aims at flagging the contamination's fraction of new normal rows (label 0 here).
            var normal = scored.GetColumn<float>("Label").Zip(scored.GetColumn<bool>("PredictedLabel")).Where(row => row.First == 0).ToArray();
            Console.WriteLine($"  PredictedLabel flags {normal.Count(row => row.Second)} of the {normal.Length} normal test rows (contamination 0.05)");

            var pca = ml.AnomalyDetection.Evaluate(ml.AnomalyDetection.Trainers.RandomizedPca().Fit(train).Transform(test), falsePositiveCount: 5);
            Console.WriteLine($"RandomizedPca:   AUC {pca.AreaUnderRocCurve:F5}, detection rate at 5 false positives {pca.DetectionRateAtFalsePositiveCount:F3}");
            return 0;
        }

        internal static int SaveLoad()
        {
            var ml = new MLContext(seed: 0);
            var data = ml.Data.LoadFromEnumerable(Clusters(500, 1));
            using var model = ml.Transforms.NormalizeMinMax("Features").Append(ml.Transforms.HamiltonianFlow(maxSteps: 50)).Fit(data);
            string path = Path.Combine(Path.GetTempPath(), "hamiltonian-flow-chain.zip");
            ml.Model.Save(model, data.Schema, path);

            // A fresh context (or process) needs no registration call: the model file names this library.
            var loaded = new MLContext().Model.Load(path, out _);
            using var disposeLoaded = loaded as IDisposable;
            var before = model.Transform(data).GetColumn<float>("LogLikelihood").Take(3);
            var after = loaded.Transform(data).GetColumn<float>("LogLikelihood").Take(3);
            Console.WriteLine($"Saved to {path}; first log-likelihoods before {string.Join(", ", before)}, after {string.Join(", ", after)}");
            return 0;
        }
    }
}
