using Microsoft.ML.HamiltonianFlows.Torch;

namespace Microsoft.ML.HamiltonianFlows.Training;

/// <summary>A trained flow and how its training went.</summary>
/// <param name="Flow">The trained flow (with the best validated weights when rows were held out).</param>
/// <param name="History">One entry per evaluation.</param>
/// <param name="BestStep">Step whose weights were kept: the best validated one (0 is the fitted Gaussian), or the last.</param>
/// <param name="StoppedEarly">Whether the held-out loss stopped improving before the budget ran out.</param>
/// <param name="ValidationLoss">Held-out loss of the returned weights, when rows were held out: the trained flow's alone,
/// as early stopping compared it, before the Gaussian's share (<see cref="HamiltonianFlow.GaussianWeight"/>) is mixed in.</param>
/// <param name="TrainingRows">Rows the flow was fitted to: finite, not gross outliers, not held out.</param>
/// <param name="ScoringSamples">Importance samples K that score the returned flow as well as 64 do on the held-out rows
/// (<see cref="ScoringBudget"/>, which also sets the flow's <see cref="HamiltonianFlow.GaussianWeight"/> there); null when
/// no rows were held out.</param>
/// <param name="ConstantFeatures">Features (0-based) with no spread in the rows the Gaussian was fitted to (a single row,
/// identical rows, a constant column): the flow gives them a unit scale in the data's units.</param>
/// <param name="ExcludedRows">Rows left out of the fit as gross outliers (see the trainer's remarks).</param>
public sealed record FlowTrainingResult(
    HamiltonianFlow Flow, IReadOnlyList<FlowTrainingProgress> History, long BestStep, bool StoppedEarly, double? ValidationLoss,
    long TrainingRows, long ExcludedRows, int? ScoringSamples, IReadOnlyList<int> ConstantFeatures);
