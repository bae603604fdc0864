namespace Microsoft.ML.HamiltonianFlows.Training;

/// <summary>
/// How a <see cref="Torch.HamiltonianFlow"/> is fitted: the Gaussian stage first (in closed form), then the dynamics by
/// maximising the ELBO with AdamW for a budget of optimiser steps, stopping early when the held-out rows stop improving
/// and keeping the best validated trained weights (mixed with the Gaussian by a share measured on the same rows). The defaults are this library's one set of defaults (the ML.NET options
/// take theirs from here); docs/anomaly-benchmark.md gives the measurements behind them.
/// </summary>
public sealed record FlowTrainingOptions
{
    /// <summary>
    /// Optimiser steps at most; null chooses the budget by the number n of training rows (those not held out): 2,000 up
    /// to 2,048 rows, 2,000 n / 2,048 above in whole hundreds, at most 4,000 (from 4,096 rows). A budget in steps, not
    /// epochs, costs about the same on 30,000 rows as on 3 million, and early stopping usually ends small data
    /// sooner; larger data were still learning when 2,000 steps ran out (docs/anomaly-benchmark.md). Default null.
    /// </summary>
    public long? MaxSteps { get; init; }

    /// <summary>
    /// Wall-clock time for the optimiser steps; null sets no limit. Training ends at the first step taken after it, which
    /// is evaluated, with the best validated weights (the last weights where no rows are held out), as early stopping
    /// ends it; the Gaussian stage's passes before training and the measurement of the Gaussian's share and the scoring K
    /// after it are not counted, so a whole fit takes longer. Where the limit comes before the step budget, the
    /// learning-rate schedule runs over the time instead (it follows the larger of the shares of steps and of time used).
    /// The grace that early stopping gives a fit still at its Gaussian (half the budget) counts steps, not time. A fit
    /// ended by time is not reproducible: how many steps it takes depends on the machine and its load, which is why the
    /// budget is in steps by default. Default null.
    /// </summary>
    public TimeSpan? MaxTrainingTime { get; init; }

    /// <summary>Rows per minibatch, at most the number of training rows. Default 256.</summary>
    public int BatchSize { get; init; } = FlowDefaults.BatchSize;

    /// <summary>
    /// AdamW's base learning rate; null chooses it by the number d of features that vary in the training rows (the
    /// coordinates the dynamics move): 3e-3 up to 16 (better held-out fits than 1e-3 or 1e-2 on the tabular sets),
    /// 3e-3 sqrt(d / 16) above (wide data such as images learned nothing at 3e-3; docs/anomaly-benchmark.md). Default null.
    /// </summary>
    public double? LearningRate { get; init; }

    /// <summary>
    /// AdamW's decoupled weight decay: pulls the networks towards zero, that is the flow towards its Gaussian, which keeps
    /// small data sets from being memorised. 0 gives plain Adam. Default 1e-4.
    /// </summary>
    public double WeightDecay { get; init; } = FlowDefaults.WeightDecay;

    /// <summary>Learning-rate schedule over the step budget. Default Cosine.</summary>
    public LearningRateSchedule Schedule { get; init; } = FlowDefaults.Schedule;

    /// <summary>
    /// Momentum samples K per row in the training objective: 1 maximises the ELBO; K &gt; 1 maximises the tighter
    /// importance-weighted bound E[log (1/K) sum_k w_k] (Burda et al., 2016), at K times the cost per row. Default 1, at
    /// most 4096.
    /// </summary>
    public int TrainingImportanceSamples { get; init; } = FlowDefaults.TrainingImportanceSamples;

    /// <summary>Maximum global L2 norm of the gradient; larger gradients are rescaled. Null disables clipping. Default 10.</summary>
    public double? GradientClipNorm { get; init; } = FlowDefaults.GradientClipNorm;

    /// <summary>
    /// Fraction of the training rows held out to choose when to stop, in [0, 1), at most <see cref="MaxValidationRows"/>
    /// rows; the trained weights with the best held-out loss are kept and mixed with the fitted Gaussian by a share
    /// measured on the same rows (1, the Gaussian alone, where they do not beat it), so a fit never ends worse on the
    /// held-out rows than the Gaussian it started from. 0 trains for the whole budget. Default 0.2.
    /// </summary>
    public double ValidationFraction { get; init; } = FlowDefaults.ValidationFraction;

