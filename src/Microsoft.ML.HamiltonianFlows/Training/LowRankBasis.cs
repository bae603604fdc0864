namespace Microsoft.ML.HamiltonianFlows.Training;

/// <summary>
/// What a <see cref="Torch.CovarianceKind.LowRank"/> stage's fit is given beforehand by <see cref="RankChoice"/>: the
/// basis B [d, k] its correlation is fitted within, and the intensity with which that correlation is shrunk towards the
/// identity, Ledoit and Wolf's for the fit's rows where held-out rows prefer it, 0 for probabilistic PCA.
/// </summary>
/// <param name="Directions">The basis B [d, k], orthonormal columns, zero on features constant in the sample.</param>
/// <param name="Shrinkage">In [0, 1]: the correlation's variances within the basis lambda and the constant s^2 outside it
/// become (1 - shrinkage) lambda + shrinkage and (1 - shrinkage) s^2 + shrinkage.</param>
internal sealed record LowRankBasis(double[,] Directions, double Shrinkage)
{
    /// <summary>The basis's columns, k (0: the diagonal Gaussian).</summary>
    public int Rank => Directions.GetLength(1);
}
