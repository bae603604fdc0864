using Microsoft.ML.Data;
using Microsoft.ML.HamiltonianFlows.Torch;
using Microsoft.ML.HamiltonianFlows.Training;
using Microsoft.ML.Runtime;

namespace Microsoft.ML.HamiltonianFlows;

/// <summary>
/// Fits a Neural Hamiltonian Flow density model to a feature column and returns a
/// <see cref="HamiltonianFlowTransformer"/> that adds each row's log-likelihood. Create it with
/// <c>mlContext.Transforms.HamiltonianFlow(...)</c>.
/// </summary>
/// <remarks>
/// Rows whose features contain NaN or infinite values are skipped during training (the count is logged), and so are
/// gross outliers (a feature thousands of standard deviations from the others, see <see cref="FlowTrainer"/>);
/// steps and losses are logged through the <see cref="MLContext.Log"/> channel, and cancelling the context's
/// execution (ML.NET keeps that call internal in 5.0.1; tools such as AutoML use it) stops training between batches.
/// </remarks>
public sealed class HamiltonianFlowTrainer : IEstimator<HamiltonianFlowTransformer>
{
    /// <summary>
    /// Options of <see cref="HamiltonianFlowTrainer"/> and of the anomaly detector built on it. Their defaults are the
    /// engine's (<see cref="FlowArchitecture"/>, <see cref="FlowTrainingOptions"/>): one set of defaults for both layers.
    /// </summary>
    public sealed class Options
    {
        private static readonly FlowArchitecture Architecture = new();
        private static readonly FlowTrainingOptions Training = new();

        /// <summary>Input column: a known-size vector of Single or Double, or a Single scalar. Default "Features".</summary>
        public string FeatureColumnName { get; set; } = "Features";

        /// <summary>Output column of <see cref="HamiltonianFlowTransformer"/>: the log-likelihood (Single, nats). Default "LogLikelihood".</summary>
        public string OutputColumnName { get; set; } = "LogLikelihood";

        /// <summary>Fixed quadratic kinetic energy (Souveton et al.) or a neural one (Toth et al.). Default Quadratic.</summary>
        public KineticEnergyKind KineticEnergy { get; set; } = Architecture.Kinetic;

        /// <summary>Mass matrix of the quadratic kinetic energy. Default Identity.</summary>
        public MassKind Mass { get; set; } = Architecture.Mass;

        /// <summary>Leapfrog steps L per Hamiltonian. Default 4.</summary>
        public int LeapfrogSteps { get; set; } = Architecture.LeapfrogSteps;

        /// <summary>Initial leapfrog step size eps. Default 0.15.</summary>
        public double StepSize { get; set; } = Architecture.StepSize;

        /// <summary>Whether the step size is learned. Default true.</summary>
        public bool LearnStepSize { get; set; } = Architecture.LearnStepSize;

        /// <summary>Hidden layer widths of the potential (and of a neural kinetic energy). Default 64, 64.</summary>
        public int[] HiddenLayers { get; set; } = Architecture.HiddenLayers.ToArray();

        /// <summary>Hidden layer widths of the momentum encoder; null uses <see cref="HiddenLayers"/>. Default null.</summary>
        public int[]? EncoderHiddenLayers { get; set; }

        /// <summary>Nonlinearity of every network. Default Softplus.</summary>
        public Activation Activation { get; set; } = Architecture.Activation;

        /// <summary>Number of Hamiltonians integrated in sequence, each with its own networks. Default 4.</summary>
        public int Hamiltonians { get; set; } = Architecture.Hamiltonians;

        /// <summary>
        /// Covariance of the Gaussian the flow starts from. Default Automatic: full up to
        /// <see cref="FlowArchitecture.FullCovarianceMaxDimension"/> features, diagonal above.
        /// </summary>
        public CovarianceKind Covariance { get; set; } = Architecture.Covariance;

