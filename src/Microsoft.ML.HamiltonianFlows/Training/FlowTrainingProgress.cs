namespace Microsoft.ML.HamiltonianFlows.Training;

/// <summary>
/// What training reports after each epoch. Losses are the negative training objective (the ELBO, or the
/// importance-weighted bound when <see cref="FlowTrainingOptions.ImportanceSamples"/> &gt; 1) in nats per row, in data units.
/// </summary>
/// <param name="Epoch">1-based epoch just finished.</param>
/// <param name="Steps">Optimiser steps taken so far.</param>
/// <param name="TrainingLoss">Mean loss over the epoch's finite batches.</param>
/// <param name="ValidationLoss">Loss on the held-out rows, when a validation fraction is set.</param>
/// <param name="LearningRate">Learning rate at the end of the epoch.</param>
/// <param name="SkippedBatches">Batches skipped so far because their loss or gradient was not finite.</param>
public sealed record FlowTrainingProgress(int Epoch, long Steps, double TrainingLoss, double? ValidationLoss, double LearningRate, int SkippedBatches);
