using Microsoft.ML.HamiltonianFlows.Training;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.HamiltonianFlows;
using Microsoft.ML.HamiltonianFlows.Torch;
using Microsoft.ML.Runtime;
using Microsoft.ML.Trainers;
using static TorchSharp.torch;

[assembly: LoadableClass(typeof(HamiltonianFlowModelParameters), null, typeof(SignatureLoadModel),
    "Hamiltonian flow model parameters", HamiltonianFlowModelParameters.LoaderSignature)]

namespace Microsoft.ML.HamiltonianFlows;

/// <summary>
/// A trained Neural Hamiltonian Flow as ML.NET model parameters: the density model behind
/// <see cref="HamiltonianFlowTransformer"/> and <see cref="HamiltonianFlowAnomalyTransformer"/>.
/// </summary>
/// <remarks>
/// Log-likelihoods are importance-weighted estimates, log (1/K) sum_k w_k with K = <see cref="ScoringImportanceSamples"/>
/// momenta per row. The momenta of a row are drawn from a generator seeded by <see cref="ScoringSeed"/> and the row's
/// own values, so scoring is deterministic: a row gets the same momenta in any batch or position, in <c>Transform</c>
/// and in a <c>PredictionEngine</c>, before and after a save and load, and the same value up to float rounding (oneMKL
/// rounds products of different row counts differently in the last bits: about 1e-5 relative at most in the tests;
/// the same block of rows, or a save and load, agrees bit for bit).
/// </remarks>
public sealed class HamiltonianFlowModelParameters : ModelParametersBase<float>, IDisposable
{
    internal const string LoaderSignature = "HamiltonianFlowParams";
    private const string RegistrationName = nameof(HamiltonianFlowModelParameters);
    private const string WeightsStreamName = "FlowWeights";

    // 0x00020001: flows with a fitted Gaussian stage (FlowWeightsFormat version 3). Version 0x00010001 held flows with a
    // per-feature standardiser, a different model this build does not read: such a file fails here, naming both versions.
    internal static readonly ModelVersion Version = new(
        ModelSignature: "HFLOWPRM", VerWrittenCur: 0x00020001, VerReadableCur: 0x00020001, VerWeCanReadBack: 0x00020001,
        LoaderSignature: LoaderSignature);

    // TorchSharp modules are not documented as safe for concurrent calls; cursors of one model share it.
    private readonly object flowLock = new();
    private readonly HamiltonianFlow flow;
    // Set under flowLock: a call that reaches the flow after Dispose would otherwise fail inside TorchSharp ("Tensor
    // invalid -- empty handle"), which names neither the model nor why.
    private bool disposed;
    // Read once: a torch call per scored row outside the lock would race with the other cursors' calls.
    private readonly int noiseWidth;

    internal HamiltonianFlowModelParameters(IHostEnvironment env, HamiltonianFlow flow, int importanceSamples, ulong scoringSeed)
        : base(env, RegistrationName)
    {
        Host.CheckValue(flow, nameof(flow));
        Host.CheckParam(importanceSamples >= 1, nameof(importanceSamples), "must be at least 1");
        this.flow = flow;
        ScoringImportanceSamples = importanceSamples;
        ScoringSeed = scoringSeed;
        noiseWidth = flow.NoiseWidth;
    }

    // Takes an IHost, not an IHostEnvironment: ML.NET's component catalog refuses a class whose constructor and
    // Create method have the same signature and visibility.
    private HamiltonianFlowModelParameters(IHost host, ModelLoadContext ctx)
        : base(host, RegistrationName, ctx)
    {
        // *** Binary format ***
        // int: importance samples K used for scoring
        // ulong: scoring seed
        // stream FlowWeights: the flow in FlowWeightsFormat (architecture + torch state)
        ScoringImportanceSamples = ctx.Reader.ReadInt32();
        Host.CheckDecode(ScoringImportanceSamples >= 1, "the number of importance samples must be at least 1");
        ScoringSeed = ctx.Reader.ReadUInt64();
        HamiltonianFlow? loaded = null;
        // Inside ML.NET's Load a damaged stream is a FormatException, as ML.NET's own checks and the version check throw;
        // the engine's FlowWeightsFormat.Load and LoadVerified throw InvalidDataException (docs/api.md, Saving and loading).
        try
        {
            if (!ctx.TryLoadBinaryStream(WeightsStreamName, r => loaded = FlowWeightsFormat.Load(r.BaseStream)))
                throw Host.ExceptDecode($"The model has no '{WeightsStreamName}' stream.");
        }
        catch (InvalidDataException e)
        {
            throw new FormatException(e.Message, e);
        }
        flow = loaded!;
        noiseWidth = flow.NoiseWidth;
    }

