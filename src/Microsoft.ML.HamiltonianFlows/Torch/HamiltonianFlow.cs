using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.HamiltonianFlows.Torch;

/// <summary>
/// A Neural Hamiltonian Flow (Toth et al., ICLR 2020; fixed-kinetic variant of Souveton et al., AISTATS 2024).
/// Data q are paired with an auxiliary momentum p. Sampling draws (q0, p0) from a standard normal and follows
/// T Hamiltonians with L leapfrog steps each; the map is volume-preserving, so densities need no Jacobian.
/// Training runs the other way: the encoder proposes p given the data, the flow integrates backwards to
/// (q0, p0), and the evidence lower bound E[log N(q0, p0) - log enc(p | q)] is maximised.
/// </summary>
public sealed class HamiltonianFlow : nn.Module
{
    private readonly GaussianStage gaussian;
    private readonly ModuleList<Leapfrog> layers = new();
    private readonly MomentumEncoder encoder;
    // The Gaussian's share alpha of the density: p(x) = (1 - alpha) p_flow(x) + alpha p_stage(x), p_stage the Gaussian
    // stage's own law (N(x; mean, D R D) unless it has heavier tails). 0 until a fit
    // measures it on held-out rows (FlowTrainer); a 0-dimensional buffer, so that it is saved with the weights.
    private readonly Tensor gaussianWeight;
    internal const string GaussianWeightStateKey = nameof(gaussianWeight);
    // The kernel density mixed in with its share beta, where a fit's held-out rows asked for it (null: none). Not part of
    // the torch state: its number of centres is known only once a fit has chosen them (the weights file holds it apart).
    private KernelDensity? kernels;

    /// <summary>The state keys of the Gaussian stage's tail (weights format 6), as the flow's state names them.</summary>
    internal static IEnumerable<string> GaussianTailStateKeys => GaussianStage.TailStateKeys.Select(key => $"{nameof(gaussian)}.{key}");

    /// <summary>The state key of the Gaussian stage's mask of varying features (weights format 7), as the flow's state names it.</summary>
    internal const string GaussianVaryingStateKey = $"{nameof(gaussian)}.{GaussianStage.VaryingStateKey}";

    // Weight initialisation draws from torch's process-wide generator: seeding and building under one lock keep
    // flows created on several threads at once reproducible.
    private static readonly object InitializationLock = new();

    /// <summary>
    /// Builds an untrained flow whose initial weights are determined by <paramref name="seed"/>; safe to call from
    /// several threads at once.
    /// </summary>
    public static HamiltonianFlow Create(FlowArchitecture architecture, int seed, Device? device = null)
    {
        lock (InitializationLock)
        {
            torch.manual_seed(seed);
            return new HamiltonianFlow(architecture, device ?? CPU);
        }
    }

    // A flow whose weights are read next (FlowWeightsFormat): its initial draws are overwritten, but they come from the same
    // global generator, so they are made under the lock too, where they cannot fall between another thread's seeding and
    // its draws in Create.
    internal static HamiltonianFlow ToLoadInto(FlowArchitecture architecture, Device device)
    {
        lock (InitializationLock)
            return new HamiltonianFlow(architecture, device);
    }

    // Weights drawn from torch's global generator: internal, so that users build flows through Create (seeded, thread-safe),
    // FlowTrainer or a weights file.
    internal HamiltonianFlow(FlowArchitecture architecture) : this(architecture, CPU) { }

    internal HamiltonianFlow(FlowArchitecture architecture, Device device) : base(nameof(HamiltonianFlow))
    {
        ArgumentNullException.ThrowIfNull(architecture);
        architecture.Validate();
        Architecture = architecture;
        gaussian = new GaussianStage(architecture.Dimension, architecture.ResolvedCovariance);
        for (int t = 0; t < architecture.Hamiltonians; t++)
            layers.Add(new Leapfrog(architecture));
        encoder = new MomentumEncoder(architecture.Dimension, architecture.EncoderLayers, architecture.Activation);
        gaussianWeight = zeros(Array.Empty<long>());
        register_buffer(GaussianWeightStateKey, gaussianWeight);
        RegisterComponents();
        this.to(architecture.Precision).to(device);
        // The flow owns its state and disposes it itself. Without this, a dispose scope around the caller would dispose,
        // when it ends, the buffers (the Gaussian stage's) and the parameters that the conversion to Float64 made anew.
        foreach (Tensor state in parameters().Concat(buffers()))
            state.DetachFromDisposeScope();
        Device = device;
    }

