namespace Microsoft.ML.HamiltonianFlows.Training;

/// <summary>How the learning rate changes over training.</summary>
public enum LearningRateSchedule
{
    /// <summary>The base rate throughout.</summary>
    Constant,

    /// <summary>
    /// Cosine decay from the base rate to zero over the step budget, or over the training time limit where that runs out
    /// first (Loshchilov and Hutter, 2017).
    /// </summary>
    Cosine,
}

/// <summary>The multiplier each <see cref="LearningRateSchedule"/> applies to the base learning rate.</summary>
internal static class LearningRateScheduleExtensions
{
    /// <summary>
    /// The factor at optimiser step <paramref name="step"/> of <paramref name="budget"/>, or at
    /// <paramref name="timeShare"/> (the share of a time limit used, 0 without one) where that is further on: the
    /// schedule ends with whichever budget runs out first. Without a time limit the factor is the step budget's to the
    /// last bit, as every fit before the limit existed computed it.
    /// </summary>
    public static double Factor(this LearningRateSchedule schedule, long step, long budget, double timeShare = 0)
    {
        if (schedule != LearningRateSchedule.Cosine)
            return 1;
        double angle = Math.PI * step / budget;
        if (Math.PI * timeShare > angle)
            angle = Math.PI * Math.Min(timeShare, 1);
        return 0.5 * (1 + Math.Cos(angle));
    }

    /// <summary>The share of the time limit <paramref name="limit"/> used after <paramref name="elapsed"/>: 0 without a limit, 1 for a limit of zero.</summary>
    public static double TimeShare(TimeSpan elapsed, TimeSpan? limit) =>
        limit is not TimeSpan l ? 0 : l > TimeSpan.Zero ? elapsed / l : 1;
}
