using Microsoft.ML.HamiltonianFlows.Torch;
using Microsoft.ML.HamiltonianFlows.Training;

namespace Microsoft.ML.HamiltonianFlows;

/// <summary>
/// The options that the density trainer (<see cref="HamiltonianFlowTrainer.Options"/>) and the anomaly detector
/// (<see cref="HamiltonianFlowAnomalyTrainer.Options"/>) share: the feature column, the flow's shape, its training and its
/// scoring. Their defaults are the engine's (<see cref="FlowArchitecture"/>, <see cref="FlowTrainingOptions"/>): one set
/// of defaults for every layer. A trainer reads them when it is built (it keeps a copy): later changes, the
/// <see cref="CancellationToken"/> included, do not reach it.
/// </summary>
public abstract class HamiltonianFlowOptionsBase
{
    private protected HamiltonianFlowOptionsBase() { }

    /// <summary>Input column: a known-size vector of Single or Double, or a Single scalar. Default "Features".</summary>
    public string FeatureColumnName { get; set; } = FlowDefaults.FeatureColumnName;

    /// <summary>Fixed quadratic kinetic energy (Souveton et al.) or a neural one (Toth et al.). Default Quadratic.</summary>
    public KineticEnergyKind KineticEnergy { get; set; } = FlowDefaults.Kinetic;

    /// <summary>Mass matrix of the quadratic kinetic energy. Default Identity.</summary>
    public MassKind Mass { get; set; } = FlowDefaults.Mass;

    /// <summary>Leapfrog steps L per Hamiltonian. Default 4.</summary>
    public int LeapfrogSteps { get; set; } = FlowDefaults.LeapfrogSteps;

    /// <summary>Initial leapfrog step size eps. Default 0.15.</summary>
    public double StepSize { get; set; } = FlowDefaults.StepSize;

    /// <summary>Whether the step size is learned. Default true.</summary>
    public bool LearnStepSize { get; set; } = FlowDefaults.LearnStepSize;

    /// <summary>Hidden layer widths of the potential (and of a neural kinetic energy). Default 64, 64.</summary>
    public int[] HiddenLayers { get; set; } = FlowDefaults.HiddenLayers();

    /// <summary>Hidden layer widths of the momentum encoder; null uses <see cref="HiddenLayers"/>. Default null.</summary>
    public int[]? EncoderHiddenLayers { get; set; }

    /// <summary>Nonlinearity of every network. Default Softplus.</summary>
    public Activation Activation { get; set; } = FlowDefaults.Activation;

    /// <summary>Number of Hamiltonians integrated in sequence, each with its own networks. Default 4.</summary>
    public int Hamiltonians { get; set; } = FlowDefaults.Hamiltonians;

    /// <summary>
    /// Whether each potential has a well per feature coordinate (<see cref="FlowArchitecture.SeparableWells"/>) or the
    /// network alone, as in the paper. Default null: wells from <see cref="FlowArchitecture.SeparableWellsMinDimension"/>
    /// features on.
    /// </summary>
    public bool? SeparableWells { get; set; }

    /// <summary>
    /// Covariance of the Gaussian the flow starts from. Default Automatic: full up to
    /// <see cref="FlowArchitecture.FullCovarianceMaxDimension"/> features, low rank above.
    /// </summary>
    public CovarianceKind Covariance { get; set; } = FlowDefaults.Covariance;

    /// <summary>
    /// Whether the flow computes in Double (float64) instead of Single (float32): roughly twice the time and memory,
    /// for likelihoods compared to many digits. Output columns stay Single, and the features are read as Single, a Double
    /// column's too, as ML.NET's trainers read theirs (a fit warns where that rounds a feature coarsely). Default false.
    /// </summary>
    public bool DoublePrecision { get; set; }

    /// <summary>
    /// Optimiser steps at most; early stopping usually ends sooner. Null chooses them by the number n of training rows not
    /// held out for validation: 2,000 up to 2,048 rows, 2,000 n / 2,048 above in whole hundreds, at most 4,000
    /// (<see cref="FlowTrainingOptions.MaxSteps"/>).
    /// Default null.
    /// </summary>
    public long? MaxSteps { get; set; }

    /// <summary>
    /// Wall-clock time for the optimiser steps (not the Gaussian stage's passes before them); null sets no limit.
    /// Training ends at the first step after it with the best validated weights, and the learning-rate schedule runs over
    /// whichever of the steps and the time runs out first; a fit ended by time is not reproducible
    /// (<see cref="FlowTrainingOptions.MaxTrainingTime"/>). Default null.
    /// </summary>
    public TimeSpan? MaxTrainingTime { get; set; }

