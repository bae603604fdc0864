using System.Diagnostics;
using Microsoft.ML.HamiltonianFlows.Torch;
using Microsoft.ML.HamiltonianFlows.Training;
using static TorchSharp.torch;

namespace Microsoft.ML.HamiltonianFlows.PerformanceTests;

/// <summary>
/// A default-option engine fit of wide data (as Fashion-MNIST's 28 x 28 images): <c>--wide ROWS DIMENSION STEPS</c> times
/// the Gaussian stage, the steps, and the end of the fit (the held-out loss and the choice of the scoring K), and
/// reports the process's peak resident memory. Rows of 32 shared factors plus independent noise: above 1,024 features
/// the stage's low-rank correlation then has directions to find (its rank, chosen on the rows, sets the last pass's
/// cost); a full or diagonal stage costs the same whatever the rows hold.
/// </summary>
internal static class WideFit
{
    public static void Run(long rows, int dimension, long steps, int threads, Func<long> peakResidentMegabytes)
    {
        using var generator = new Generator(1);
        using var factors = randn(new long[] { rows, 32 }, generator: generator);
        using var loadings = randn(new long[] { 32, dimension }, generator: generator);
        using var noise = randn(new long[] { rows, dimension }, generator: generator);
        using var data = factors.matmul(loadings).add_(noise);
        var process = Process.GetCurrentProcess();
        TimeSpan cpuBefore = process.TotalProcessorTime;
        var clock = Stopwatch.StartNew();
        double lastReport = 0;
        using var flow = FlowTrainer.Train(new FlowArchitecture { Dimension = dimension }, data,
            new FlowTrainingOptions { MaxSteps = steps, Seed = 1, NumberOfThreads = threads },
            p =>
            {
                if (p.Steps == 0)
                    Console.WriteLine($"Gaussian stage fitted: {clock.Elapsed.TotalSeconds:F1} s");
                lastReport = clock.Elapsed.TotalSeconds;
            }).Flow;
        double total = clock.Elapsed.TotalSeconds;
        Console.WriteLine($"Gaussian stage: {flow.Gaussian.Covariance}, rank {flow.Gaussian.Rank}");
        process.Refresh();
        Console.WriteLine($"{rows:N0} x {dimension} rows, {steps} steps on {threads} torch thread(s): last step reported at {lastReport:F1} s, " +
            $"fit returned at {total:F1} s (held-out loss and scoring K: {total - lastReport:F1} s), " +
            $"{(process.TotalProcessorTime - cpuBefore).TotalSeconds:F1} s CPU, peak RSS {peakResidentMegabytes():N0} MB");
    }
}