    private static HamiltonianFlowModelParameters Create(IHostEnvironment env, ModelLoadContext ctx)
    {
        Contracts.CheckValue(env, nameof(env));
        env.CheckValue(ctx, nameof(ctx));
        MLNetVersionGuard.EnsureSupported();
        Version.CheckAtModel(ctx);
        return new HamiltonianFlowModelParameters(env.Register(RegistrationName), ctx);
    }

    /// <summary>Importance samples K per row when scoring.</summary>
    public int ScoringImportanceSamples { get; }

    /// <summary>Seed that, with a row's values, determines the momenta drawn to score it.</summary>
    public ulong ScoringSeed { get; }

    /// <summary>Dimension d of the data.</summary>
    public int Dimension => flow.Dimension;

    /// <summary>The architecture of the flow (network widths, kinetic energy, leapfrog steps, ...).</summary>
    public FlowArchitecture Architecture => flow.Architecture;

    /// <summary>Number of trained parameters of the flow.</summary>
    public long ParameterCount => Read(f => f.ParameterCount);

    /// <summary>
    /// The fitted Gaussian's share alpha of the scored density, (1 - alpha) p_flow + alpha p_Gaussian (the fitted Gaussian's
    /// law, with its heavier tails where it has them: <see cref="GaussianTail"/>), measured on the rows the fit held out (0 when none were); see <see cref="Torch.HamiltonianFlow.GaussianWeight"/>.
    /// </summary>
    public double GaussianWeight => Read(f => f.GaussianWeight);

    /// <summary>
    /// The kernel density's share beta of the scored density, (1 - beta) p_model + beta p_kernels, measured on the rows the fit
    /// held out; 0 where they did not ask for one or it was not allowed. See <see cref="Torch.HamiltonianFlow.KernelDensity"/>.
    /// </summary>
    public double KernelDensityWeight => Read(f => f.KernelDensity?.Weight ?? 0);

    /// <summary>
    /// How many training rows the model holds as the kernel density's centres (0 without one); its saved file holds them too
    /// (<see cref="HamiltonianFlowOptionsBase.KernelDensityCentres"/>).
    /// </summary>
    public long KernelDensityCentres => Read(f => f.KernelDensity?.Count ?? 0);

    /// <summary>
    /// The tail c of the fitted Gaussian's marginals t = c asinh(u / c), chosen on held-out training rows; +infinity for the
    /// plain Gaussian. See <see cref="Torch.GaussianStage"/>.
    /// </summary>
    public double GaussianTail => Read(f => f.Gaussian.Tail);

    // The flow itself, shared by every transformer made from this model: internal, since disposing or training it would
    // change them all. Users who want the engine's API train with FlowTrainer or load a weights file.
    internal HamiltonianFlow Flow => Live;

    // A value of the live flow, read under flowLock (a concurrent Dispose would free its tensors mid-read).
    private T Read<T>(Func<HamiltonianFlow, T> value)
    {
        lock (flowLock)
            return value(Live);
    }

    // The flow, for a caller that holds flowLock (or reads no tensor), once it is known not to be disposed.
    private HamiltonianFlow Live => disposed
        ? throw new ObjectDisposedException(nameof(HamiltonianFlowModelParameters),
            "This Hamiltonian flow model was disposed, by itself or by a transformer that holds it: the transformer it was fitted as, and " +
            "every transformer made from that by WithThreshold or ChangeModelThreshold, share one model, so dispose it once, after the last use of any of them.")
        : flow;

    /// <summary>Anomaly detection: the score is a negative log-likelihood.</summary>
    protected override PredictionKind PredictionKind => PredictionKind.AnomalyDetection;