    /// <summary>Whether <c>Dispose</c> has released the flow's tensors.</summary>
    internal bool IsDisposed { get; private set; }

    /// <summary>Releases the flow's tensors.</summary>
    protected override void Dispose(bool disposing)
    {
        IsDisposed = true;
        if (disposing)
            SetKernelDensity(null);
        base.Dispose(disposing);
    }

    /// <summary>The architecture this flow was built from.</summary>
    public FlowArchitecture Architecture { get; }

    /// <summary>Where the parameters live; inputs are moved here.</summary>
    public Device Device { get; }

    /// <summary>Dimension d of the data.</summary>
    public int Dimension => Architecture.Dimension;

    /// <summary>The fitted Gaussian whose whitened coordinates the dynamics act on (identity until fitted).</summary>
    public GaussianStage Gaussian => gaussian;

    /// <summary>The leapfrog integrators, one per Hamiltonian, in the order sampling applies them.</summary>
    public IReadOnlyList<Leapfrog> Layers => new System.Collections.ObjectModel.ReadOnlyCollection<Leapfrog>(layers);

    /// <summary>The momentum encoder enc(p | q).</summary>
    public MomentumEncoder Encoder => encoder;

    /// <summary>Moves and converts data to this flow's device and precision, checking its shape.</summary>
    public Tensor Prepare(Tensor x)
    {
        if (x.dim() != 2 || x.shape[1] != Dimension)
            throw new ArgumentException($"Expected data of shape [n, {Dimension}], got [{string.Join(", ", x.shape)}].", nameof(x));
        return x.to(Architecture.Precision, Device);
    }

    /// <summary>
    /// Phase-space map of sampling: base (q0, p0) to (qT, pT), in whitened units. Coordinates of features that were
    /// constant in the training rows (<see cref="GaussianStage.Varying"/>) are held where they are.
    /// </summary>
    public (Tensor Q, Tensor P) Forward(Tensor q, Tensor p) => Forward(q, p, Moving());

    /// <summary>Exact inverse of <see cref="Forward(Tensor, Tensor)"/>: (qT, pT) back to (q0, p0).</summary>
    public (Tensor Q, Tensor P) Inverse(Tensor q, Tensor p) => Inverse(q, p, Moving());

    private (Tensor Q, Tensor P) Forward(Tensor q, Tensor p, Tensor? moving)
    {
        CheckPhaseSpace(q, p);
        foreach (Leapfrog layer in layers)
            (q, p) = layer.Forward(q, p, moving);
        return (q, p);
    }

    private (Tensor Q, Tensor P) Inverse(Tensor q, Tensor p, Tensor? moving)
    {
        CheckPhaseSpace(q, p);
        for (int t = layers.Count - 1; t >= 0; t--)
            (q, p) = layers[t].Inverse(q, p, moving);
        return (q, p);
    }

    // The mask of the coordinates the dynamics move, or null when they move all (read once per call: it is a torch read).
    // A feature constant in the training rows has no density to learn: left to the dynamics, its coordinate would be
    // squeezed onto the one value every row shares, buying likelihood that says nothing about the data (39.9 nats per
    // row of the digits' lead over the Gaussian came from pixels never lit in training). Held, its density is the
    // Gaussian stage's.
    private Tensor? Moving() => gaussian.HasConstantFeatures ? gaussian.Varying : null;

    /// <summary>
    /// The share alpha of the fitted Gaussian in the flow's density, p(x) = (1 - alpha) p_flow(x) + alpha p_stage(x), p_stage
    /// the Gaussian stage's own law (N(x; mean, D R D) unless it has heavier tails, <see cref="GaussianStage.Tail"/>), in [0, 1]. Training fits it on its held-out rows (<see cref="Training.GaussianShare"/>): a flow trained on few rows can be sharply
    /// wrong on rows unlike its training rows (ionosphere, 108 rows: held-out log-likelihood 7.4 nats per row below the
    /// Gaussian's while the flow gained on most rows), and the Gaussian's share bounds that loss by log(1 / alpha) while
    /// costing at most -log(1 - alpha) elsewhere. 0 for a flow that was not fitted to data (e.g. the posterior sampler's).
    /// </summary>
    public double GaussianWeight
    {
        get
        {
            // Read from the buffer each time (not cached): loading weights replaces it.
            using var noGrad = no_grad();
            using Tensor stored = gaussianWeight.to(ScalarType.Float64);
            return stored.item<double>();
        }
    }

