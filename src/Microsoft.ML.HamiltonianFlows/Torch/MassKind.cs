namespace Microsoft.ML.HamiltonianFlows.Torch;

/// <summary>The mass matrix M of a quadratic kinetic energy K(p) = p^T M^-1 p / 2.</summary>
public enum MassKind
{
    /// <summary>M = I: no kinetic parameters at all.</summary>
    Identity,

    /// <summary>M = m I with one learned m &gt; 0 (stored as log m).</summary>
    LearnedScalar,

    /// <summary>M = diag(m_1..m_d) with learned m_i &gt; 0 (stored as log m_i).</summary>
    LearnedDiagonal,
}
