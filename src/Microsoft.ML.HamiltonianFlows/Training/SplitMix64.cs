namespace Microsoft.ML.HamiltonianFlows.Training;

/// <summary>
/// SplitMix64 (Steele, Lea and Flood, OOPSLA 2014): a 64-bit state advanced by a fixed odd increment and a mixing
/// function that spreads nearby inputs over all 64 bits. The library uses it where a result must be a function of a seed
/// and a key alone, the same on every machine: momentum draws per scored row, the streamed validation split, the
/// shuffling seed of each epoch, the scoring seed.
/// </summary>
internal static class SplitMix64
{
    /// <summary>The increment, 2^64 divided by the golden ratio (odd).</summary>
    public const ulong Increment = 0x9E3779B97F4A7C15UL;

    /// <summary>Advances <paramref name="state"/> and returns the next output.</summary>
    public static ulong Next(ref ulong state) => Mix(state += Increment);

    /// <summary>The output for a state one increment past <paramref name="key"/>: a hash of the key.</summary>
    public static ulong Hash(ulong key) => Mix(key + Increment);

    /// <summary>A double in [0, 1) from the top 53 bits.</summary>
    public static double ToUnitInterval(ulong bits) => (bits >> 11) * (1.0 / (1UL << 53));

    /// <summary>The mixing function alone (no increment): for folding values into a state.</summary>
    public static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
