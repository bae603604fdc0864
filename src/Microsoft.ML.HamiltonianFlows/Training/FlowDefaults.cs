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

    public const long MaxSteps = 2000;
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

    /// <summary>Scoring samples when none are set and no rows were held out to measure them on.</summary>
    public const int UnmeasuredScoringImportanceSamples = 16;
    public const double MemoryBudgetMegabytes = 1024;
    public const double Contamination = 0.05;
    public const string FeatureColumnName = "Features";
    public const string LogLikelihoodColumnName = "LogLikelihood";

    public static int[] HiddenLayers() => Enumerable.Repeat(HiddenWidth, HiddenLayerCount).ToArray();
}
