using Microsoft.ML.HamiltonianFlows.Torch;
using Microsoft.ML.HamiltonianFlows.Training;

namespace GaussianMixture2D;

/// <summary>One trained model and its measurements.</summary>
internal sealed record VariantResult(
    string Name,
    HamiltonianFlow Flow,
    IReadOnlyList<FlowTrainingProgress> History,
    double TestNll,
    double TestNegativeElbo,
    double TrainSeconds);
