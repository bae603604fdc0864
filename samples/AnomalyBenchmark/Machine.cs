using System.Text.Json;

namespace AnomalyBenchmark;

/// <summary>What every speed figure names (the CPU it was measured on) and how every results file is written.</summary>
internal static class Machine
{
    /// <summary>
    /// Indented JSON; infinities and NaN written as "Infinity" and "NaN" (a Gaussian stage without a tail has c = infinity,
    /// and RandomizedPca's AUROC is NaN where it scores rows NaN).
    /// </summary>
    public static readonly JsonSerializerOptions ResultsJson = new()
    {
        WriteIndented = true, NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    public static string CpuModel()
    {
        const string path = "/proc/cpuinfo";
        if (!File.Exists(path))
            return "unknown";
        return File.ReadLines(path).FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim() ?? "unknown";
    }
}
