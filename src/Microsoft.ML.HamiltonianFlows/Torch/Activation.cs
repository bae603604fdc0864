namespace Microsoft.ML.HamiltonianFlows.Torch;

/// <summary>
/// Hidden-layer nonlinearity of the networks. Only smooth functions are offered: the leapfrog integrator
/// uses the input gradient of each energy network, and training differentiates that gradient again.
/// </summary>
public enum Activation
{
    /// <summary>softplus(x) = log(1 + e^x); its derivative is the logistic sigmoid.</summary>
    Softplus,

    /// <summary>Hyperbolic tangent; its derivative is 1 - tanh(x)^2.</summary>
    Tanh,
}
