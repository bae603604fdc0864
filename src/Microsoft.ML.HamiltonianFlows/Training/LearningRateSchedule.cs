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
    /// <summary>The factor at <paramref name="progress"/>, the share of training done, in [0, 1].</summary>
    public static double Factor(this LearningRateSchedule schedule, double progress) => schedule switch
    {
        LearningRateSchedule.Cosine => 0.5 * (1 + Math.Cos(Math.PI * progress)),
        _ => 1,
    };

    /// <summary>
    /// The share of training done at optimiser step <paramref name="step"/> of <paramref name="budget"/>, after
    /// <paramref name="elapsed"/> of a time limit <paramref name="limit"/> (null: none): the larger of the two shares, at
    /// most 1, so that the schedule ends with whichever budget runs out first.
    /// </summary>
    public static double Progress(long step, long budget, TimeSpan elapsed, TimeSpan? limit)
    {
        double steps = budget > 0 ? step / (double)budget : 1;
        double time = limit is not TimeSpan l ? 0 : l > TimeSpan.Zero ? elapsed / l : 1;
        return Math.Min(1, Math.Max(steps, time));
    }
}
