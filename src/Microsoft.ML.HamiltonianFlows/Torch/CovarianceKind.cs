namespace Microsoft.ML.HamiltonianFlows.Torch;

/// <summary>The covariance of the Gaussian the flow starts from (<see cref="GaussianStage"/>).</summary>
public enum CovarianceKind
{
    /// <summary>
    /// <see cref="Full"/> up to <see cref="FlowArchitecture.FullCovarianceMaxDimension"/> features, <see cref="Diagonal"/>
    /// above: a full covariance stores and applies two d x d matrices (d = 4,096 would be 128 MB and 16 million
    /// multiply-adds per row and momentum sample).
    /// </summary>
    Automatic,

    /// <summary>Per-feature scales and a shrunk (Ledoit-Wolf) correlation matrix.</summary>
    Full,

    /// <summary>Per-feature scales only: features independent.</summary>
    Diagonal,
}