    /// <summary>Most rows held out for validation, however large the data. Default 4,096.</summary>
    public int MaxValidationRows { get; init; } = FlowDefaults.MaxValidationRows;

    /// <summary>Optimiser steps between two evaluations of the held-out loss (and progress reports). Default 100.</summary>
    public int EvaluationInterval { get; init; } = FlowDefaults.EvaluationInterval;

    /// <summary>
    /// Evaluations without a better held-out loss before training stops. Default 5. While the fitted Gaussian (step 0) is
    /// still the best, training goes on until half of <see cref="MaxSteps"/> whatever the patience.
    /// </summary>
    public int EarlyStoppingPatience { get; init; } = FlowDefaults.EarlyStoppingPatience;

    /// <summary>
    /// Consecutive batches with a non-finite loss or gradient tolerated (each is skipped and halves the learning
    /// rate) before training fails with an error instead of returning a broken model. Default 10.
    /// </summary>
    public int MaxConsecutiveNonFiniteBatches { get; init; } = FlowDefaults.MaxConsecutiveNonFiniteBatches;

    /// <summary>
    /// Whether the Gaussian stage may take heavier-tailed marginals t = c asinh(u / c) (Johnson's S_U law per feature, see
    /// <see cref="Torch.GaussianStage"/>) where held-out rows of the training sample favour them by more than 0.01 nats per
    /// feature (<see cref="TailChoice"/>); false keeps the plain Gaussian. Default true: on the training rows of the benchmark's tables and images the
    /// held-out likelihood gained up to 9 nats per row on tables and hundreds per image, and on tables nobody tuned on
    /// a finite tail was chosen on eight of twelve (docs/anomaly-benchmark.md).
    /// </summary>
    public bool HeavyTails { get; init; } = FlowDefaults.HeavyTails;

    /// <summary>
    /// Most training rows (not held out) kept as the centres of a kernel density, N(z; c_i, h^2 I) averaged over the
    /// centres in the Gaussian stage's whitened coordinates, which is mixed into the fitted density with a share beta where
    /// the held-out rows favour it (<see cref="Torch.KernelDensity"/>; h and beta chosen on those rows, none kept where no
    /// pair beats the flow alone). A flow with one holds its centres, training rows up to the stage's invertible map, in
    /// its weights file and model: 0 keeps every training row out of the model. Needs held-out rows
    /// (<see cref="ValidationFraction"/> above 0). Default 2,048: on the tabular training files held-out likelihood gained
    /// 4 to 5.5 nats per row where few rows were fitted (ionosphere, 108) and 0.03 to 0.8 elsewhere
    /// (docs/anomaly-benchmark.md). More centres fit large data better (shuttle's held-out rows: 20.26, 19.91 and 19.51
    /// nats per row with 1,024, 2,048 and 4,096) but each costs one distance per scored row and importance sample, and
    /// the default fit of shuttle (27,352 rows) must stay within 2 minutes on one thread: with 2,048 centres it took 1.17
    /// times as long as without kernels, mostly because the mixture's scoring needs twice the importance samples.
    /// </summary>
    public int KernelDensityCentres { get; init; } = FlowDefaults.KernelDensityCentres;

    /// <summary>
    /// Whether <see cref="FlowTrainingResult.HeldOutLogLikelihoods"/> are measured: they cost five refits of the Gaussian
    /// stage and a scoring of the held-out rows (<see cref="StageRefits"/>; with the refits alone, before the scoring, a
    /// density fit of 48,000 x 784 rows and 10 steps took 84 to 86 s with them, 61 to 66 s without). The density
    /// transformer, which has no threshold to set from them, turns them off. Default true.
    /// </summary>
    internal bool MeasuresHeldOutScores { get; init; } = true;

