namespace AnomalyBenchmark;

/// <summary>What every speed figure names: the CPU it was measured on.</summary>
internal static class Machine
{
    public static string CpuModel()
    {
        const string path = "/proc/cpuinfo";
        if (!File.Exists(path))
            return "unknown";
        return File.ReadLines(path).FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim() ?? "unknown";
    }
}
