using System.Diagnostics;
using BenchmarkDotNet.Running;
using Microsoft.ML.HamiltonianFlows.PerformanceTests;

// Usage (docs/benchmarks.md):
//   [--threads N] [BenchmarkDotNet arguments, e.g. --filter '*']   the BenchmarkDotNet suite
//   [--threads N] --compare                                        one round of compare.sh (tab-separated medians)
//   [--threads N] --stream ROWS                                    Transform throughput and peak memory over ROWS rows
//   [--threads N] --defaults ROWS                                  density and detector Transform at default options
//   [--threads N] --wide ROWS DIMENSION STEPS                      a default engine fit of wide rows: time and peak memory
// The library's process settings (Torch/ProcessSettings.cs) have to precede libtorch's first matrix product, as they do in
// an application that reaches libtorch only through the library; the peak measurement multiplies matrices first.
System.Runtime.CompilerServices.RuntimeHelpers.RunModuleConstructor(typeof(Microsoft.ML.HamiltonianFlows.Torch.HamiltonianFlow).Module.ModuleHandle);
var rest = new List<string>(args);
int threads = TakeOption(rest, "--threads") is string t ? int.Parse(t) : Environment.ProcessorCount;
TorchSharp.torch.set_num_threads(threads);

if (rest.Remove("--compare"))
{
    Comparison.Run(threads);
}
else if (TakeOption(rest, "--defaults") is string defaultRows)
{
    DefaultOptionsThroughput.Run(long.Parse(defaultRows), threads);
}
else if (rest.IndexOf("--wide") is int wide && wide >= 0 && wide + 3 < rest.Count)
{
    WideFit.Run(long.Parse(rest[wide + 1]), int.Parse(rest[wide + 2]), long.Parse(rest[wide + 3]), threads, () => PeakResidentMegabytes());
}
else if (rest.IndexOf("--fit-memory") is int fit && fit >= 0 && fit + 2 < rest.Count)
{
    FitMemory.Run(long.Parse(rest[fit + 1]), int.Parse(rest[fit + 2]), () => PeakResidentMegabytes());
}
else if (TakeOption(rest, "--stream") is string rowsText)
{
    long rows = long.Parse(rowsText);
    using var throughput = new TransformThroughput();
    var process = Process.GetCurrentProcess();
    TimeSpan cpuBefore = process.TotalProcessorTime;
    var watch = Stopwatch.StartNew();
    double sum = throughput.Score(rows);
    watch.Stop();
    process.Refresh();
    // CPU time per row is the figure that background load disturbs least (wall time stretches with it).
    double cpuMicroseconds = (process.TotalProcessorTime - cpuBefore).TotalMicroseconds / rows;
    Console.WriteLine($"Transform: {rows:N0} rows in {watch.Elapsed.TotalSeconds:F1} s = {rows / watch.Elapsed.TotalSeconds:N0} rows/s " +
        $"on {threads} torch thread(s), {cpuMicroseconds:F2} us CPU per row; mean log-likelihood {sum / rows:F6}; " +
        $"peak RSS {PeakResidentMegabytes():N0} MB");
}
else
{
    BenchmarkSwitcher.FromAssembly(typeof(Workload).Assembly).Run(rest.ToArray(), new BenchmarkConfig());
}

static string? TakeOption(List<string> args, string name)
{
    int i = args.IndexOf(name);
    if (i < 0)
        return null;
    if (i + 1 >= args.Count)
        throw new ArgumentException($"{name} needs a value.");
    string value = args[i + 1];
    args.RemoveRange(i, 2);
    return value;
}

// The kernel's high-water mark of the resident set (VmHWM), which covers native (libtorch) memory too.
static long PeakResidentMegabytes() =>
    long.Parse(File.ReadLines("/proc/self/status").First(l => l.StartsWith("VmHWM:")).Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]) / 1024;