    /// <summary>
    /// The kernel density mixed into the flow's density, p(x) = (1 - beta) p_model(x) + beta p_k(z(x)) |dz/dx|, p_model the
    /// flow with its Gaussian's share and beta <see cref="KernelDensity.Weight"/>; null where a fit's held-out rows did not
    /// ask for one (<see cref="Training.KernelShare"/>), it was not allowed, or the flow was not fitted to data.
    /// </summary>
    public KernelDensity? KernelDensity => kernels;

    // Replaces (and disposes) the kernel density; the flow owns the one it is given.
    internal void SetKernelDensity(KernelDensity? kernelDensity)
    {
        if (ReferenceEquals(kernels, kernelDensity))
            return;
        kernels?.Release();
        kernels = kernelDensity;
    }

    internal void SetGaussianWeight(double weight)
    {
        if (!(weight >= 0 && weight <= 1))
            throw new ArgumentOutOfRangeException(nameof(weight), weight, "The Gaussian's share must lie in [0, 1].");
        using var noGrad = no_grad();
        using Scalar value = weight.ToScalar();
        gaussianWeight.fill_(value);
    }

    /// <summary>
    /// log w = log N(q0) + log N(p0) - log enc(p | z) + log |dz/dx| for <paramref name="samples"/> momenta per row
    /// (mixed with the Gaussian's N(z) |dz/dx| when <see cref="GaussianWeight"/> is above 0):
    /// each is an unbiased estimate of p(x) in log space. Features on a lattice (<see cref="GaussianStage.HasCells"/>)
    /// are dequantised with a fresh uniform offset per sample, so that p(x) is the density averaged over the row's cell.
    /// Returns [samples, n].
    /// </summary>
    public Tensor LogImportanceWeights(Tensor x, int samples, Generator? generator = null)
    {
        var (rows, w, proposal, moving) = Proposals(x, samples, generator);
        return LogImportanceWeights(rows, w, samples, proposal, moving, GaussianWeight, kernels);
    }

    /// <summary>
    /// The components' log-weights from the same draws, each [samples, n]: the trained flow's alone (alpha = 0), the
    /// Gaussian's alone (alpha = 1), and where <paramref name="candidates"/> are given the kernel density's of those
    /// centres for each of <paramref name="widths"/> ([widths, samples, n]). Training measures alpha and beta with them.
    /// </summary>
    internal (Tensor Flow, Tensor Gaussian, Tensor? Kernels) ComponentLogImportanceWeights(
        Tensor x, int samples, Generator? generator, KernelDensity? candidates = null, IReadOnlyList<double>? widths = null)
    {
        var (rows, w, proposal, moving) = Proposals(x, samples, generator);
        Tensor? kernelWeights = candidates is null ? null : KernelLogWeights(candidates, w, samples, widths ?? new[] { candidates.Width });
        return (LogImportanceWeights(rows, w, samples, proposal, moving, 0, null), LogImportanceWeights(rows, w, samples, proposal, moving, 1, null), kernelWeights);
    }

    /// <summary>log((1 - alpha) w_flow + alpha w_Gaussian), elementwise, from the components' log-weights.</summary>
    internal static Tensor MixLogWeights(Tensor flow, Tensor gaussian, double gaussianWeight) => gaussianWeight switch
    {
        0 => flow,
        1 => gaussian,
        _ => logaddexp(flow.Plus(Math.Log(1 - gaussianWeight)), gaussian.Plus(Math.Log(gaussianWeight))),
    };

    // The rows, their whitened (and dequantised) samples, the momenta proposed for them and the mask of moving coordinates.
    private (Tensor X, Whitened W, (Tensor P, Tensor LogProbability) Proposal, Tensor? Moving) Proposals(Tensor x, int samples, Generator? generator)
    {
        if (samples < 1)
            throw new ArgumentException($"{nameof(samples)} must be at least 1, got {samples}.", nameof(samples));
        x = Prepare(x);
        Whitened w = gaussian.HasCells
            ? WhitenedSamples(x, samples, rand(new[] { samples * x.shape[0], x.shape[1] }, dtype: x.dtype, device: Device, generator: generator))
            : WhitenedSamples(x, samples, null);
        Tensor? moving = Moving();
        return (x, w, encoder.Sample(w.Z, generator, moving), moving);
    }

