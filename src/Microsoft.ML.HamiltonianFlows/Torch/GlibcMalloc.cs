using System.Runtime.InteropServices;

namespace Microsoft.ML.HamiltonianFlows.Torch;

/// <summary>
/// libtorch allocates every tensor's memory with malloc. glibc serves a request above its mmap threshold (128 KiB at
/// first, raised on the fly up to 32 MiB) with a fresh mmap, and gives memory at the top of the heap back to the kernel
/// above its trim threshold, so the tensors of a scoring or training call, freed and allocated again at the next call,
/// are mapped, page-faulted in and unmapped again and again (measured in docs/benchmarks.md, Page faults: most of a
/// scoring call's time went to the kernel). The library sets the thresholds below when it loads (<see cref="ProcessSettings"/>), on Linux with glibc, unless the process chose its own (the environment
/// variables MALLOC_MMAP_THRESHOLD_ or MALLOC_TRIM_THRESHOLD_) or the AppContext switch
/// <c>Microsoft.ML.HamiltonianFlows.KeepMallocSettings</c> is on.
/// </summary>
internal static class GlibcMalloc
{
    /// <summary>Requests below this come from the heap and are reused; larger ones are mapped (glibc's highest dynamic value).</summary>
    internal const int MmapThreshold = 32 << 20;

    /// <summary>Free memory at the top of the heap kept for reuse before it is returned to the kernel.</summary>
    internal const int TrimThreshold = 256 << 20;

    internal const string OptOutSwitch = "Microsoft.ML.HamiltonianFlows.KeepMallocSettings";

    // glibc's malloc.h.
    private const int M_TRIM_THRESHOLD = -1, M_MMAP_THRESHOLD = -3;

    /// <summary>Whether this process runs with the thresholds above.</summary>
    internal static bool Applied { get; private set; }

    /// <summary>Sets the thresholds (<see cref="ProcessSettings"/> calls it when the library loads).</summary>
    internal static void Configure()
    {
        if (!OperatingSystem.IsLinux()
            || AppContext.TryGetSwitch(OptOutSwitch, out bool keep) && keep
            || Environment.GetEnvironmentVariable("MALLOC_MMAP_THRESHOLD_") is not null
            || Environment.GetEnvironmentVariable("MALLOC_TRIM_THRESHOLD_") is not null)
            return;
        try
        {
            Applied = mallopt(M_MMAP_THRESHOLD, MmapThreshold) == 1 & mallopt(M_TRIM_THRESHOLD, TrimThreshold) == 1;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            // Not glibc (musl has no mallopt): its allocator is left as it is.
        }
    }

    [DllImport("libc.so.6", ExactSpelling = true)]
    private static extern int mallopt(int parameter, int value);
}