        /// <summary>
        /// Whether the flow computes in Double (float64) instead of Single (float32): roughly twice the time and memory,
        /// for likelihoods compared to many digits. Output columns stay Single. Default false.
        /// </summary>
        public bool DoublePrecision { get; set; }

        /// <summary>Optimiser steps at most; early stopping usually ends sooner. Default 2,000.</summary>
        public long MaxSteps { get; set; } = Training.MaxSteps;

        /// <summary>Rows per minibatch. Default 256.</summary>
        public int BatchSize { get; set; } = Training.BatchSize;

        /// <summary>AdamW's base learning rate. Default 3e-3.</summary>
        public double LearningRate { get; set; } = Training.LearningRate;

        /// <summary>AdamW's decoupled weight decay (towards the fitted Gaussian). Default 1e-4.</summary>
        public double WeightDecay { get; set; } = Training.WeightDecay;

        /// <summary>Learning-rate schedule. Default Cosine.</summary>
        public LearningRateSchedule Schedule { get; set; } = Training.Schedule;

        /// <summary>Maximum gradient norm; null disables clipping. Default 10.</summary>
        public double? GradientClipNorm { get; set; } = Training.GradientClipNorm;

        /// <summary>
        /// Fraction of rows held out to stop training and keep the best validated weights, in [0, 1), at most
        /// <see cref="MaxValidationRows"/> rows. Default 0.2.
        /// </summary>
        public double ValidationFraction { get; set; } = Training.ValidationFraction;

        /// <summary>Most rows held out for validation. Default 4,096.</summary>
        public int MaxValidationRows { get; set; } = Training.MaxValidationRows;

        /// <summary>Optimiser steps between two evaluations of the held-out loss (and log lines). Default 100.</summary>
        public int EvaluationInterval { get; set; } = Training.EvaluationInterval;

        /// <summary>Evaluations without a better held-out loss before training stops. Default 5.</summary>
        public int EarlyStoppingPatience { get; set; } = Training.EarlyStoppingPatience;

        /// <summary>
        /// Consecutive minibatches with a non-finite loss or gradient tolerated (each is skipped and halves the
        /// learning rate) before training fails with an error instead of returning a broken model. Default 10.
        /// </summary>
        public int MaxConsecutiveNonFiniteBatches { get; set; } = Training.MaxConsecutiveNonFiniteBatches;

        /// <summary>Seed of weights, shuffling and momenta; null draws one from the <see cref="MLContext"/>'s seed. Default null.</summary>
        public int? Seed { get; set; }

        /// <summary>
        /// Momentum samples K per row when scoring (the importance-weighted log-likelihood); scoring time grows with K.
        /// Default null: chosen after training on the held-out rows, the smallest power of two whose mean held-out
        /// log-likelihood is within 0.01 nats per feature of 64 samples', or 16 when no rows were held out.
        /// </summary>
        public int? ImportanceSamples { get; set; }

        /// <summary>The scoring samples when <see cref="ImportanceSamples"/> is null and no rows were held out.</summary>
        internal const int UnmeasuredImportanceSamples = 16;

        /// <summary>Momentum samples per row in the training objective; 1 maximises the ELBO. Default 1.</summary>
        public int TrainingImportanceSamples { get; set; } = Training.ImportanceSamples;

        /// <summary>
        /// Torch intra-op threads during training (restored when it ends); null leaves torch's setting. Default 1 (measured:
        /// <see cref="FlowTrainingOptions.NumberOfThreads"/>). Transform uses whatever the process has set.
        /// </summary>
        public int? NumberOfThreads { get; set; } = Training.NumberOfThreads;

