using Microsoft.ML.HamiltonianFlows.Torch;
using static TorchSharp.torch;

namespace Microsoft.ML.HamiltonianFlows.Inference;

/// <summary>
/// The momentum's conditional law r(p | z) in the posterior sampler's phase-space target pi(q) r(p | q). With a fixed
/// quadratic kinetic energy it is the Boltzmann law exp(-K(p)) / Z = N(0, M) of the last Hamiltonian (the law the
/// dynamics preserve, independent of q); with a neural kinetic energy, whose Boltzmann law has no closed-form normaliser,
/// it is the flow's learned Gaussian encoder. Either way it is normalised, so the objective bounds log Z.
/// </summary>
internal sealed class MomentumLaw
{
    private readonly HamiltonianFlow flow;
    private readonly QuadraticKineticEnergy? boltzmann;

    public MomentumLaw(HamiltonianFlow flow)
    {
        this.flow = flow;
        boltzmann = flow.Layers[^1].Hamiltonian.Kinetic as QuadraticKineticEnergy;
    }

    /// <summary>log r(p | z) for batches of shape [n, d]; returns [n].</summary>
    public Tensor LogProbability(Tensor z, Tensor p) =>
        boltzmann is not null ? boltzmann.LogBoltzmann(p) : flow.Encoder.LogProbability(z, p);

    /// <summary>Draws p ~ r(p | z) for each row of z, with log r(p | z), [n].</summary>
    public (Tensor P, Tensor LogProbability) Sample(Tensor z, Generator? generator)
    {
        if (boltzmann is null)
            return flow.Encoder.Sample(z, generator);
        Tensor p = boltzmann.SampleBoltzmann(randn(z.shape, dtype: z.dtype, device: z.device, generator: generator));
        return (p, boltzmann.LogBoltzmann(p));
    }
}
