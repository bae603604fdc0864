using static TorchSharp.torch;

namespace Microsoft.ML.HamiltonianFlows.Torch;

/// <summary>
/// A kernel density in the flow's whitened coordinates z: p_k(z) = (1/m) sum_i N(z_v; c_i, h^2 I) N(z_c; 0, I), with centres
/// c_i training rows (whitened, and spread once over their lattice cells), z_v the coordinates of the features that vary in
/// training and z_c those of the features constant there, whose density stays the Gaussian stage's as in the flow. A flow
/// fitted to data mixes it into its density with the share <see cref="Weight"/> where its held-out rows ask for it
/// (<see cref="Training.KernelShare"/>): a smooth flow fitted to a hundred rows cannot follow them as closely as a sum of
/// kernels on them, and the held-out likelihood gained 4 to 5.5 nats per row on ionosphere (108 rows) and 0.03 to 0.8
/// elsewhere (docs/anomaly-benchmark.md).
/// </summary>
/// <remarks>
/// A kernel density is its data: a flow that has one carries its m centres, which are training rows up to the Gaussian
/// stage's invertible map, in its weights file (<see cref="Training.FlowTrainingOptions.KernelDensityCentres"/> = 0 keeps
/// them out). Scoring costs one distance per centre and row.
/// </remarks>
public sealed class KernelDensity
{
    private static readonly double LogTwoPi = Math.Log(2 * Math.PI);

    // Entries of the [rows, m] block of exponents computed at once (1 MB in float32): memory bounded whatever the number
    // of points and centres.
    private const long DistanceEntries = 1 << 18;

    // [d] 1 where the feature varies in training, 0 where it is constant; the centres are 0 on the constant ones.
    private readonly Tensor moving;
    private readonly Tensor held;
    private readonly int movingCount;
    // The centres and -|c|^2 / 2, in the precision they were given (the flow's). The exponent -|z - c|^2 / (2 h^2) is
    // formed as (z.c - |c|^2 / 2) / h^2 - |z|^2 / (2 h^2): one matrix product per block of points, whatever the widths. In
    // float32 the cancellation costs about 1e-7 |z|^2 / h^2 of it, 2e-3 nats for the narrowest kernel (h = 0.1) at a point
    // with |z|^2 = 200 (a row 14 standard deviations out).
    private readonly Tensor centres;
    private readonly Tensor negativeHalfNorms;

    /// <summary>
    /// A kernel density with the given centres ([m, d], whitened coordinates), width h and share in the flow's density;
    /// <paramref name="moving"/> ([d], 1 for a feature that varies in training, 0 for one constant there) says which
    /// coordinates the kernels are spread over. The tensors are copied.
    /// </summary>
    internal KernelDensity(Tensor centres, Tensor moving, double width, double weight)
    {
        ArgumentNullException.ThrowIfNull(centres);
        ArgumentNullException.ThrowIfNull(moving);
        if (centres.dim() != 2 || centres.shape[0] < 1 || moving.dim() != 1 || moving.shape[0] != centres.shape[1])
            throw new ArgumentException(
                $"Expected centres of shape [m >= 1, d] and a mask of shape [d], got [{string.Join(", ", centres.shape)}] and [{string.Join(", ", moving.shape)}].");
        if (!(width > 0) || double.IsInfinity(width))
            throw new ArgumentOutOfRangeException(nameof(width), width, "The kernels' width must be positive and finite.");
        if (!(weight >= 0 && weight <= 1))
            throw new ArgumentOutOfRangeException(nameof(weight), weight, "The kernel density's share must lie in [0, 1].");
        using var noGrad = no_grad();
        this.moving = moving.to(centres.dtype, centres.device).detach().clone().DetachFromDisposeScope();
        held = this.moving.SubtractedFrom(1).DetachFromDisposeScope();
        movingCount = (int)Math.Round(this.moving.sum().to(ScalarType.Float64).item<double>());
        this.centres = (centres * this.moving).detach().DetachFromDisposeScope();
        negativeHalfNorms = (this.centres * this.centres).sum(1).Times(-0.5).DetachFromDisposeScope();
        Width = width;
        Weight = weight;
    }

    /// <summary>The number m of centres.</summary>
    public long Count => centres.shape[0];

    /// <summary>The centres c_i, [m, d], in whitened coordinates (0 on the features constant in training).</summary>
    internal Tensor Centres => centres;

    /// <summary>The kernels' standard deviation h in whitened units.</summary>
    public double Width { get; }

