namespace Microsoft.ML.HamiltonianFlows.Training;

/// <summary>How the learning rate changes over training.</summary>
public enum LearningRateSchedule
{
    /// <summary>The base rate throughout.</summary>
    Constant,

    /// <summary>Cosine decay from the base rate to zero over the step budget (Loshchilov and Hutter, 2017).</summary>
    Cosine,
}

/// <summary>The multiplier each <see cref="LearningRateSchedule"/> applies to the base learning rate.</summary>
internal static class LearningRateScheduleExtensions
{
    /// <summary>The factor at optimiser step <paramref name="step"/> of <paramref name="budget"/>.</summary>
    public static double Factor(this LearningRateSchedule schedule, long step, long budget) => schedule switch
    {
        LearningRateSchedule.Cosine => 0.5 * (1 + Math.Cos(Math.PI * step / budget)),
        _ => 1,
    };
}
