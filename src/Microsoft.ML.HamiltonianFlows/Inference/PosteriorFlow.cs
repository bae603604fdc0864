using Microsoft.ML.HamiltonianFlows.Torch;
using Microsoft.ML.HamiltonianFlows.Training;
using static TorchSharp.torch;

namespace Microsoft.ML.HamiltonianFlows.Inference;

/// <summary>
/// A Hamiltonian flow fitted to a posterior known up to a constant (see <see cref="PosteriorSampler"/>). A draw maps
/// (q0, p0) ~ N(0, I) to (z, p) by the flow, z to unconstrained u = location + L z (L lower triangular), and u to the parameters
/// theta = c(u). Each draw carries the phase-space importance weight
/// <code>log w = log pi(theta) + log |dtheta/du| + log |det L| + log r(p | z) - log N(q0) - log N(p0)</code>
/// (no flow Jacobian: the leapfrog map preserves volume), whose mean bounds log Z from below and whose log-mean-exp
/// estimates it.
/// </summary>
public sealed class PosteriorFlow : IDisposable
{
    // Rows per torch call when sampling or scoring many points: bounds the memory of the intermediate tensors.
    private const int Chunk = 4096;

    private readonly TargetDensity target;
    private readonly MomentumLaw momentum;

    internal PosteriorFlow(HamiltonianFlow flow, LocationScale locationScale, IReadOnlyList<ParameterConstraint> constraints, TargetDensity target)
    {
        Flow = flow;
        LocationScale = locationScale;
        Constraints = constraints;
        this.target = target;
        momentum = new MomentumLaw(flow);
    }

    /// <summary>The trained flow, in its own coordinates z.</summary>
    public HamiltonianFlow Flow { get; }

    /// <summary>The map u = location + L z from the flow's coordinates to the unconstrained parameters.</summary>
    public LocationScale LocationScale { get; }

    /// <summary>The support of each parameter.</summary>
    public IReadOnlyList<ParameterConstraint> Constraints { get; }

    /// <summary>Number d of parameters.</summary>
    public int Dimension => Flow.Dimension;

    /// <summary>
    /// One entry per report: <see cref="FlowTrainingProgress.Steps"/> counts steps, <see cref="FlowTrainingProgress.TrainingLoss"/>
    /// is the mean negative objective over the steps since the previous report (tempered while annealing; at
    /// beta = 1 it is minus a lower bound on log Z), and there is no validation loss.
    /// </summary>
    public IReadOnlyList<FlowTrainingProgress> History { get; internal set; } = Array.Empty<FlowTrainingProgress>();

    /// <summary>
    /// <paramref name="n"/> draws with their log importance weights against the target (inverse temperature 1), computed
    /// without gradients a block at a time.
    /// </summary>
    public PosteriorSamples Sample(int n, Generator? generator = null)
    {
        if (n < 1)
            throw new ArgumentException($"{nameof(n)} must be at least 1, got {n}.", nameof(n));
        // Checked in long: n d overflowed int, and the array's own limit would fail without naming n.
        if ((long)n * Dimension > Array.MaxLength)
            throw new ArgumentException(
                $"{nameof(n)} = {n} draws of {Dimension} parameters are more values than one array holds; draw in parts, each with its own generator.", nameof(n));
        var values = new double[(long)n * Dimension];
        var logWeights = new double[n];
        using var noGrad = no_grad();
        // In long: start + Chunk passes int's range for an n near it.
        for (long start = 0; start < n; start += Chunk)
        {
            using var scope = NewDisposeScope();
            int count = (int)Math.Min(Chunk, n - start);
            var (logW, theta) = Draw(count, generator, 1, needsGradient: false);
            theta.to(ScalarType.Float64).data<double>().CopyTo(values.AsSpan((int)(start * Dimension), count * Dimension));
            logW.to(ScalarType.Float64).data<double>().CopyTo(logWeights.AsSpan((int)start, count));
        }
        return new PosteriorSamples(values, Dimension, logWeights);
    }

    /// <summary>
    /// The flow's marginal density of theta, [n], in log space, for points theta of shape [n, d] inside the support:
    /// log (1/K) sum_k q(z, p_k) / r(p_k | z) - log |dtheta/dz| with p_k ~ r(p | z), K = <paramref name="momentumSamples"/>.
    /// Like the importance-weighted likelihood of a flow fitted to data, it is a lower bound in expectation that tightens as K grows.
    /// </summary>
    public Tensor LogDensity(Tensor theta, int momentumSamples, Generator? generator = null)
    {
        if (momentumSamples < 1)
            throw new ArgumentException($"{nameof(momentumSamples)} must be at least 1, got {momentumSamples}.", nameof(momentumSamples));
        theta = Flow.Prepare(theta);
        Tensor u = ParameterConstraint.Unconstrain(Constraints, theta);
        Tensor logJacobian = ParameterConstraint.Constrain(Constraints, u).LogJacobian;
        Tensor z = LocationScale.Inverse(u).repeat(momentumSamples, 1);
        Tensor logWeights = Flow.PhaseSpaceLogImportanceWeights(z, momentumSamples, momentum.Sample(z, generator));
        return logWeights.logsumexp(0).Plus(-Math.Log(momentumSamples)) - LocationScale.LogJacobian() - logJacobian;
    }

    /// <summary>The learned potential V(z) of Hamiltonian <paramref name="layer"/> at parameter values theta of shape [n, d], [n].</summary>
    public Tensor PotentialEnergy(Tensor theta, int layer = 0) =>
        Flow.PotentialEnergyAt(LocationScale.Inverse(ParameterConstraint.Unconstrain(Constraints, Flow.Prepare(theta))), layer);

    /// <summary>
    /// n fresh draws (theta, [n, d]) with log w under the target tempered by <paramref name="inverseTemperature"/>:
    /// beta (log pi(theta) + log |dtheta/du|) + log |det L| + log r(p | z) - log N(q0) - log N(p0), [n].
    /// </summary>
    internal (Tensor LogWeights, Tensor Theta) Draw(long n, Generator? generator, double inverseTemperature, bool needsGradient)
    {
        var precision = Flow.Architecture.Precision;
        Tensor q0 = StandardNormal.Sample(n, Dimension, precision, Flow.Device, generator);
        Tensor p0 = StandardNormal.Sample(n, Dimension, precision, Flow.Device, generator);
        var (z, p) = Flow.Forward(q0, p0);
        var (theta, logJacobian) = ParameterConstraint.Constrain(Constraints, LocationScale.forward(z));
        Tensor logTarget = target.Evaluate(theta, needsGradient).Plus(logJacobian);
        if (inverseTemperature != 1)
            logTarget = logTarget.Times(inverseTemperature);
        Tensor logWeights = logTarget.Plus(LocationScale.LogJacobian()).Plus(momentum.LogProbability(z, p))
            - StandardNormal.LogProbability(q0) - StandardNormal.LogProbability(p0);
        return (logWeights, theta);
    }

    /// <summary>Throws naming the first point of <paramref name="theta"/> where the target's gradient is not finite.</summary>
    internal void CheckTargetGradient(Tensor theta) => target.CheckGradient(theta);

    /// <summary>Releases the flow's and the map's tensors.</summary>
    public void Dispose()
    {
        Flow.Dispose();
        LocationScale.Dispose();
    }
}