    /// <summary>
    /// Standard-normal draws per importance sample and row that <see cref="LogImportanceWeights(Tensor, Tensor)"/> takes:
    /// d for the momentum, and d more for the dequantisation offsets when the Gaussian stage has lattice features.
    /// </summary>
    public int NoiseWidth => NoiseWidthWith(gaussian.HasCells);

    private int NoiseWidthWith(bool cells) => cells ? 2 * Dimension : Dimension;

    /// <summary>
    /// <see cref="LogImportanceWeights(Tensor, int, Generator?)"/> with its random draws given as standard normals:
    /// <paramref name="noise"/> has shape [samples, n, <see cref="NoiseWidth"/>]; the first d of each row propose the
    /// momentum, the others (through the normal distribution function) the dequantisation offsets. Returns [samples, n].
    /// </summary>
    public Tensor LogImportanceWeights(Tensor x, Tensor noise)
    {
        x = Prepare(x);
        // Read once: it is a torch call, and this path scores one row at a time for the anomaly detector.
        bool cells = gaussian.HasCells;
        int width = NoiseWidthWith(cells);
        if (noise.dim() != 3 || noise.shape[0] < 1 || noise.shape[1] != x.shape[0] || noise.shape[2] != width)
            throw new ArgumentException(
                $"Expected noise of shape [samples >= 1, {x.shape[0]}, {width}], got [{string.Join(", ", noise.shape)}].", nameof(noise));
        int samples = (int)noise.shape[0];
        Tensor draws = noise.reshape(-1, width).to(x.dtype, Device);
        // Phi(e) of a standard normal e is uniform on (0, 1).
        Whitened w = WhitenedSamples(x, samples, cells ? draws.narrow(1, Dimension, Dimension).Times(1 / Math.Sqrt(2)).erf().Plus(1).Times(0.5) : null);
        Tensor? moving = Moving();
        return LogImportanceWeights(x, w, samples, encoder.Sample(w.Z, draws.narrow(1, 0, Dimension), moving), moving, GaussianWeight, kernels);
    }

    // The whitened rows, once per sample ([samples * n, d], sample-major), each lattice value spread over its cell by
    // the uniforms given, and their log-Jacobians [samples * n]. Without cells every sample of a row is the same point:
    // it is whitened once and repeated, so a full-covariance stage costs one [n, d] x [d, d] product, not one per sample
    // (6% of an image score at K = 16).
    private Whitened WhitenedSamples(Tensor x, int samples, Tensor? uniform)
    {
        if (uniform is null)
        {
            var (z, logJacobian) = gaussian.Whiten(x);
            return samples > 1 ? new(z.repeat(samples, 1), logJacobian.repeat(samples), true) : new(z, logJacobian, true);
        }
        var (dequantized, cellLogJacobian) = gaussian.Whiten(gaussian.Dequantize(samples > 1 ? x.repeat(samples, 1) : x, uniform));
        return new(dequantized, cellLogJacobian, false);
    }

    // Whitened samples z and log |dz/dx| of each, [samples * n, d] and [samples * n]; Repeated when every sample of a row
    // is the row's one point.
    private readonly record struct Whitened(Tensor Z, Tensor LogJacobian, bool Repeated);

    // x holds the rows; w their whitened samples; (p, logEncoder) the momenta proposed for them; moving the mask of the
    // coordinates the dynamics move (null: all); kernelDensity the kernel density mixed in with its share (null: none).
    private Tensor LogImportanceWeights(
        Tensor x, Whitened w, int samples, (Tensor P, Tensor LogProbability) proposal, Tensor? moving, double gaussianWeight, KernelDensity? kernelDensity)
    {
        // Each component only where it has a share: the flow is not integrated where the Gaussian is the whole density.
        Tensor logWeights = gaussianWeight switch
        {
            0 => FlowLogWeights(w, samples, proposal, moving),
            1 => GaussianLogWeights(w, samples),
            _ => MixLogWeights(FlowLogWeights(w, samples, proposal, moving), GaussianLogWeights(w, samples), gaussianWeight),
        };
        // Each importance sample's kernel density at the same (dequantised) point: the mixture's weight stays an unbiased
        // estimate of the mixture's density.
        if (kernelDensity is { Weight: > 0 })
            logWeights = MixLogWeights(logWeights, KernelLogWeights(kernelDensity, w, samples, new[] { kernelDensity.Width })[0], kernelDensity.Weight);
        // A finite row far outside the data (|x| near float's limit) overflows along the way, and inf - inf makes
        // NaN; its weight has underflowed to zero, so its log is -inf. Rows with a NaN or infinite value stay NaN.
        return logWeights.Fill(logWeights.isnan() & x.isfinite().all(1), double.NegativeInfinity);
    }

