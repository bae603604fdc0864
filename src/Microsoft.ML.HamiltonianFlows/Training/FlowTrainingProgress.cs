namespace Microsoft.ML.HamiltonianFlows.Training;

/// <summary>
/// What training reports at each evaluation (every <see cref="FlowTrainingOptions.EvaluationInterval"/> steps, at step 0
/// and at the end). Losses are the negative training objective (the ELBO, or the importance-weighted bound when
/// <see cref="FlowTrainingOptions.TrainingImportanceSamples"/> &gt; 1) in nats per row, in data units.
/// </summary>
/// <param name="Steps">Optimiser steps taken so far.</param>
/// <param name="TrainingLoss">Mean loss of the finite batches since the previous report; NaN at step 0.</param>
/// <param name="ValidationLoss">Loss on the held-out rows, when some are held out.</param>
/// <param name="LearningRate">Learning rate of the latest step.</param>
/// <param name="SkippedBatches">Batches skipped so far because their loss or gradient was not finite.</param>
public sealed record FlowTrainingProgress(long Steps, double TrainingLoss, double? ValidationLoss, double LearningRate, int SkippedBatches);
