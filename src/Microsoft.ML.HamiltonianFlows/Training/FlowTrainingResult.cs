using Microsoft.ML.HamiltonianFlows.Torch;

namespace Microsoft.ML.HamiltonianFlows.Training;

/// <summary>A trained flow and how its training went, as <see cref="FlowTrainer"/> returns it.</summary>
/// <remarks>
/// Named properties rather than a positional record: a field added to the report (as the time limit added one) then adds
/// a property and breaks no caller, where a positional record changes its constructor and <c>Deconstruct</c> each time.
/// Only the trainer constructs one; callers may copy one with <c>with</c>.
/// </remarks>
public sealed record FlowTrainingResult
{
    internal FlowTrainingResult()
    {
    }

    /// <summary>The trained flow (with the weights of the best validated trained step when rows were held out).</summary>
    public required HamiltonianFlow Flow { get; init; }

    /// <summary>One entry per evaluation.</summary>
    public required IReadOnlyList<FlowTrainingProgress> History { get; init; }

    /// <summary>
    /// Step whose weights were kept: the trained step with the best held-out loss (0, the fitted Gaussian, only when no
    /// trained step was evaluated with a finite loss), or the last when no rows were held out.
    /// </summary>
    public required long BestStep { get; init; }

    /// <summary>Whether the held-out loss stopped improving before the budget ran out.</summary>
    public required bool StoppedEarly { get; init; }

    /// <summary>
    /// Whether training ended at <see cref="FlowTrainingOptions.MaxTrainingTime"/>, before its step budget and while the
    /// held-out loss was still allowed to improve.
    /// </summary>
    public required bool ReachedTimeLimit { get; init; }

    /// <summary>Rows the flow was fitted to: finite, not gross outliers, not held out.</summary>
    public required long TrainingRows { get; init; }

    /// <summary>Rows left out of the fit as gross outliers (see the trainer's remarks).</summary>
    public required long ExcludedRows { get; init; }

    /// <summary>
    /// Features (0-based) with no spread in the rows the Gaussian was fitted to (a single row, identical rows, a constant
    /// column): the flow gives them the varying features' typical scale (the geometric mean of their standard
    /// deviations), its dynamics hold them, and its samples draw their value.
    /// </summary>
    public required IReadOnlyList<int> ConstantFeatures { get; init; }

    /// <summary>
    /// Held-out loss of the returned weights, when rows were held out: the trained flow's alone, as early stopping compared
    /// it, before the Gaussian's share (<see cref="HamiltonianFlow.GaussianWeight"/>) is mixed in; null when no rows were
    /// held out.
    /// </summary>
    public double? ValidationLoss { get; init; }

    /// <summary>
    /// Importance samples K that score the returned flow as well as 64 do on the held-out rows (<see cref="ScoringBudget"/>,
    /// which also sets the flow's <see cref="HamiltonianFlow.GaussianWeight"/> there); null when no rows were held out.
    /// </summary>
    public int? ScoringSamples { get; init; }

    /// <summary>
    /// Held-out loss (mean negative log-likelihood, nats per row) of the density returned: the kept weights mixed with the
    /// Gaussian by its share, estimated with 64 importance samples on the held-out rows the share was fitted on (at most
    /// 1,024); null when no rows were held out. Never above <see cref="GaussianValidationLoss"/>: a share of 1 is the
    /// Gaussian.
    /// </summary>
    public double? DensityValidationLoss { get; init; }

    /// <summary>
    /// Held-out loss of the fitted Gaussian alone on the same rows (exact but for the dequantisation draws of lattice
    /// features, which the two losses share); null when no rows were held out.
    /// </summary>
    public double? GaussianValidationLoss { get; init; }

    /// <summary>
    /// What new rows of the training data's law score, for an anomaly threshold (a quantile of these,
    /// <see cref="HamiltonianFlowAnomalyTrainer"/>): for each row <see cref="DensityValidationLoss"/> was measured on, its
    /// log-likelihood (nats) under the density returned with its Gaussian stage, which is fitted to all the rows, replaced
    /// by the stage refitted without a fifth of the held-out rows that holds this one (and the kernel centres whitened by
    /// that refit; <see cref="StageRefits"/>), estimated with <see cref="ScoringSamples"/> importance samples as scoring
    /// estimates it. The flow was not trained on these rows, which only chose its step, shares and kernel width; the
    /// training rows themselves score higher than new rows. Null when no rows were held out.
    /// </summary>
    public IReadOnlyList<double>? HeldOutLogLikelihoods { get; init; }
}
