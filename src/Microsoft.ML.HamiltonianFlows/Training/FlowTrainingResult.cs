using Microsoft.ML.HamiltonianFlows.Torch;

namespace Microsoft.ML.HamiltonianFlows.Training;

/// <summary>A trained flow and how its training went.</summary>
/// <param name="Flow">The trained flow (with the weights of the best validated trained step when rows were held out).</param>
/// <param name="History">One entry per evaluation.</param>
/// <param name="BestStep">Step whose weights were kept: the trained step with the best held-out loss (0, the fitted
/// Gaussian, only when no trained step was evaluated with a finite loss), or the last when no rows were held out.</param>
/// <param name="StoppedEarly">Whether the held-out loss stopped improving before the budget ran out.</param>
/// <param name="ValidationLoss">Held-out loss of the returned weights, when rows were held out: the trained flow's alone,
/// as early stopping compared it, before the Gaussian's share (<see cref="HamiltonianFlow.GaussianWeight"/>) is mixed in.</param>
/// <param name="TrainingRows">Rows the flow was fitted to: finite, not gross outliers, not held out.</param>
/// <param name="ScoringSamples">Importance samples K that score the returned flow as well as 64 do on the held-out rows
/// (<see cref="ScoringBudget"/>, which also sets the flow's <see cref="HamiltonianFlow.GaussianWeight"/> there); null when
/// no rows were held out.</param>
/// <param name="ConstantFeatures">Features (0-based) with no spread in the rows the Gaussian was fitted to (a single row,
/// identical rows, a constant column): the flow gives them the varying features' typical scale (the geometric mean of their standard deviations), its dynamics hold them, and its samples draw their value.</param>
/// <param name="ExcludedRows">Rows left out of the fit as gross outliers (see the trainer's remarks).</param>
/// <param name="DensityValidationLoss">Held-out loss (mean negative log-likelihood, nats per row) of the density returned:
/// the kept weights mixed with the Gaussian by its share, estimated with 64 importance samples on the held-out rows the
/// share was fitted on (at most 1,024); null when no rows were held out. Never above <paramref name="GaussianValidationLoss"/>:
/// a share of 1 is the Gaussian.</param>
/// <param name="GaussianValidationLoss">Held-out loss of the fitted Gaussian alone on the same rows (exact but for the
/// dequantisation draws of lattice features, which the two losses share); null when no rows were held out.</param>
/// <param name="ReachedTimeLimit">Whether training ended at <see cref="FlowTrainingOptions.MaxTrainingTime"/>, before its
/// step budget and while the held-out loss was still allowed to improve.</param>
public sealed record FlowTrainingResult(
    HamiltonianFlow Flow, IReadOnlyList<FlowTrainingProgress> History, long BestStep, bool StoppedEarly, double? ValidationLoss,
    long TrainingRows, long ExcludedRows, int? ScoringSamples, IReadOnlyList<int> ConstantFeatures,
    double? DensityValidationLoss, double? GaussianValidationLoss, bool ReachedTimeLimit);
