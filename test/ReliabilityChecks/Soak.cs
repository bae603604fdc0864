using System.Diagnostics;
using System.Globalization;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.HamiltonianFlows;

/// <summary>
/// Repeats fit, score, save and load on small data and records the process's resident memory (VmRSS: managed and
/// native, torch's included) after each cycle, to show whether anything accumulates.
/// </summary>
internal static class Soak
{
    public static int Run(int cycles, string csvPath, bool dispose)
    {
        TorchSharp.torch.set_num_threads(1);
        var random = new Random(1);
        var points = Enumerable.Range(0, 512)
            .Select(i => new Row { Features = new[] { (i % 2 == 0 ? -2f : 2f) + (float)Normal(random), (float)Normal(random) * 0.5f } })
            .ToArray();
        string folder = Directory.CreateTempSubdirectory("nhf-soak-").FullName;
        string modelPath = Path.Combine(folder, "model.zip");
        using var csv = new StreamWriter(csvPath);
        csv.WriteLine("cycle,seconds,rss_mb,managed_heap_mb");
        var clock = Stopwatch.StartNew();
        try
        {
            for (int cycle = 1; cycle <= cycles; cycle++)
            {
                var ml = new MLContext(seed: cycle);
                var data = ml.Data.LoadFromEnumerable(points);
                var options = new HamiltonianFlowTrainer.Options { MaxSteps = 16, HiddenLayers = new[] { 32, 32 }, LeapfrogSteps = 4, BatchSize = 64, ScoringImportanceSamples = 8 };
                var model = ml.Transforms.HamiltonianFlow(options).Fit(data);
                float[] scores = model.Transform(data).GetColumn<float>("LogLikelihood").ToArray();
                ml.Model.SaveAtomically(model, data.Schema, modelPath);
                var loaded = ml.Model.LoadVerified(modelPath, out _);
                float[] reloaded = loaded.Transform(data).GetColumn<float>("LogLikelihood").ToArray();
                if (!scores.SequenceEqual(reloaded) || !scores.All(float.IsFinite))
                {
                    Console.Error.WriteLine($"cycle {cycle}: the reloaded model scores differently, or a score is not finite");
                    return 1;
                }
                if (dispose)
                {
                    model.Dispose();
                    ((IDisposable)loaded).Dispose();
                }
                // The managed heap as the last collection left it (no collection is forced: that would change what is measured).
                double rss = ResidentMegabytes(), managed = GC.GetGCMemoryInfo().HeapSizeBytes / 1048576.0;
                csv.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{cycle},{clock.Elapsed.TotalSeconds:F1},{rss:F1},{managed:F1}"));
                if (cycle == 1 || cycle % 20 == 0)
                    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"cycle {cycle,4}: {clock.Elapsed.TotalSeconds,6:F1} s, RSS {rss,7:F1} MB, managed heap {managed,6:F1} MB"));
            }
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
        return 0;
    }

    /// <summary>VmRSS from /proc/self/status, in MB: every resident page of the process, native allocations included.</summary>
    private static double ResidentMegabytes()
    {
        string line = File.ReadLines("/proc/self/status").First(l => l.StartsWith("VmRSS:", StringComparison.Ordinal));
        return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) / 1024.0;
    }

    private static double Normal(Random r) => Math.Sqrt(-2 * Math.Log(1 - r.NextDouble())) * Math.Cos(2 * Math.PI * r.NextDouble());
}
