// Reliability checks that need a process of their own.
//   ReliabilityChecks risky-calls <damaged variants>                  (run by RiskyCallTests)
//   ReliabilityChecks soak <cycles> <output.csv> [--no-dispose]       (by hand; see docs/reliability.md)
//   ReliabilityChecks page-faults [--keep-malloc-settings]             (run by GlibcMallocTests)
//   ReliabilityChecks mkl-dispatch [--keep-mkl-dispatch|--product-first] (run by MklDispatchTests)
return args switch
{
    ["risky-calls", string variants] when int.TryParse(variants, out int n) => RiskyCalls.Run(n),
    ["soak", string cycles, string csv, .. var rest] when int.TryParse(cycles, out int n) && rest is [] or ["--no-dispose"] =>
        Soak.Run(n, csv, dispose: rest is []),
    ["page-faults", .. var flags] when flags is [] or ["--keep-malloc-settings"] => PageFaults.Run(keep: flags is not []),
    ["mkl-dispatch", .. var flags] when flags is [] or ["--keep-mkl-dispatch"] or ["--product-first"] => MklDispatchCheck.Run(flags is [string flag] ? flag : null),
    _ => Usage(),
};

static int Usage()
{
    Console.Error.WriteLine("Usage: ReliabilityChecks risky-calls <damaged variants>");
    Console.Error.WriteLine("       ReliabilityChecks soak <cycles> <output.csv> [--no-dispose]");
    Console.Error.WriteLine("       ReliabilityChecks page-faults [--keep-malloc-settings]");
    Console.Error.WriteLine("       ReliabilityChecks mkl-dispatch [--keep-mkl-dispatch|--product-first]");
    return 2;
}
