namespace Microsoft.ML.HamiltonianFlows.Training;

/// <summary>
/// What a fit knows once its Gaussian stage is fitted and before its first training step (<see cref="FlowTrainingOptions.StageFitted"/>):
/// what the data say about themselves, reported then rather than after training has run its course.
/// </summary>
/// <param name="Stage">The fitted stage.</param>
/// <param name="ExcludedRows">Rows left out of the fit as gross outliers (<see cref="GrossOutlierRule"/>).</param>
/// <param name="ConstantFeatures">The features constant in the training rows, 0-based.</param>
/// <param name="HeldOutScoredRows">
/// The held-out rows whose scores the fit will measure (<see cref="FlowTrainingResult.HeldOutLogLikelihoods"/>): at most
/// <see cref="ScoringBudget.MaxRows"/>, 0 where none are measured.
/// </param>
internal sealed record StageReport(Torch.GaussianStage Stage, long ExcludedRows, IReadOnlyList<int> ConstantFeatures, long HeldOutScoredRows);
