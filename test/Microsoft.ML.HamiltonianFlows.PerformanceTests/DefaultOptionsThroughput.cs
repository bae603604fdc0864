using System.Diagnostics;
using Microsoft.ML.Data;

namespace Microsoft.ML.HamiltonianFlows.PerformanceTests;

/// <summary>
/// Transform throughput at default options: the density transformer and the anomaly detector, each fitted on 4,000 rows
/// of the 2-D ring, scoring the same rows; their rows per second, CPU time per row, and the detector's ratio to the
/// density transformer (docs/benchmarks.md).
/// </summary>
internal static class DefaultOptionsThroughput
{
    public static void Run(long rows, int threads)
    {
        var ml = new MLContext(seed: 1);
        if (Environment.GetEnvironmentVariable("HFLOW_BENCH_LOG") is not null)
            ml.Log += (_, e) => { if (e.Kind <= Runtime.ChannelMessageKind.Info && e.Message.Contains("Scoring")) Console.Error.WriteLine(e.Message); };
        IDataView train = TransformThroughput.Rows(ml, 4000);
        IDataView test = TransformThroughput.Rows(ml, rows);
        using var density = ml.Transforms.HamiltonianFlow().Fit(train);
        using var detector = ml.AnomalyDetection.Trainers.HamiltonianFlow().Fit(train);
        Console.WriteLine($"Default options: K = {density.Model.ScoringImportanceSamples} importance samples, {density.Model.Architecture.Hamiltonians} x " +
                          $"{density.Model.Architecture.LeapfrogSteps} leapfrog steps, hidden {string.Join("x", density.Model.Architecture.HiddenLayers)}; " +
                          $"{rows:N0} rows, {threads} torch thread(s).");
        // A warm-up pass each, then the measured one.
        Measure(density.Transform(test), "LogLikelihood");
        Measure(detector.Transform(test), "Score", "PredictedLabel");
        double densityRate = Report("density Transform", Measure(density.Transform(test), "LogLikelihood"), rows);
        double detectorRate = Report("detector Transform", Measure(detector.Transform(test), "Score", "PredictedLabel"), rows);
        Console.WriteLine($"detector / density rows per second: {detectorRate / densityRate:F2}");
    }

    private static double Report(string name, (TimeSpan Wall, TimeSpan Cpu) time, long rows)
    {
        double rate = rows / time.Wall.TotalSeconds;
        Console.WriteLine($"{name}: {rate:N0} rows/s, {time.Cpu.TotalMicroseconds / rows:F2} us CPU per row");
        return rate;
    }

    private static (TimeSpan Wall, TimeSpan Cpu) Measure(IDataView scored, params string[] columns)
    {
        var process = Process.GetCurrentProcess();
        TimeSpan cpuBefore = process.TotalProcessorTime;
        var watch = Stopwatch.StartNew();
        using (var cursor = scored.GetRowCursor(columns.Select(c => scored.Schema[c])))
        {
            var score = cursor.GetGetter<float>(scored.Schema[columns[0]]);
            var label = columns.Length > 1 ? cursor.GetGetter<bool>(scored.Schema[columns[1]]) : null;
            float value = 0;
            bool flag = false;
            while (cursor.MoveNext())
            {
                score(ref value);
                label?.Invoke(ref flag);
            }
        }
        watch.Stop();
        process.Refresh();
        return (watch.Elapsed, process.TotalProcessorTime - cpuBefore);
    }
}
