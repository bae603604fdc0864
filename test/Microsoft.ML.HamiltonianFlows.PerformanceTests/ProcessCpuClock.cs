using System.Diagnostics;
using System.Runtime.InteropServices;

namespace Microsoft.ML.HamiltonianFlows.PerformanceTests;

/// <summary>
/// The process's CPU time in milliseconds, to the nanosecond on Linux. <see cref="Process.TotalProcessorTime"/> reads
/// /proc there, in clock ticks of 10 ms: a median of 2-D training steps (10 to 17 ms each) measured with it came out
/// as 10, 20 or 30 ms, which made TorchSharp's CPU time look up to twice its wall time.
/// </summary>
internal static class ProcessCpuClock
{
    private const int ClockProcessCpuTimeId = 2;

    [StructLayout(LayoutKind.Sequential)]
    private struct TimeSpec
    {
        public long Seconds;
        public long Nanoseconds;
    }

    [DllImport("libc.so.6", EntryPoint = "clock_gettime", ExactSpelling = true)]
    private static extern int ClockGetTime(int clockId, out TimeSpec time);

    private static readonly Process Self = Process.GetCurrentProcess();

    public static double Milliseconds()
    {
        if (OperatingSystem.IsLinux() && ClockGetTime(ClockProcessCpuTimeId, out TimeSpec time) == 0)
            return time.Seconds * 1e3 + time.Nanoseconds * 1e-6;
        Self.Refresh();
        return Self.TotalProcessorTime.TotalMilliseconds;
    }
}