    // The kernel density's log-weights p_k(z) |dz/dx| at each of the widths, [widths, samples, n]. Where every sample of a
    // row is the same point (no lattice features) its kernels are summed once and repeated: each costs a distance to every
    // centre.
    private static Tensor KernelLogWeights(KernelDensity kernelDensity, Whitened w, int samples, IReadOnlyList<double> widths)
    {
        if (!w.Repeated)
            return kernelDensity.LogDensities(w.Z, widths).Plus(w.LogJacobian.unsqueeze(0)).view(widths.Count, samples, -1);
        long n = w.Z.shape[0] / samples;
        Tensor once = kernelDensity.LogDensities(w.Z.narrow(0, 0, n), widths).Plus(w.LogJacobian.narrow(0, 0, n).unsqueeze(0));
        return once.unsqueeze(1).expand(widths.Count, samples, n);
    }

    // The trained flow's log-weights and the fitted Gaussian's, [samples, n], both densities of x.
    private Tensor FlowLogWeights(Whitened w, int samples, (Tensor P, Tensor LogProbability) proposal, Tensor? moving) =>
        PhaseSpaceLogImportanceWeights(w.Z, samples, proposal, moving).Plus(w.LogJacobian.view(samples, -1));

    private Tensor GaussianLogWeights(Whitened w, int samples) =>
        StandardNormal.LogProbability(w.Z).Plus(w.LogJacobian).view(samples, -1);

    /// <summary>
    /// log N(q0) + log N(p0) - log r(p | z) for flow-coordinate points z (each row repeated once per sample, sample-major)
    /// and momenta p proposed for them by any proposal r: [samples, n], each an unbiased estimate of the flow's density
    /// of z in log space. The posterior sampler uses it with its own momentum law; the Gaussian stage is not involved.
    /// The dynamics move the coordinates where <paramref name="moving"/> is 1 (null: all).
    /// </summary>
    internal Tensor PhaseSpaceLogImportanceWeights(Tensor z, int samples, (Tensor P, Tensor LogProbability) proposal, Tensor? moving = null)
    {
        var (p, logProposal) = proposal;
        long n = z.shape[0] / samples;
        var (q0, p0) = Inverse(z, p, moving);
        return (StandardNormal.LogProbability(q0).Plus(StandardNormal.LogProbability(p0)) - logProposal).view(samples, n);
    }

    /// <summary>The evidence lower bound per row, [n]: the training objective (one momentum sample).</summary>
    public Tensor Elbo(Tensor x, Generator? generator = null) => LogImportanceWeights(x, 1, generator).squeeze(0);

    /// <summary>
    /// Importance-weighted log-likelihood per row, log (1/K) sum_k w_k, [n]. It equals the ELBO for K = 1, never
    /// decreases in expectation as K grows, and tends to log p(x).
    /// </summary>
    public Tensor LogLikelihood(Tensor x, int samples, Generator? generator = null) => LogLikelihood(x, samples, generator, kernels);

    // The same with another kernel density in place of the flow's (null: none), its share and width its own.
    internal Tensor LogLikelihood(Tensor x, int samples, Generator? generator, KernelDensity? kernelDensity)
    {
        var (rows, w, proposal, moving) = Proposals(x, samples, generator);
        return LogImportanceWeights(rows, w, samples, proposal, moving, GaussianWeight, kernelDensity).logsumexp(0).Plus(-Math.Log(samples));
    }

    /// <summary>
    /// <see cref="LogLikelihood(Tensor, int, Generator?)"/> with the encoder's standard-normal draws given as
    /// <paramref name="noise"/> of shape [samples, n, <see cref="NoiseWidth"/>] (d, or 2d where the stage has lattice features:
    /// <see cref="LogImportanceWeights(Tensor, Tensor)"/>), so that a caller can make each row's estimate reproducible.
    /// </summary>
    public Tensor LogLikelihood(Tensor x, Tensor noise) =>
        LogImportanceWeights(x, noise).logsumexp(0).Plus(-Math.Log(noise.shape[0]));

