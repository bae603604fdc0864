using System.Diagnostics;
using System.Globalization;
using Microsoft.ML.HamiltonianFlows.Torch;
using static TorchSharp.torch;

namespace Microsoft.ML.HamiltonianFlows.PerformanceTests;

/// <summary>
/// One round of the side-by-side comparison with PyTorch (compare.sh): the median wall and process CPU time of every
/// operation, printed as tab-separated lines in the format pytorch/nhf_reference.py prints (plus the FLOP count), with
/// the same warm-up and measured counts. CPU time is the figure that background load disturbs least on one thread.
/// </summary>
internal static class Comparison
{
    private const string Implementation = "torchsharp";

    public static void Run(int threads)
    {
        var (a, b) = MatmulPeak.Operands();
        Print("matmul", "2048", "-", threads, MatmulPeak.Flops, Time(2, 5, () => MatmulPeak.Multiply(a, b)));
        a.Dispose();
        b.Dispose();

        // .NET compiles the hot methods again, optimised, on a background thread during the first second or so of
        // their use (tiered compilation), and that thread's CPU time is the process's: a first pass over every
        // operation, not printed, leaves the measured pass the steady state that PyTorch's warm-up also reaches.
        // Without it a 2-D training step measured 17 ms of CPU in 9 ms of wall time.
        Measure(threads, print: false);
        Measure(threads, print: true);
    }

    private static void Measure(int threads, bool print)
    {
        foreach (Workload workload in Workload.All)
        {
            var (warmup, measured) = print ? Counts(workload) : (0, 5);
            using Tensor batch = workload.Batch(seed: 1);
            foreach (var kinetic in new[] { KineticEnergyKind.Quadratic, KineticEnergyKind.Neural })
            {
                // The library's own loop, one step per epoch: the time between two progress reports is one step.
                var ends = new List<Sample>();
                workload.Train(kinetic, batch, 1 + warmup + measured, () => ends.Add(Now())).Flow.Dispose();
                var steps = ends.Skip(1 + warmup).Zip(ends.Skip(warmup), (end, start) => end - start).ToList();

                using var flow = HamiltonianFlow.Create(workload.Architecture(kinetic), seed: 1);
                using var generator = new Generator(1);
                var scores = Time(warmup, measured, () => Workload.Score(flow, batch, generator));
                var samples = Time(warmup, measured, () => workload.Sample(flow, generator));
                if (!print)
                    continue;
                Print("train", workload.Name, kinetic, threads, workload.MatmulFlops("train", kinetic), steps);
                Print("score", workload.Name, kinetic, threads, workload.MatmulFlops("score", kinetic), scores);
                Print("sample", workload.Name, kinetic, threads, workload.MatmulFlops("sample", kinetic), samples);
            }
        }
    }

    /// <summary>Warm-up and measured repetitions: about a second of work per operation.</summary>
    private static (int Warmup, int Measured) Counts(Workload workload) => workload.Dimension <= 2 ? (5, 30) : (2, 8);

    private static List<Sample> Time(int warmup, int measured, Func<float> operation)
    {
        var times = new List<Sample>();
        for (int i = 0; i < warmup + measured; i++)
        {
            Sample start = Now();
            operation();
            if (i >= warmup)
                times.Add(Now() - start);
        }
        return times;
    }

    private static Sample Now() => new(Stopwatch.GetTimestamp() * 1000.0 / Stopwatch.Frequency, ProcessCpuClock.Milliseconds());

    // The last column, the operation's matrix-product FLOPs, is printed by this side only: compare.sh takes it from here.
    private static void Print(string operation, string workload, object kinetic, int threads, double flops, List<Sample> times)
    {
        string kineticName = kinetic switch
        {
            KineticEnergyKind.Quadratic => "fixed",
            KineticEnergyKind.Neural => "neural",
            _ => kinetic.ToString()!,
        };
        Console.WriteLine(string.Join('\t', Implementation, operation, workload, kineticName, threads,
            Median(times.Select(t => t.WallMilliseconds)), times.Count, Median(times.Select(t => t.CpuMilliseconds)),
            flops.ToString("F0", CultureInfo.InvariantCulture)));
    }

    private static string Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToList();
        int n = sorted.Count;
        double median = n % 2 == 1 ? sorted[n / 2] : 0.5 * (sorted[n / 2 - 1] + sorted[n / 2]);
        return median.ToString("F3", CultureInfo.InvariantCulture);
    }

    private readonly record struct Sample(double WallMilliseconds, double CpuMilliseconds)
    {
        public static Sample operator -(Sample end, Sample start) =>
            new(end.WallMilliseconds - start.WallMilliseconds, end.CpuMilliseconds - start.CpuMilliseconds);
    }
}
