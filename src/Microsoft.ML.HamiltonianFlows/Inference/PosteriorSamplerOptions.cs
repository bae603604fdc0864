using Microsoft.ML.HamiltonianFlows.Training;

namespace Microsoft.ML.HamiltonianFlows.Inference;

/// <summary>How <see cref="PosteriorSampler"/> fits a flow to an unnormalised log-density by reverse KL on phase space.</summary>
public sealed record PosteriorSamplerOptions
{
    /// <summary>Adam steps. Default 2000.</summary>
    public int Steps { get; init; } = 2000;

    /// <summary>Draws (q0, p0) from the base per step. Default 256.</summary>
    public int BatchSize { get; init; } = 256;

    /// <summary>Adam's base learning rate. Default 5e-3.</summary>
    public double LearningRate { get; init; } = 5e-3;

    /// <summary>Learning-rate schedule over <see cref="Steps"/>. Default Cosine.</summary>
    public LearningRateSchedule Schedule { get; init; } = LearningRateSchedule.Cosine;

    /// <summary>Maximum global L2 norm of the gradient; larger gradients are rescaled. Null disables clipping. Default 10.</summary>
    public double? GradientClipNorm { get; init; } = 10;

    /// <summary>
    /// Consecutive steps with a non-finite objective or gradient tolerated (each is skipped and halves the learning rate)
    /// before training fails with an error. Default 10.
    /// </summary>
    public int MaxConsecutiveNonFiniteBatches { get; init; } = 10;

    /// <summary>Seed of weight initialisation and of every base draw. Default 0.</summary>
    public int Seed { get; init; }

    /// <summary>Torch intra-op threads while sampling (a process-wide setting, restored when it ends); null leaves torch's. Default null.</summary>
    public int? NumberOfThreads { get; init; }

    /// <summary>Steps between progress reports (the last step is always reported). Default 100.</summary>
    public int ReportInterval { get; init; } = 100;

    /// <summary>
    /// Initial location of the map u = location + L z from the flow's coordinates to the unconstrained parameters,
    /// one value per parameter (in unconstrained units: log theta for a positive parameter, logit for an interval); null
    /// is zero. A rough centre of the posterior (or of the prior) is a good choice. Default null.
    /// </summary>
    public IReadOnlyList<double>? Location { get; init; }

    /// <summary>
    /// Initial diagonal of L (L starts diagonal), one positive value per parameter; null is one. The untrained flow is free motion,
    /// z = q0 + T p0 with T = L eps, so it starts with a standard deviation of about scale * sqrt(1 + T^2): a rough
    /// prior or posterior width is a good choice. Default null.
    /// </summary>
    public IReadOnlyList<double>? Scale { get; init; }

    /// <summary>Whether the location and the whole lower-triangular L are trained with the flow (exact: their log-Jacobian enters the objective). Default true.</summary>
    public bool LearnLocationScale { get; init; } = true;

    /// <summary>The support of each parameter (see <see cref="ParameterConstraint"/>); null leaves all unbounded. Default null.</summary>
    public IReadOnlyList<ParameterConstraint>? Constraints { get; init; }

    /// <summary>
    /// Annealing against mode collapse, the known weakness of reverse KL: over the first this many steps the target is the
    /// tempered pi(u)^beta (on the unconstrained parameters, Jacobian included), with beta rising geometrically from
    /// <see cref="InitialInverseTemperature"/> to 1 (equal steps per factor: modes separate at small beta, where a linear
    /// ramp would spend almost no time); a flat, wide early target spreads the flow over every mode before they separate,
    /// and the flow then follows each as it sharpens. 0 disables it. Default 0.
    /// </summary>
    public int AnnealingSteps { get; init; }

    /// <summary>The inverse temperature beta in (0, 1] at the first step of annealing. Default 0.05.</summary>
    public double InitialInverseTemperature { get; init; } = 0.05;