        /// <summary>
        /// Most megabytes of training rows read into memory. When the finite rows (count x dimension x 4 bytes) fit,
        /// they are read once and trained on in memory; otherwise training streams: passes over the data count the rows,
        /// draw a sample for the gross-outlier rule and fit the Gaussian, and every epoch reads the data again through a
        /// shuffled cursor (the data's own shuffling when it can shuffle, else a pool of at most 4096 rows and of at
        /// most this budget), holding one minibatch and the validation rows. Streamed validation rows are chosen by a
        /// hash of the row's id and the seed, so the split is about, not exactly, <see cref="ValidationFraction"/>,
        /// and a streamed model differs from an in-memory one trained on the same data. The anomaly detector also
        /// scores its training rows a block at a time then. Default 1024.
        /// </summary>
        public double MemoryBudgetMegabytes { get; set; } = 1024;

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
            Covariance = Covariance,
            Precision = DoublePrecision ? TorchSharp.torch.ScalarType.Float64 : TorchSharp.torch.ScalarType.Float32,
        };

        internal FlowTrainingOptions ToTrainingOptions(int seed) => new()
        {
            MaxSteps = MaxSteps,
            BatchSize = BatchSize,
            LearningRate = LearningRate,
            WeightDecay = WeightDecay,
            Schedule = Schedule,
            ImportanceSamples = TrainingImportanceSamples,
            GradientClipNorm = GradientClipNorm,
            ValidationFraction = ValidationFraction,
            MaxValidationRows = MaxValidationRows,
            EvaluationInterval = EvaluationInterval,
            EarlyStoppingPatience = EarlyStoppingPatience,
            MaxConsecutiveNonFiniteBatches = MaxConsecutiveNonFiniteBatches,
            Seed = seed,
            NumberOfThreads = NumberOfThreads,
        };

        /// <summary>Throws <see cref="ArgumentException"/> naming the first invalid option.</summary>
        internal void Validate()
        {
            if (string.IsNullOrEmpty(FeatureColumnName))
                throw new ArgumentException($"{nameof(FeatureColumnName)} must be set.", nameof(FeatureColumnName));
            if (string.IsNullOrEmpty(OutputColumnName))
                throw new ArgumentException($"{nameof(OutputColumnName)} must be set.", nameof(OutputColumnName));
            if (ImportanceSamples is < 1)
                throw new ArgumentException($"{nameof(ImportanceSamples)} must be at least 1, got {ImportanceSamples}.", nameof(ImportanceSamples));
            if (!(MemoryBudgetMegabytes > 0))
                throw new ArgumentException($"{nameof(MemoryBudgetMegabytes)} must be positive, got {MemoryBudgetMegabytes}.", nameof(MemoryBudgetMegabytes));
            ToArchitecture(1).Validate();
            ToTrainingOptions(0).Validate();
        }
    }

    private readonly IHost host;
    private readonly Options options;

    internal HamiltonianFlowTrainer(IHostEnvironment env, Options options)
    {
        Contracts.CheckValue(env, nameof(env));
        host = env.Register(nameof(HamiltonianFlowTrainer));
        host.CheckValue(options, nameof(options));
        MLNetVersionGuard.EnsureSupported();
        options.Validate();
        this.options = options;
    }

    /// <summary>Trains the flow on the feature column of <paramref name="input"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The feature column is missing or of an unsupported type.</exception>
    /// <exception cref="InvalidOperationException">No row has finite features.</exception>
    public HamiltonianFlowTransformer Fit(IDataView input)
    {
        host.CheckValue(input, nameof(input));
        var fitted = FlowFitting.Fit(host, input, options);
        return new HamiltonianFlowTransformer(host, fitted.Model, fitted.Feature, options.OutputColumnName);
    }

    /// <summary>The input schema with the Single log-likelihood column added.</summary>
    public SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        host.CheckValue(inputSchema, nameof(inputSchema));
        FeatureColumn.Check(inputSchema, options.FeatureColumnName);
        var columns = inputSchema.ToDictionary(c => c.Name);
        columns[options.OutputColumnName] = new SchemaShape.Column(
            options.OutputColumnName, SchemaShape.Column.VectorKind.Scalar, NumberDataViewType.Single, false);
        return new SchemaShape(columns.Values);
    }
}
