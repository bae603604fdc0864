using System.Diagnostics;
using System.Globalization;
using Microsoft.ML.HamiltonianFlows.Torch;
using static TorchSharp.torch;

namespace Microsoft.ML.HamiltonianFlows.PerformanceTests;

/// <summary>
/// One round of the side-by-side comparison with PyTorch (compare.sh): the median time of every operation, printed as
/// tab-separated lines in the format pytorch/nhf_reference.py prints (plus the FLOP count), with the same warm-up and measured counts.
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

        foreach (Workload workload in Workload.All)
        {
            var (warmup, measured) = Counts(workload);
            using Tensor batch = workload.Batch(seed: 1);
            foreach (var kinetic in new[] { KineticEnergyKind.Quadratic, KineticEnergyKind.Neural })
            {
                // The library's own loop, one step per epoch: the time between two progress reports is one step.
                var ends = new List<long>();
                workload.Train(kinetic, batch, 1 + warmup + measured, () => ends.Add(Stopwatch.GetTimestamp())).Flow.Dispose();
                var steps = ends.Skip(1 + warmup).Zip(ends.Skip(warmup), (end, start) => Milliseconds(end - start)).ToList();
                Print("train", workload.Name, kinetic, threads, workload.MatmulFlops("train", kinetic), steps);

                using var flow = HamiltonianFlow.Create(workload.Architecture(kinetic), seed: 1);
                using var generator = new Generator(1);
                Print("score", workload.Name, kinetic, threads, workload.MatmulFlops("score", kinetic), Time(warmup, measured, () => Workload.Score(flow, batch, generator)));
                Print("sample", workload.Name, kinetic, threads, workload.MatmulFlops("sample", kinetic), Time(warmup, measured, () => workload.Sample(flow, generator)));
            }
        }
    }

    /// <summary>Warm-up and measured repetitions: about a second of work per operation.</summary>
    private static (int Warmup, int Measured) Counts(Workload workload) => workload.Dimension <= 2 ? (5, 30) : (2, 8);

    private static List<double> Time(int warmup, int measured, Func<float> operation)
    {
        var times = new List<double>();
        for (int i = 0; i < warmup + measured; i++)
        {
            long start = Stopwatch.GetTimestamp();
            operation();
            if (i >= warmup)
                times.Add(Milliseconds(Stopwatch.GetTimestamp() - start));
        }
        return times;
    }

    private static double Milliseconds(long ticks) => ticks * 1000.0 / Stopwatch.Frequency;

    // The last column, the operation's matrix-product FLOPs, is printed by this side only: compare.sh takes it from here.
    private static void Print(string operation, string workload, object kinetic, int threads, double flops, List<double> times)
    {
        times.Sort();
        double median = times.Count % 2 == 1 ? times[times.Count / 2] : 0.5 * (times[times.Count / 2 - 1] + times[times.Count / 2]);
        string kineticName = kinetic switch
        {
            KineticEnergyKind.Quadratic => "fixed",
            KineticEnergyKind.Neural => "neural",
            _ => kinetic.ToString()!,
        };
        Console.WriteLine(string.Join('\t', Implementation, operation, workload, kineticName, threads,
            median.ToString("F3", CultureInfo.InvariantCulture), times.Count, flops.ToString("F0", CultureInfo.InvariantCulture)));
    }
}