    /// <summary>
    /// n draws from the model: data-space q of shape [n, d] and the momentum p (whitened units). A feature that was
    /// constant in the training rows is drawn as its training value.
    /// </summary>
    public (Tensor Q, Tensor P) Sample(long n, Generator? generator = null)
    {
        if (n < 0)
            throw new ArgumentException($"{nameof(n)} must not be negative, got {n}.", nameof(n));
        Tensor q0 = StandardNormal.Sample(n, Dimension, Architecture.Precision, Device, generator);
        Tensor p0 = StandardNormal.Sample(n, Dimension, Architecture.Precision, Device, generator);
        Tensor? moving = Moving();
        // The stage scores a constant feature with a conventional scale only so that every row has a density; its draws are the
        // value the rows had (the held coordinate at 0 maps back to the feature's mean).
        if (moving is not null)
            q0 = q0 * moving;
        double share = GaussianWeight;
        // With the whole share (a fit that kept its untrained flow) every draw is the Gaussian's base point: the dynamics
        // would be integrated only to be discarded.
        var (q, p) = share >= 1 ? (q0, p0) : Forward(q0, p0, moving);
        if (share > 0)
        {
            // Each draw comes from the Gaussian with probability alpha: its base point q0 is already a draw of N(0, I).
            Tensor fromGaussian = rand(new[] { n, 1L }, dtype: Architecture.Precision, device: Device, generator: generator).Below(share);
            q = where(fromGaussian, q0, q);
            p = where(fromGaussian, p0, p);
        }
        if (kernels is { Weight: > 0 })
        {
            // And from the kernel density with probability beta: a centre plus a kernel's spread.
            Tensor fromKernels = rand(new[] { n, 1L }, dtype: Architecture.Precision, device: Device, generator: generator).Below(kernels.Weight);
            q = where(fromKernels, kernels.Sample(n, Architecture.Precision, generator).to(Device), q);
        }
        return (gaussian.Quantize(gaussian.Inverse(q)), p);
    }

    /// <summary>
    /// The learned potential V(q) of Hamiltonian <paramref name="layer"/> at data points x, [n], over the coordinates the
    /// dynamics move (those of features constant in training held at 0).
    /// </summary>
    public Tensor PotentialEnergyAt(Tensor x, int layer = 0) =>
        Layer(layer).Hamiltonian.Potential.forward(OnMoving(gaussian.forward(Prepare(x)), Moving()));

    /// <summary>The kinetic energy K(p) of Hamiltonian <paramref name="layer"/> at momenta p, [n], over the moving coordinates.</summary>
    public Tensor KineticEnergyAt(Tensor p, int layer = 0) => Layer(layer).Hamiltonian.Kinetic.forward(OnMoving(Prepare(p), Moving()));

    private Leapfrog Layer(int layer) => layer >= 0 && layer < layers.Count ? layers[layer]
        : throw new ArgumentOutOfRangeException(nameof(layer), layer, $"The flow has {layers.Count} Hamiltonians (0-based layers).");

    // Phase-space points with the held coordinates at 0: where the energies that move the others are evaluated.
    private static Tensor OnMoving(Tensor point, Tensor? moving) => moving is null ? point : point * moving;

    /// <summary>
    /// The energy of each Hamiltonian along the sampling trajectory from (q0, p0) (whitened units): returns
    /// [T (L + 1), n], H_t(q, p) at the start of layer t and after each of its L steps, over the coordinates the dynamics
    /// move. A symplectic integrator keeps each block nearly constant; drift grows as eps^2.
    /// </summary>
    public Tensor EnergyAlongTrajectory(Tensor q0, Tensor p0)
    {
        Tensor q = Prepare(q0), p = Prepare(p0);
        Tensor? moving = Moving();
        var energies = new List<Tensor>();
        foreach (Leapfrog layer in layers)
            (q, p) = layer.Trace(q, p, moving, (qs, ps) => energies.Add(layer.Hamiltonian.forward(OnMoving(qs, moving), OnMoving(ps, moving))));
        return stack(energies);
    }

    /// <summary>Number of trained parameters (the step size included when learned).</summary>
    public long ParameterCount => parameters().Sum(t => t.numel());

    // Checked here, not left to torch, whose broadcasting error carries a page of native stack frames.
    private void CheckPhaseSpace(Tensor q, Tensor p)
    {
        if (q.dim() != 2 || q.shape[1] != Dimension || !q.shape.SequenceEqual(p.shape))
            throw new ArgumentException(
                $"Expected q and p of one shape [n, {Dimension}], got [{string.Join(", ", q.shape)}] and [{string.Join(", ", p.shape)}].");
    }

}