    /// <summary>
    /// The share beta of the kernel density in a flow's density: p(x) = (1 - beta) p_model(x) + beta p_k(z(x)) |dz/dx|,
    /// p_model the flow with its Gaussian's share.
    /// </summary>
    public double Weight { get; }

    /// <summary>log p_k(z) for whitened points z of shape [n, d], [n] in z's precision.</summary>
    public Tensor LogDensity(Tensor z) => LogDensities(z, new[] { Width })[0];

    /// <summary>
    /// log p_k(z) for each of several widths at once (the distances are computed once): [widths, n] in z's precision.
    /// </summary>
    internal Tensor LogDensities(Tensor z, IReadOnlyList<double> widths)
    {
        if (z.dim() != 2 || z.shape[1] != centres.shape[1])
            throw new ArgumentException($"Expected points of shape [n, {centres.shape[1]}], got [{string.Join(", ", z.shape)}].", nameof(z));
        using var scope = NewDisposeScope();
        Tensor points = z.to(centres.dtype, centres.device);
        Tensor onMoving = points * moving;
        // The constant features' coordinates keep the Gaussian's standard normal density.
        Tensor onHeld = points * held;
        Tensor heldLogDensity = (onHeld * onHeld).sum(1).Plus((centres.shape[1] - movingCount) * LogTwoPi).Times(-0.5);
        Tensor squaredNorms = (onMoving * onMoving).sum(1);
        long n = points.shape[0], m = centres.shape[0];
        if (n == 0)
            return zeros(new long[] { widths.Count, 0 }, dtype: z.dtype, device: z.device).MoveToOuterDisposeScope();
        long rows = Math.Max(1, DistanceEntries / m);
        var blocks = new List<Tensor>();
        for (long start = 0; start < n; start += rows)
        {
            using var blockScope = NewDisposeScope();
            long count = Math.Min(rows, n - start);
            // z.c - |c|^2 / 2 for every point of the block and centre, [rows, m].
            Tensor exponents = onMoving.narrow(0, start, count).matmul(centres.t()).PlusInPlace(negativeHalfNorms.unsqueeze(0));
            Tensor norms = squaredNorms.narrow(0, start, count);
            blocks.Add(stack(widths.Select(h => LogSumExp(exponents.Times(1 / (h * h))).Plus(norms.Times(-0.5 / (h * h)))
                .Plus(-Math.Log(m) - movingCount * (Math.Log(h) + 0.5 * LogTwoPi))).ToArray()).MoveToOuterDisposeScope());
        }
        return cat(blocks, 1).Plus(heldLogDensity.unsqueeze(0)).to(z.dtype).MoveToOuterDisposeScope();
    }

    // Below this, a term's share of a row's sum (at most e^-80 of its largest) is raised to e^-80 rather than kept exactly: torch's logsumexp leaves the
    // far centres' exponentials as float32 subnormals, whose arithmetic ran about seven times slower (30 to 34 ns per
    // point and centre for kernels of width 0.15 against 4 to 6 ns with the clamp; 2,048 centres in 9 dimensions, AMD EPYC).
    private const double SmallestTerm = -80;

    // log sum_i exp(x_i) along dimension 1 of [rows, m], each term exp(x_i - max) taken as e^-80 below it (an error of at
    // most m e^-80 relative, far below float rounding).
    private static Tensor LogSumExp(Tensor x)
    {
        Tensor max = x.amax(new long[] { 1 }, keepdim: true);
        return x.Plus(max.neg()).Clamp(SmallestTerm, 0).exp_().sum(1).log_().Plus(max.squeeze(1));
    }

    /// <summary>n draws of the kernel density in whitened coordinates, [n, d] in <paramref name="dtype"/>: a centre drawn uniformly plus h times a standard normal on the varying coordinates.</summary>
    internal Tensor Sample(long n, ScalarType dtype, Generator? generator)
    {
        using var scope = NewDisposeScope();
        Tensor chosen = randint(0, centres.shape[0], new[] { n }, dtype: ScalarType.Int64, device: centres.device, generator: generator);
        Tensor spread = randn(new[] { n, centres.shape[1] }, dtype: centres.dtype, device: centres.device, generator: generator);
        return centres.index_select(0, chosen).Plus(spread.Times(Width) * moving).to(dtype).MoveToOuterDisposeScope();
    }

    // Releases the centres: the flow that owns the kernel density calls it when it replaces it or is disposed.
    internal void Release()
    {
        moving.Dispose();
        held.Dispose();
        centres.Dispose();
        negativeHalfNorms.Dispose();
    }
}
