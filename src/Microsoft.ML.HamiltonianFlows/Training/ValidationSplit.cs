namespace Microsoft.ML.HamiltonianFlows.Training;

/// <summary>
/// Which training rows are held out to choose when to stop: a count for rows in memory (drawn by a permutation of the
/// training generator), a hash of each row's key for streamed rows (so that every pass agrees without holding a list).
/// </summary>
internal static class ValidationSplit
{
    /// <summary>Rows held out of <paramref name="rows"/>: the fraction, rounded, at least one when asked for and at most all but one.</summary>
    public static long Rows(long rows, FlowTrainingOptions options)
    {
        if (options.ValidationFraction == 0 || rows < 2)
            return 0;
        return Math.Clamp((long)Math.Round(rows * options.ValidationFraction), 1, Math.Min(options.MaxValidationRows, rows - 1));
    }

    /// <summary>
    /// Whether a streamed row is held out: a hash of its key and the seed, as a fraction of 2^64, below the validation
    /// fraction. It depends on neither the pass nor the order, so every pass agrees on the split.
    /// </summary>
    public static bool Contains(ulong key, double fraction, int seed) =>
        fraction > 0 && SplitMix64.ToUnitInterval(SplitMix64.Hash(key ^ ((ulong)(uint)seed << 32))) < fraction;
}
