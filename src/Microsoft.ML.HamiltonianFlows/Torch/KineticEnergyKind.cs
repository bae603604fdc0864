namespace Microsoft.ML.HamiltonianFlows.Torch;

/// <summary>How the kinetic energy K(p) of the Hamiltonian H(q, p) = K(p) + V(q) is modelled.</summary>
public enum KineticEnergyKind
{
    /// <summary>
    /// The fixed-kinetic NHF of Souveton et al. (AISTATS 2024): K(p) = p^T M^-1 p / 2 with a diagonal mass M
    /// chosen by <see cref="MassKind"/>. The learned potential V then reads as an energy landscape of the data.
    /// </summary>
    Quadratic,

    /// <summary>The original NHF of Toth et al. (ICLR 2020): K(p) is a multilayer perceptron.</summary>
    Neural,
}
