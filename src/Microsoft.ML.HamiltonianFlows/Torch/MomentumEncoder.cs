using static TorchSharp.torch;

namespace Microsoft.ML.HamiltonianFlows.Torch;

/// <summary>
/// The variational distribution of the auxiliary momentum given the data, enc(p | q) = N(mu(q), diag sigma(q)^2),
/// with mu and log sigma from one multilayer perceptron. Samples are reparameterised (p = mu + sigma * e,
/// e ~ N(0, I)), so the ELBO is differentiable in the encoder's parameters.
/// </summary>
public sealed class MomentumEncoder : nn.Module<Tensor, (Tensor Mean, Tensor LogScale)>
{
    // Keeps sigma within [e^-7, e^5]: a collapsing or exploding scale would make log enc(p|q) non-finite.
    private const double MinLogScale = -7, MaxLogScale = 5;
    private readonly Mlp net;
    private readonly int dimension;

    internal MomentumEncoder(int dimension, IReadOnlyList<int> hidden, Activation activation) : base(nameof(MomentumEncoder))
    {
        this.dimension = dimension;
        net = new Mlp("net", dimension, hidden, 2 * dimension, activation, zeroOutput: true);
        RegisterComponents();
    }

    /// <summary>mu(q) and log sigma(q) for a batch q of shape [n, d].</summary>
    public override (Tensor Mean, Tensor LogScale) forward(Tensor q)
    {
        Tensor[] halves = net.forward(q).split(dimension, -1);
        return (halves[0], halves[1].Clamp(MinLogScale, MaxLogScale));
    }

    /// <summary>
    /// Draws p ~ enc(p | q) and returns it with log enc(p | q) of shape [n], for every coordinate (the flow's own scoring
    /// also proposes N(0, 1) on the coordinates it holds, <see cref="GaussianStage.Varying"/>).
    /// </summary>
    public (Tensor P, Tensor LogProbability) Sample(Tensor q, Generator? generator) => Sample(q, generator, null);

    /// <summary>
    /// <see cref="Sample(Tensor, Generator?)"/> for a flow that holds the coordinates where <paramref name="moving"/> is 0
    /// (null: none); see <see cref="Sample(Tensor, Tensor, Tensor?)"/>.
    /// </summary>
    internal (Tensor P, Tensor LogProbability) Sample(Tensor q, Generator? generator, Tensor? moving) =>
        Sample(q, randn(q.shape, dtype: q.dtype, device: q.device, generator: generator), moving);

    /// <summary>
    /// p = mu(q) + sigma(q) * e for standard-normal draws e of q's shape supplied by the caller (who then decides
    /// how they are generated, e.g. per row for reproducible scoring); returns p with log enc(p | q) of shape [n].
    /// </summary>
    public (Tensor P, Tensor LogProbability) Sample(Tensor q, Tensor e) => Sample(q, e, null);

    /// <summary>
    /// <see cref="Sample(Tensor, Tensor)"/> for a flow that holds the coordinates where <paramref name="moving"/> is 0 (null:
    /// none): the network sees only the moving coordinates, and the held ones' momenta are N(0, 1), the base law that the
    /// dynamics leave them in, so that their terms of the importance weight cancel exactly.
    /// </summary>
    internal (Tensor P, Tensor LogProbability) Sample(Tensor q, Tensor e, Tensor? moving)
    {
        var (mean, logScale) = forward(moving is null ? q : q * moving);
        if (moving is not null)
        {
            mean = mean * moving;
            logScale = logScale * moving;
        }
        Tensor p = mean.Plus(logScale.exp() * e);
        Tensor logProbability = StandardNormal.LogProbability(e) - logScale.sum(-1);
        return (p, logProbability);
    }

    /// <summary>log enc(p | q) for batches q and p of shape [n, d]; returns [n].</summary>
    public Tensor LogProbability(Tensor q, Tensor p)
    {
        var (mean, logScale) = forward(q);
        return StandardNormal.LogProbability((p - mean) * (-logScale).exp()) - logScale.sum(-1);
    }
}
