namespace Microsoft.ML.HamiltonianFlows.Inference;

/// <summary>Summaries of posterior draws, per parameter (weighted by normalised importance weights when asked).</summary>
/// <param name="Mean">Posterior mean of each parameter.</param>
/// <param name="StandardDeviation">Posterior standard deviation of each parameter.</param>
/// <param name="Covariance">Posterior covariance, d x d.</param>
/// <param name="QuantileLevels">The probabilities the quantiles were taken at.</param>
/// <param name="Quantiles">Quantiles[j, k]: parameter j at level <paramref name="QuantileLevels"/>[k].</param>
public sealed record PosteriorSummary(
    double[] Mean, double[] StandardDeviation, double[,] Covariance, double[] QuantileLevels, double[,] Quantiles);
