namespace Microsoft.ML.HamiltonianFlows.Torch;

/// <summary>
/// How many rows to score per torch call with K importance samples: enough that each tensor op works on a large array
/// (per-op overhead amortised, and torch's intra-op threads get work worth splitting), few enough that each K x rows x
/// width tensor of the integration (the widest of the momenta and dequantisation noise and the hidden layers) stays near
/// 4 MB. Larger blocks cost memory and time: a 2-D flow with 64 units and K = 64 held gigabytes of temporaries when
/// only the features were counted, and a 784-feature flow scored at K = 64 in blocks of 256 rows peaked at 8 GB and
/// spent most of its time in page faults (each 51 MB tensor is mapped afresh above glibc's mmap threshold).
/// </summary>
internal static class ScoringBlock
{
    private const int MaxRows = 4096;
    private const int Values = 1 << 20;

    /// <summary>Rows per call for a flow of this architecture scored with <paramref name="samples"/> samples per row.</summary>
    public static int Rows(FlowArchitecture architecture, int samples)
    {
        long width = new[] { 2 * (long)architecture.Dimension }.Concat(architecture.HiddenLayers.Select(w => (long)w))
            .Concat(architecture.EncoderLayers.Select(w => (long)w)).Max();
        // In long: width x samples passes int's range for wide data at many samples.
        return (int)Math.Clamp(Values / (width * samples), 1, MaxRows);
    }
}