    /// <summary>Called once the Gaussian stage is fitted, before the first training step (<see cref="StageReport"/>). Null by default.</summary>
    internal Action<StageReport>? StageFitted { get; init; }

    /// <summary>Seed of weight initialisation, the validation split, shuffling, momentum draws and the tail choice's split. Default 0.</summary>
    public int Seed { get; init; }

    /// <summary>
    /// Torch intra-op threads while training (a process-wide setting, restored when training ends); null leaves torch's.
    /// Default 1: training's minibatch operations are too small to share between threads; on two cores two threads were
    /// slower than one, idle or busy (docs/benchmarks.md, Threads).
    /// </summary>
    public int? NumberOfThreads { get; init; } = FlowDefaults.NumberOfThreads;

    /// <summary>Throws <see cref="ArgumentException"/> naming the first invalid option.</summary>
    public void Validate()
    {
        if (MaxSteps < 0)
            throw new ArgumentException($"{nameof(MaxSteps)} must not be negative, got {MaxSteps}.", nameof(MaxSteps));
        if (MaxTrainingTime < TimeSpan.Zero)
            throw new ArgumentException($"{nameof(MaxTrainingTime)} must not be negative, got {MaxTrainingTime}.", nameof(MaxTrainingTime));
        if (BatchSize < 1)
            throw new ArgumentException($"{nameof(BatchSize)} must be at least 1, got {BatchSize}.", nameof(BatchSize));
        if (TrainingImportanceSamples is < 1 or > FlowDefaults.MaxImportanceSamples)
            throw new ArgumentException(
                $"{nameof(TrainingImportanceSamples)} must be in [1, {FlowDefaults.MaxImportanceSamples}], got {TrainingImportanceSamples}.", nameof(TrainingImportanceSamples));
        if (LearningRate is double rate && (!(rate > 0) || double.IsInfinity(rate)))
            throw new ArgumentException($"{nameof(LearningRate)} must be positive and finite, got {LearningRate}.", nameof(LearningRate));
        if (!(WeightDecay >= 0) || double.IsInfinity(WeightDecay))
            throw new ArgumentException($"{nameof(WeightDecay)} must be non-negative and finite, got {WeightDecay}.", nameof(WeightDecay));
        if (GradientClipNorm is { } clip && !(clip > 0))
            throw new ArgumentException($"{nameof(GradientClipNorm)} must be positive when set, got {clip}.", nameof(GradientClipNorm));
        if (!(ValidationFraction >= 0 && ValidationFraction < 1))
            throw new ArgumentException($"{nameof(ValidationFraction)} must be in [0, 1), got {ValidationFraction}.", nameof(ValidationFraction));
        if (MaxValidationRows < 1)
            throw new ArgumentException($"{nameof(MaxValidationRows)} must be at least 1, got {MaxValidationRows}.", nameof(MaxValidationRows));
        if (EvaluationInterval < 1)
            throw new ArgumentException($"{nameof(EvaluationInterval)} must be at least 1, got {EvaluationInterval}.", nameof(EvaluationInterval));
        if (EarlyStoppingPatience < 1)
            throw new ArgumentException($"{nameof(EarlyStoppingPatience)} must be at least 1, got {EarlyStoppingPatience}.", nameof(EarlyStoppingPatience));
        if (MaxConsecutiveNonFiniteBatches < 1)
            throw new ArgumentException($"{nameof(MaxConsecutiveNonFiniteBatches)} must be at least 1, got {MaxConsecutiveNonFiniteBatches}.", nameof(MaxConsecutiveNonFiniteBatches));
        if (KernelDensityCentres < 0)
            throw new ArgumentException($"{nameof(KernelDensityCentres)} must not be negative, got {KernelDensityCentres}.", nameof(KernelDensityCentres));
        if (NumberOfThreads is < 1)
            throw new ArgumentException($"{nameof(NumberOfThreads)} must be at least 1 when set, got {NumberOfThreads}.", nameof(NumberOfThreads));
        if (!Enum.IsDefined(Schedule))
            throw new ArgumentException($"{nameof(Schedule)} {Schedule} is not defined.", nameof(Schedule));
    }
}