    /// <summary>Rows per minibatch. Default 256.</summary>
    public int BatchSize { get; set; } = FlowDefaults.BatchSize;

    /// <summary>
    /// AdamW's base learning rate; null chooses it by the number d of features that vary in the training rows: 3e-3 up to 16,
    /// 3e-3 sqrt(d / 16) above (<see cref="FlowTrainingOptions.LearningRate"/>). Default null.
    /// </summary>
    public double? LearningRate { get; set; }

    /// <summary>AdamW's decoupled weight decay (towards the fitted Gaussian). Default 1e-4.</summary>
    public double WeightDecay { get; set; } = FlowDefaults.WeightDecay;

    /// <summary>Learning-rate schedule. Default Cosine.</summary>
    public LearningRateSchedule Schedule { get; set; } = FlowDefaults.Schedule;

    /// <summary>Maximum gradient norm; null disables clipping. Default 10.</summary>
    public double? GradientClipNorm { get; set; } = FlowDefaults.GradientClipNorm;

    /// <summary>
    /// Fraction of rows held out to stop training, keep the best validated trained weights and measure the Gaussian's
    /// share of the density, in [0, 1), at most <see cref="MaxValidationRows"/> rows. Default 0.2.
    /// </summary>
    public double ValidationFraction { get; set; } = FlowDefaults.ValidationFraction;

    /// <summary>Most rows held out for validation. Default 4,096.</summary>
    public int MaxValidationRows { get; set; } = FlowDefaults.MaxValidationRows;

    /// <summary>Optimiser steps between two evaluations of the held-out loss (and log lines). Default 100.</summary>
    public int EvaluationInterval { get; set; } = FlowDefaults.EvaluationInterval;

    /// <summary>
    /// Evaluations without a better held-out loss before training stops. Default 5. While the fitted Gaussian (step 0) is
    /// still the best, training goes on until half of <see cref="MaxSteps"/> whatever the patience.
    /// </summary>
    public int EarlyStoppingPatience { get; set; } = FlowDefaults.EarlyStoppingPatience;

    /// <summary>
    /// Consecutive minibatches with a non-finite loss or gradient tolerated (each is skipped and halves the
    /// learning rate) before training fails with an error instead of returning a broken model. Default 10.
    /// </summary>
    public int MaxConsecutiveNonFiniteBatches { get; set; } = FlowDefaults.MaxConsecutiveNonFiniteBatches;

    /// <summary>Seed of weights, shuffling and momenta; null draws one from the <see cref="MLContext"/>'s seed. Default null.</summary>
    public int? Seed { get; set; }

    /// <summary>
    /// Cancels the fit: checked at every row while the data are counted and read, and before every minibatch; a cancelled fit throws
    /// <see cref="OperationCanceledException"/> and returns no model. ML.NET 5.0.1 keeps its own cancellation of a
    /// context internal, so this is the public way to stop a long fit. Default none.
    /// </summary>
    public CancellationToken CancellationToken { get; set; }

    /// <summary>
    /// Momentum samples K per row when scoring (the importance-weighted log-likelihood); scoring time grows with K.
    /// Default null: chosen after training on the held-out rows, the smallest power of two whose mean held-out
    /// log-likelihood is within 0.01 nats per feature of 64 samples', or 16 when no rows were held out. At most 4096.
    /// </summary>
    public int? ScoringImportanceSamples { get; set; }

    /// <summary>
    /// Momentum samples per row in the training objective: 1 maximises the ELBO, more the tighter importance-weighted
    /// bound at that many times the cost. Default 1, at most 4096.
    /// </summary>
    public int TrainingImportanceSamples { get; set; } = FlowDefaults.TrainingImportanceSamples;

    /// <summary>
    /// Whether the fitted Gaussian may take heavier-tailed marginals where held-out training rows favour them
    /// (<see cref="FlowTrainingOptions.HeavyTails"/>); false keeps the plain Gaussian. Default true.
    /// </summary>
    public bool HeavyTails { get; set; } = FlowDefaults.HeavyTails;

    /// <summary>
    /// Most training rows the model may keep as the centres of a kernel density mixed into its density, where the held-out
    /// rows ask for one (<see cref="FlowTrainingOptions.KernelDensityCentres"/>); the saved model then holds those rows.
    /// 0 keeps every training row out of the model. Default 2,048.
    /// </summary>
    public int KernelDensityCentres { get; set; } = FlowDefaults.KernelDensityCentres;

    /// <summary>
    /// Torch intra-op threads during training (restored when it ends); null leaves torch's setting. Default 1 (measured:
    /// <see cref="FlowTrainingOptions.NumberOfThreads"/>). Transform uses whatever the process has set.
    /// </summary>
    public int? NumberOfThreads { get; set; } = FlowDefaults.NumberOfThreads;