    /// <summary>
    /// Log-likelihoods, in nats and data units, of the rows stored back to back in <paramref name="rows"/>
    /// (n rows of d values) into <paramref name="result"/> (n values): NaN for a row with a non-finite value.
    /// One torch call scores all the finite rows.
    /// </summary>
    internal void LogLikelihood(ReadOnlySpan<float> rows, Span<float> result)
    {
        int d = Dimension;
        Host.Check(rows.Length == result.Length * d, "rows and result sizes do not match");
        var finite = new List<int>(result.Length);
        for (int i = 0; i < result.Length; i++)
        {
            if (FiniteValues.AllFinite(rows.Slice(i * d, d)))
                finite.Add(i);
            else
                result[i] = float.NaN;
        }
        int n = finite.Count;
        if (n == 0)
            return;

        var x = new float[n * d];
        int width = noiseWidth;
        // In long: a model file of an earlier release may hold a K above today's bound on the option.
        var noise = new float[(long)ScoringImportanceSamples * n * width];
        for (int j = 0; j < n; j++)
        {
            var row = rows.Slice(finite[j] * d, d);
            row.CopyTo(x.AsSpan(j * d));
            MomentumNoise.Fill(ScoringSeed, row, ScoringImportanceSamples, width, noise, j * width, n * width);
        }
        float[] values;
        lock (flowLock)
        {
            using var scope = NewDisposeScope();
            // Inference mode, not only no_grad: no graph and no version counters on the intermediate tensors.
            using var inference = inference_mode();
            Tensor logLikelihood = Live.LogLikelihood(tensor(x, new long[] { n, d }), tensor(noise, new long[] { ScoringImportanceSamples, n, width }));
            values = logLikelihood.to(ScalarType.Float32).cpu().data<float>().ToArray();
        }
        for (int j = 0; j < n; j++)
            result[finite[j]] = values[j];
    }

    /// <summary>
    /// The learned potential energy V(q) of the first Hamiltonian at each of the points stored back to back in
    /// <paramref name="points"/> (a multiple of d values, in data units). V acts on standardised coordinates; its
    /// value is the flow's internal energy, defined up to an additive constant.
    /// </summary>
    /// <exception cref="ArgumentException">The number of values is not a positive multiple of d.</exception>
    public float[] Potential(ReadOnlySpan<float> points)
    {
        int d = Dimension;
        if (points.Length == 0 || points.Length % d != 0)
            throw new ArgumentException($"Expected a positive multiple of the dimension {d} values, got {points.Length}.", nameof(points));
        lock (flowLock)
        {
            using var scope = NewDisposeScope();
            using var noGrad = no_grad();
            return Live.PotentialEnergyAt(tensor(points.ToArray(), new long[] { points.Length / d, d }))
                .to(ScalarType.Float32).cpu().data<float>().ToArray();
        }
    }

    // Rows drawn per torch call: the integration's temporaries (rows x the widest layer, per leapfrog step) stay bounded
    // whatever the count. Blocks draw from one generator in turn; a count up to one block draws as one call did before.
    private const int SampleBlockRows = 65_536;

    /// <summary>
    /// Draws <paramref name="count"/> points from the model with a generator seeded by <paramref name="seed"/>: count x d values
    /// (the caller checks that they fit in one array).
    /// </summary>
    internal float[] Sample(int count, ulong seed)
    {
        int d = Dimension;
        var values = new float[(long)count * d];
        lock (flowLock)
        {
            var live = Live;
            using var generator = new TorchSharp.torch.Generator(seed, live.Device);
            // In long: start + SampleBlockRows passes int's range for a count near it (d = 1).
            for (long start = 0; start < count; start += SampleBlockRows)
            {
                using var scope = NewDisposeScope();
                using var noGrad = no_grad();
                int rows = (int)Math.Min(SampleBlockRows, count - start);
                float[] block = live.Sample(rows, generator).Q.to(ScalarType.Float32).cpu().data<float>().ToArray();
                Array.Copy(block, 0, values, (long)start * d, block.Length);
            }
        }
        return values;
    }

    /// <summary>Throws <see cref="ObjectDisposedException"/> once the model is disposed.</summary>
    internal void ThrowIfDisposed()
    {
        lock (flowLock)
            _ = Live;
    }

    /// <summary>Writes the scoring settings and the flow's weights; ML.NET calls it when saving a model.</summary>
    protected override void SaveCore(ModelSaveContext ctx)
    {
        base.SaveCore(ctx);
        ctx.SetVersionInfo(Version.ToVersionInfo());
        ctx.Writer.Write(ScoringImportanceSamples);
        ctx.Writer.Write(ScoringSeed);
        ctx.SaveBinaryStream(WeightsStreamName, w =>
        {
            w.Flush();
            lock (flowLock)
                FlowWeightsFormat.Save(Live, w.BaseStream);
        });
    }

    /// <summary>
    /// Releases the flow's native tensors; a second call does nothing. Every transformer that holds this model (see
    /// <see cref="HamiltonianFlowAnomalyTransformer.WithThreshold(float)"/>) then throws <see cref="ObjectDisposedException"/> when it scores.
    /// </summary>
    public void Dispose()
    {
        lock (flowLock)
        {
            if (disposed)
                return;
            disposed = true;
            flow.Dispose();
        }
    }
}
