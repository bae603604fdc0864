using System.Runtime.CompilerServices;
using Microsoft.ML.HamiltonianFlows.Torch;
using static TorchSharp.torch;

/// <summary>
/// Minor page faults of this process per scoring call of a 2-D flow (512 rows, K = 16 momenta, L = 8, 64 x 64 hidden: the
/// "score 2d" operation of docs/benchmarks.md), counted over 20 calls after 5 of warm-up, on one torch thread. With
/// <c>keep</c> the library leaves glibc's malloc settings alone (its opt-out switch), which shows what it avoids.
/// </summary>
internal static class PageFaults
{
    public static int Run(bool keep)
    {
        // Before the library's module initializer runs, which is at its first use, in Measure.
        if (keep)
            AppContext.SetSwitch("Microsoft.ML.HamiltonianFlows.KeepMallocSettings", true);
        Console.WriteLine($"faults-per-call {Measure():F0}");
        return 0;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static double Measure()
    {
        set_num_threads(1);
        var architecture = new FlowArchitecture { Dimension = 2, HiddenLayers = new[] { 64, 64 }, LeapfrogSteps = 8, Hamiltonians = 1 };
        using var flow = HamiltonianFlow.Create(architecture, seed: 1);
        using var rows = randn(512, 2);
        using var generator = new Generator(1);
        void Score()
        {
            using var scope = NewDisposeScope();
            using var inference = inference_mode();
            flow.LogLikelihood(rows, 16, generator).sum().item<float>();
        }
        for (int i = 0; i < 5; i++)
            Score();
        long before = MinorFaults();
        const int calls = 20;
        for (int i = 0; i < calls; i++)
            Score();
        return (MinorFaults() - before) / (double)calls;
    }

    // Field 10 of /proc/self/stat (minflt); the command name in field 2 is parenthesised and may hold spaces.
    private static long MinorFaults()
    {
        string stat = File.ReadAllText("/proc/self/stat");
        string[] fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        return long.Parse(fields[7]);
    }
}