    /// <summary>Throws <see cref="ArgumentException"/> naming the first invalid option for a target of dimension d.</summary>
    public void Validate(int dimension)
    {
        if (Steps < 1)
            throw new ArgumentException($"{nameof(Steps)} must be at least 1, got {Steps}.", nameof(Steps));
        if (BatchSize < 1)
            throw new ArgumentException($"{nameof(BatchSize)} must be at least 1, got {BatchSize}.", nameof(BatchSize));
        if (!(LearningRate > 0) || double.IsInfinity(LearningRate))
            throw new ArgumentException($"{nameof(LearningRate)} must be positive and finite, got {LearningRate}.", nameof(LearningRate));
        if (!Enum.IsDefined(Schedule))
            throw new ArgumentException($"{nameof(Schedule)} {Schedule} is not defined.", nameof(Schedule));
        if (GradientClipNorm is { } clip && !(clip > 0))
            throw new ArgumentException($"{nameof(GradientClipNorm)} must be positive when set, got {clip}.", nameof(GradientClipNorm));
        if (MaxConsecutiveNonFiniteBatches < 1)
            throw new ArgumentException($"{nameof(MaxConsecutiveNonFiniteBatches)} must be at least 1, got {MaxConsecutiveNonFiniteBatches}.", nameof(MaxConsecutiveNonFiniteBatches));
        if (NumberOfThreads is < 1)
            throw new ArgumentException($"{nameof(NumberOfThreads)} must be at least 1 when set, got {NumberOfThreads}.", nameof(NumberOfThreads));
        if (ReportInterval < 1)
            throw new ArgumentException($"{nameof(ReportInterval)} must be at least 1, got {ReportInterval}.", nameof(ReportInterval));
        CheckLength(Location, dimension, nameof(Location));
        CheckLength(Scale, dimension, nameof(Scale));
        CheckLength(Constraints, dimension, nameof(Constraints));
        for (int j = 0; Location is not null && j < dimension; j++)
            if (!double.IsFinite(Location[j]))
                throw new ArgumentException($"{nameof(Location)}[{j}] must be finite, got {Location[j]}.", nameof(Location));
        for (int j = 0; Scale is not null && j < dimension; j++)
            if (!(Scale[j] > 0) || double.IsInfinity(Scale[j]))
                throw new ArgumentException($"{nameof(Scale)}[{j}] must be positive and finite, got {Scale[j]}.", nameof(Scale));
        for (int j = 0; Constraints is not null && j < dimension; j++)
            if (Constraints[j] is null)
                throw new ArgumentException($"{nameof(Constraints)}[{j}] is null; use {nameof(ParameterConstraint)}.{nameof(ParameterConstraint.Unbounded)}.", nameof(Constraints));
        if (AnnealingSteps < 0)
            throw new ArgumentException($"{nameof(AnnealingSteps)} must not be negative, got {AnnealingSteps}.", nameof(AnnealingSteps));
        // Annealing that lasts the whole fit never reaches beta = 1: the flow would be fitted to the tempered target.
        if (AnnealingSteps >= Steps && AnnealingSteps > 0)
            throw new ArgumentException($"{nameof(AnnealingSteps)} ({AnnealingSteps}) must be below {nameof(Steps)} ({Steps}), so that the last steps fit the target itself.",
                nameof(AnnealingSteps));
        if (!(InitialInverseTemperature > 0 && InitialInverseTemperature <= 1))
            throw new ArgumentException($"{nameof(InitialInverseTemperature)} must be in (0, 1], got {InitialInverseTemperature}.", nameof(InitialInverseTemperature));
    }

    /// <summary>The inverse temperature beta at a step: rising geometrically to 1 over <see cref="AnnealingSteps"/>, then 1.</summary>
    internal double InverseTemperature(long step) =>
        step >= AnnealingSteps ? 1 : Math.Pow(InitialInverseTemperature, 1 - (double)step / AnnealingSteps);

    private static void CheckLength<T>(IReadOnlyList<T>? values, int dimension, string name)
    {
        if (values is not null && values.Count != dimension)
            throw new ArgumentException($"{name} must have one entry per parameter ({dimension}), got {values.Count}.", name);
    }
}
