using TorchSharp;

namespace Microsoft.ML.HamiltonianFlows.Torch;

/// <summary>
/// libtorch's intra-op thread count set for one call and restored when it ends: the count is process-wide, and an
/// option of one fit must not change how the rest of the process computes afterwards.
/// </summary>
internal readonly struct TorchThreads : IDisposable
{
    // Calls that set a count may overlap; the last to end restores the count they found, whichever ends first.
    private static readonly object Gate = new();
    private static int active;
    private static int found;

    private readonly bool set;

    private TorchThreads(bool set) => this.set = set;

    /// <summary>Sets the count to <paramref name="threads"/> until disposed; null changes nothing.</summary>
    public static TorchThreads Use(int? threads)
    {
        if (threads is not int count)
            return default;
        lock (Gate)
        {
            if (active++ == 0)
                found = torch.get_num_threads();
            torch.set_num_threads(count);
        }
        return new TorchThreads(set: true);
    }

    public void Dispose()
    {
        if (!set)
            return;
        lock (Gate)
        {
            if (--active == 0)
                torch.set_num_threads(found);
        }
    }
}
