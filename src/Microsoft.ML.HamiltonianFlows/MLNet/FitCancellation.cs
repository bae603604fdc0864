using Microsoft.ML.Runtime;

namespace Microsoft.ML.HamiltonianFlows;

/// <summary>
/// The token a fit stops on: cancelled by the options' token, or by the context's own cancellation, which ML.NET 5.0.1
/// keeps internal and which is therefore polled. The poll runs on a thread of its own, not on a thread-pool timer: where
/// the pool's threads are all busy (tests or requests computing in parallel) a timer's tick waited for the pool to grow,
/// and a cancelled fit ran on for hundreds of steps (114 reports of 7 steps past the cancel in one run of this project's
/// tests, whose bound is 100).
/// </summary>
internal sealed class FitCancellation : IDisposable
{
    // How often the context is looked at; the engine then stops before its next batch.
    private static readonly TimeSpan Poll = TimeSpan.FromMilliseconds(50);

    private readonly CancellationTokenSource source;
    private readonly ManualResetEventSlim stop = new();
    private readonly Thread? poller;

    public FitCancellation(IHost host, CancellationToken optionsToken)
    {
        source = CancellationTokenSource.CreateLinkedTokenSource(optionsToken);
        if (host is not ICancelable context)
            return;
        // A context cancelled already cancels at once, not a poll later: a fit shorter than one poll would not see it.
        if (context.IsCanceled)
        {
            source.Cancel();
            return;
        }
        poller = new Thread(() =>
        {
            while (!stop.Wait(Poll))
            {
                if (context.IsCanceled)
                {
                    source.Cancel();
                    return;
                }
            }
        })
        { IsBackground = true, Name = "HamiltonianFlow fit cancellation" };
        poller.Start();
    }

    /// <summary>Cancelled once the options' token or the context is.</summary>
    public CancellationToken Token => source.Token;

    /// <summary>Stops the poll and waits for it, then releases the token's source.</summary>
    public void Dispose()
    {
        stop.Set();
        poller?.Join();
        stop.Dispose();
        source.Dispose();
    }
}
