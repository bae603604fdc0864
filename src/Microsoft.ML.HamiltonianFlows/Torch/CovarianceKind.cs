namespace Microsoft.ML.HamiltonianFlows.Torch;

/// <summary>The covariance of the Gaussian the flow starts from (<see cref="GaussianStage"/>).</summary>
public enum CovarianceKind
{
    /// <summary>
    /// <see cref="Full"/> up to <see cref="FlowArchitecture.FullCovarianceMaxDimension"/> features, <see cref="LowRank"/>
    /// above: a full covariance stores and applies two d x d matrices (d = 4,096 would be 128 MB and 16 million
    /// multiply-adds per row and momentum sample), a low-rank one a d x <see cref="FlowArchitecture.MaxRank"/> basis.
    /// </summary>
    Automatic,

    /// <summary>Per-feature scales and a shrunk (Ledoit-Wolf) correlation matrix.</summary>
    Full,

    /// <summary>Per-feature scales only: features independent.</summary>
    Diagonal,

    /// <summary>
    /// Per-feature scales and a correlation of low rank plus a constant (probabilistic PCA of the standardised features:
    /// the leading k directions keep their own variances, the others share their mean, all of them shrunk towards 1 by
    /// Ledoit and Wolf's intensity where held-out rows prefer it), k and the shrinkage chosen on held-out rows of the
    /// training sample, k at most <see cref="FlowArchitecture.MaxRank"/>; k = 0 is the diagonal Gaussian. With fewer rows
    /// than that, k may be all the directions the rows span, and the shrunk correlation is then <see cref="Full"/>'s.
    /// </summary>
    LowRank,
}
