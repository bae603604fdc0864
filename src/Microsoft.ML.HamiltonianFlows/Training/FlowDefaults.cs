using Microsoft.ML.HamiltonianFlows.Torch;

namespace Microsoft.ML.HamiltonianFlows.Training;

/// <summary>
/// The library's one set of defaults, as constants (ML.NET's <c>Options.Defaults</c> pattern): the engine's
/// <see cref="Torch.FlowArchitecture"/> and <see cref="FlowTrainingOptions"/>, the ML.NET options and the catalog methods'
/// parameters all take their values from here. The members that use them say why each value was chosen.
/// </summary>
internal static class FlowDefaults
{
    public const int HiddenWidth = 64;
    public const int HiddenLayerCount = 2;
    public const Activation Activation = Torch.Activation.Softplus;
    public const KineticEnergyKind Kinetic = KineticEnergyKind.Quadratic;
    public const MassKind Mass = MassKind.Identity;
    public const CovarianceKind Covariance = CovarianceKind.Automatic;
    public const int LeapfrogSteps = 4;
    public const double StepSize = 0.15;
    public const bool LearnStepSize = true;
    public const int Hamiltonians = 4;

    /// <summary>The step budget of data up to <see cref="MaxStepsRows"/> training rows.</summary>
    public const long MaxSteps = 2000;

    /// <summary>Above this many training rows the default step budget grows in proportion to their number.</summary>
    public const long MaxStepsRows = 2048;

    /// <summary>The default step budget is at most this many times <see cref="MaxSteps"/>.</summary>
    public const double MaxStepsGrowth = 2;

    /// <summary>
    /// The default step budget for n training rows (those not held out for validation): 2,000 steps up to 2,048 rows,
    /// 2,000 n / 2,048 above, at most 4,000 (from 4,096 rows), in whole hundreds. Measured with `AnomalyBenchmark
    /// validate` (held-out nats per row, 4,000 steps against 2,000, seeds 1 and 2; docs/anomaly-benchmark.md, eleventh
    /// session): small data stop early, where held-out rows start to get worse, and a longer cosine schedule only ends
    /// them at a higher rate. Ionosphere, pima and vehicle (86 to 192 rows) gained or lost up to 0.54, net a loss, and
    /// satellite (1,689 rows) lost 0.10 and 0.11. From 2,000 rows on, fits were still improving when 2,000 steps ran
    /// out: shuttle's rows gained 0.81 / 0.66 at 2,000 rows, 0.90 / 0.90 at 4,000, 0.75 / 0.81 at 8,000 and 0.67 / 0.83
    /// at 17,800; a synthetic ten-feature set of three bent clusters 0.06 to 0.20 from 2,000 to 800,000 rows. The growth
    /// stops at twice the budget for the time: Fashion-MNIST in logit space (56,000 rows, 784 features) takes about 2
    /// minutes per 1,000 steps on one thread and must fit within 15.
    /// </summary>
    public static long MaxStepsFor(long trainingRows)
    {
        double growth = Math.Clamp(trainingRows / (double)MaxStepsRows, 1, MaxStepsGrowth);
        return (long)Math.Round(MaxSteps * growth / 100, MidpointRounding.AwayFromZero) * 100;
    }

    public const int BatchSize = 256;

    /// <summary>The learning rate of narrow data (up to <see cref="LearningRateWidth"/> varying features): chosen on the tabular sets.</summary>
    public const double LearningRate = 3e-3;

    /// <summary>Above this many varying features the default learning rate grows as the square root of their number.</summary>
    public const int LearningRateWidth = 16;

    /// <summary>
    /// The default learning rate for d features that vary in training: 3e-3 up to 16, 3e-3 sqrt(d / 16) above. On
    /// Fashion-MNIST in logit space the held-out loss of the training rows did not move from the fitted Gaussian's in
    /// 1,000 steps at 1e-3 or 3e-3 (d = 196, 784) and fell at 1e-2 (d = 196) and 2e-2 (d = 784): the potential must reach
    /// energies that grow with d, by steps of a size that Adam makes independent of d (docs/anomaly-benchmark.md).
    /// Features constant in training are not counted: the dynamics hold their coordinates, which carry no energy.
    /// </summary>
    public static double LearningRateFor(int varyingFeatures) => LearningRate * Math.Sqrt(Math.Max(1.0, varyingFeatures / (double)LearningRateWidth));
    public const LearningRateSchedule Schedule = LearningRateSchedule.Cosine;
    public const double WeightDecay = 1e-4;
    public const int TrainingImportanceSamples = 1;
    public const double GradientClipNorm = 10;
    public const double ValidationFraction = 0.2;
    public const int MaxValidationRows = 4096;
    public const int EvaluationInterval = 100;
    public const int EarlyStoppingPatience = 5;
    public const int MaxConsecutiveNonFiniteBatches = 10;
    public const int NumberOfThreads = 1;
    public const bool HeavyTails = true;
    public const int KernelDensityCentres = 2048;

    /// <summary>Scoring samples when none are set and no rows were held out to measure them on.</summary>
    public const int UnmeasuredScoringImportanceSamples = 16;

    /// <summary>
    /// The most momentum samples per row an option may ask for, in training or scoring: 64 times the most the scoring rule
    /// measures (<see cref="ScoringBudget.Reference"/>). Each sample is a copy of the row's whole integration, so more would
    /// only multiply time and memory; far more (2^26) overflowed the block arithmetic or exhausted memory while scoring.
    /// </summary>
    public const int MaxImportanceSamples = 4096;
    public const double MemoryBudgetMegabytes = 1024;
    public const double Contamination = 0.05;
    public const string FeatureColumnName = "Features";
    public const string LogLikelihoodColumnName = "LogLikelihood";

    public static int[] HiddenLayers() => Enumerable.Repeat(HiddenWidth, HiddenLayerCount).ToArray();
}
