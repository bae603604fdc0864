namespace Microsoft.ML.HamiltonianFlows.Training;

/// <summary>How a <see cref="Torch.HamiltonianFlow"/> is fitted by maximising the ELBO with Adam.</summary>
public sealed record FlowTrainingOptions
{
    /// <summary>Passes over the training data. Default 100.</summary>
    public int Epochs { get; init; } = 100;

    /// <summary>Optional cap on optimiser steps; training stops at whichever of this and <see cref="Epochs"/> comes first. Default null.</summary>
    public long? MaxSteps { get; init; }

    /// <summary>Rows per minibatch (the last one of an epoch may be smaller). Default 256.</summary>
    public int BatchSize { get; init; } = 256;

    /// <summary>Adam's base learning rate. Default 2e-3.</summary>
    public double LearningRate { get; init; } = 2e-3;

    /// <summary>Learning-rate schedule over the step budget. Default Cosine.</summary>
    public LearningRateSchedule Schedule { get; init; } = LearningRateSchedule.Cosine;

    /// <summary>
    /// Momentum samples K per row in the training objective: 1 maximises the ELBO; K &gt; 1 maximises the tighter
    /// importance-weighted bound E[log (1/K) sum_k w_k] (Burda et al., 2016), at K times the cost per row. Default 1.
    /// </summary>
    public int ImportanceSamples { get; init; } = 1;

    /// <summary>Maximum global L2 norm of the gradient; larger gradients are rescaled. Null disables clipping. Default 10.</summary>
    public double? GradientClipNorm { get; init; } = 10;

    /// <summary>Fraction of rows held out for validation and early stopping, in [0, 1). Default 0.</summary>
    public double ValidationFraction { get; init; }

    /// <summary>Epochs without a better validation loss before training stops (best weights are restored). Default 10.</summary>
    public int EarlyStoppingPatience { get; init; } = 10;

    /// <summary>
    /// Consecutive batches with a non-finite loss or gradient tolerated (each is skipped and halves the learning
    /// rate) before training fails with an error instead of returning a broken model. Default 10.
    /// </summary>
    public int MaxConsecutiveNonFiniteBatches { get; init; } = 10;

    /// <summary>
    /// Floor on each feature's standardisation scale, as a fraction of the mean scale over features (see
    /// <see cref="Torch.Standardizer.Fit"/>); 0 sets none. Default 0.
    /// </summary>
    public double MinimumRelativeScale { get; init; }

    /// <summary>Seed of weight initialisation, shuffling and momentum draws. Default 0.</summary>
    public int Seed { get; init; }

    /// <summary>
    /// Torch intra-op threads (a process-wide setting); null leaves torch's. Use 1 when other work shares the
    /// cores: with both of 2 cores busy elsewhere, a small 2D model ran 400 steps in 8 s on one thread and
    /// 171 s on two (libtorch's worker threads wait on each other). Default null.
    /// </summary>
    public int? NumberOfThreads { get; init; }

    /// <summary>Throws <see cref="ArgumentException"/> naming the first invalid option.</summary>
    public void Validate()
    {
        if (Epochs < 1)
            throw new ArgumentException($"{nameof(Epochs)} must be at least 1, got {Epochs}.", nameof(Epochs));
        if (MaxSteps is < 1)
            throw new ArgumentException($"{nameof(MaxSteps)} must be at least 1 when set, got {MaxSteps}.", nameof(MaxSteps));
        if (BatchSize < 1)
            throw new ArgumentException($"{nameof(BatchSize)} must be at least 1, got {BatchSize}.", nameof(BatchSize));
        if (ImportanceSamples < 1)
            throw new ArgumentException($"{nameof(ImportanceSamples)} must be at least 1, got {ImportanceSamples}.", nameof(ImportanceSamples));
        if (!(LearningRate > 0) || double.IsInfinity(LearningRate))
            throw new ArgumentException($"{nameof(LearningRate)} must be positive and finite, got {LearningRate}.", nameof(LearningRate));
        if (GradientClipNorm is { } clip && !(clip > 0))
            throw new ArgumentException($"{nameof(GradientClipNorm)} must be positive when set, got {clip}.", nameof(GradientClipNorm));
        if (!(ValidationFraction >= 0 && ValidationFraction < 1))
            throw new ArgumentException($"{nameof(ValidationFraction)} must be in [0, 1), got {ValidationFraction}.", nameof(ValidationFraction));
        if (EarlyStoppingPatience < 1)
            throw new ArgumentException($"{nameof(EarlyStoppingPatience)} must be at least 1, got {EarlyStoppingPatience}.", nameof(EarlyStoppingPatience));
        if (MaxConsecutiveNonFiniteBatches < 1)
            throw new ArgumentException($"{nameof(MaxConsecutiveNonFiniteBatches)} must be at least 1, got {MaxConsecutiveNonFiniteBatches}.", nameof(MaxConsecutiveNonFiniteBatches));
        if (NumberOfThreads is < 1)
            throw new ArgumentException($"{nameof(NumberOfThreads)} must be at least 1 when set, got {NumberOfThreads}.", nameof(NumberOfThreads));
        if (!(MinimumRelativeScale >= 0) || double.IsInfinity(MinimumRelativeScale))
            throw new ArgumentException($"{nameof(MinimumRelativeScale)} must be non-negative and finite, got {MinimumRelativeScale}.", nameof(MinimumRelativeScale));
        if (!Enum.IsDefined(Schedule))
            throw new ArgumentException($"{nameof(Schedule)} {Schedule} is not defined.", nameof(Schedule));
    }
}
