namespace Microsoft.ML.HamiltonianFlows.Training;

/// <summary>How the learning rate changes over training.</summary>
public enum LearningRateSchedule
{
    /// <summary>The base rate throughout.</summary>
    Constant,

    /// <summary>Cosine decay from the base rate to zero over the step budget (Loshchilov and Hutter, 2017).</summary>
    Cosine,
}
