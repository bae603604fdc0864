using Microsoft.ML.HamiltonianFlows.Torch;

namespace Microsoft.ML.HamiltonianFlows.Training;

/// <summary>A trained flow and how its training went.</summary>
/// <param name="Flow">The trained flow (with the best validation weights when early stopping was used).</param>
/// <param name="History">One entry per epoch run.</param>
/// <param name="BestEpoch">Epoch whose weights were kept: the best validation epoch, or the last one.</param>
/// <param name="StoppedEarly">Whether validation loss stopped improving before the budget ran out.</param>
/// <param name="ValidationLoss">Validation loss of the returned weights, when a validation fraction is set.</param>
public sealed record FlowTrainingResult(
    HamiltonianFlow Flow, IReadOnlyList<FlowTrainingProgress> History, int BestEpoch, bool StoppedEarly, double? ValidationLoss);