    /// <summary>
    /// Most megabytes of training rows read into memory. When the rows (count x dimension x 4 bytes, those with a non-finite
    /// value counted too, as the view's row count has them) fit, they are read once and trained on in memory; otherwise
    /// training streams: passes over the data count the rows,
    /// draw a sample for the gross-outlier rule and fit the Gaussian, and every epoch reads the data again through a
    /// shuffled cursor (the data's own shuffling when it can shuffle, else a pool of at most 4096 rows and of at
    /// most this budget), holding one minibatch and the validation rows. Streamed validation rows are chosen by a
    /// hash of the row's id and the seed, so the split is about, not exactly, <see cref="ValidationFraction"/>,
    /// and a streamed model differs from an in-memory one trained on the same data. Default 1024.
    /// </summary>
    public double MemoryBudgetMegabytes { get; set; } = FlowDefaults.MemoryBudgetMegabytes;

    internal FlowArchitecture ToArchitecture(int dimension) => new()
    {
        Dimension = dimension,
        HiddenLayers = HiddenLayers,
        EncoderHiddenLayers = EncoderHiddenLayers,
        Activation = Activation,
        Kinetic = KineticEnergy,
        Mass = Mass,
        LeapfrogSteps = LeapfrogSteps,
        StepSize = StepSize,
        LearnStepSize = LearnStepSize,
        Hamiltonians = Hamiltonians,
        SeparableWells = SeparableWells,
        Covariance = Covariance,
        Precision = DoublePrecision ? TorchSharp.torch.ScalarType.Float64 : TorchSharp.torch.ScalarType.Float32,
    };

    internal FlowTrainingOptions ToTrainingOptions(int seed) => new()
    {
        MaxSteps = MaxSteps,
        MaxTrainingTime = MaxTrainingTime,
        BatchSize = BatchSize,
        LearningRate = LearningRate,
        WeightDecay = WeightDecay,
        Schedule = Schedule,
        TrainingImportanceSamples = TrainingImportanceSamples,
        GradientClipNorm = GradientClipNorm,
        ValidationFraction = ValidationFraction,
        MaxValidationRows = MaxValidationRows,
        EvaluationInterval = EvaluationInterval,
        EarlyStoppingPatience = EarlyStoppingPatience,
        MaxConsecutiveNonFiniteBatches = MaxConsecutiveNonFiniteBatches,
        Seed = seed,
        NumberOfThreads = NumberOfThreads,
        HeavyTails = HeavyTails,
        KernelDensityCentres = KernelDensityCentres,
    };

    /// <summary>
    /// A copy, validated, that the trainers keep: options changed after a trainer is built (or the arrays they hold) do
    /// not reach its Fit, where they would be read unvalidated; ML.NET's own trainers read their options once too.
    /// </summary>
    internal T ValidatedCopy<T>() where T : HamiltonianFlowOptionsBase
    {
        var copy = (T)MemberwiseClone();
        copy.HiddenLayers = (int[])HiddenLayers?.Clone()!;
        copy.EncoderHiddenLayers = (int[]?)EncoderHiddenLayers?.Clone();
        // The copy is validated, not this object, which the caller may still be changing.
        copy.Validate();
        return copy;
    }

    /// <summary>Throws <see cref="ArgumentException"/> naming the first invalid option.</summary>
    internal virtual void Validate()
    {
        if (string.IsNullOrEmpty(FeatureColumnName))
            throw new ArgumentException($"{nameof(FeatureColumnName)} must be set.", nameof(FeatureColumnName));
        if (ScoringImportanceSamples is < 1 or > FlowDefaults.MaxImportanceSamples)
            throw new ArgumentException(
                $"{nameof(ScoringImportanceSamples)} must be in [1, {FlowDefaults.MaxImportanceSamples}], got {ScoringImportanceSamples}.", nameof(ScoringImportanceSamples));
        // Checked here, not left to the engine's architecture, which calls it Kinetic: the message names the option set.
        if (!Enum.IsDefined(KineticEnergy))
            throw new ArgumentException($"{nameof(KineticEnergy)} {KineticEnergy} is not defined.", nameof(KineticEnergy));
        if (!(MemoryBudgetMegabytes > 0))
            throw new ArgumentException($"{nameof(MemoryBudgetMegabytes)} must be positive, got {MemoryBudgetMegabytes}.", nameof(MemoryBudgetMegabytes));
        ToArchitecture(1).Validate();
        ToTrainingOptions(0).Validate();
    }
}
