using System.Security.Cryptography;
using System.Text;
using Microsoft.ML.HamiltonianFlows.IO;
using static TorchSharp.torch;

namespace Microsoft.ML.HamiltonianFlows.Torch;

/// <summary>
/// Binary format of a flow's weights: the magic "NHFW", a format version, then a payload (the whole
/// <see cref="FlowArchitecture"/> and torch's own state serialisation) with its length before it and its SHA-256
/// after it. A reader rebuilds the flow from the header, so weights can never be loaded into a different
/// architecture, and checks the hash before torch reads a byte, so a damaged file fails with a message instead of
/// loading as a different model.
/// </summary>
/// <remarks>
/// Versions 1 and 2 held flows with a per-feature standardiser in place of the fitted Gaussian stage and a potential
/// without its quadratic part: a different model, which this build does not rebuild. Reading one fails with a message
/// that names its version and asks for the model to be trained again. Version 3 lacks the Gaussian's share of the
/// density (<see cref="HamiltonianFlow.GaussianWeight"/>, added in version 4): it loads with a share of 0, which is the
/// model it was, and scores as before. Versions 3 and 4 have no <see cref="FlowArchitecture.SeparableWells"/> flag in the
/// header (added in version 5): they load as flows without wells, the model they were. Versions 3 to 5 lack the Gaussian
/// stage's tail and its marginals' means and scales (added in version 6): they load with an infinite tail, the plain
/// Gaussian they had, and score as before. Versions 3 to 6 lack the stage's mask of the features that vary in training
/// (<see cref="GaussianStage.Varying"/>, added in version 7), whose flows moved every coordinate: they load with every
/// feature varying, the model they were, and score as before. Version 8 adds, after the torch state, the kernel density
/// (<see cref="HamiltonianFlow.KernelDensity"/>): its number of centres m (0: none), then its width, its share and the
/// centres, m x d values in the flow's precision; earlier versions load without one, the model they were. Version 9
/// resolves <see cref="CovarianceKind.Automatic"/> above <see cref="FlowArchitecture.FullCovarianceMaxDimension"/>
/// features as <see cref="CovarianceKind.LowRank"/> (the stage's basis, its scales and the residual scale are torch
/// state); earlier versions resolved it as <see cref="CovarianceKind.Diagonal"/> and load as that, the model they were.
/// </remarks>
public static class FlowWeightsFormat
{
    /// <summary>The version this build writes (it reads this one and versions 3 to 8).</summary>
    public const int CurrentVersion = 9;

    // The first version with the fitted Gaussian stage: the oldest this build reads.
    private const int FirstGaussianStageVersion = 3;

    // Flows without the Gaussian's share (version 3): read with a share of 0.
    private const int FirstGaussianWeightVersion = 4;

    // The first version whose header says whether the potentials have wells; earlier flows have none.
    private const int FirstWellsVersion = 5;

    // The first version with the Gaussian stage's tail (earlier: the plain Gaussian, an infinite tail).
    private const int FirstTailVersion = 6;

    // The first version with the mask of varying features (earlier flows moved every coordinate).
    private const int FirstVaryingVersion = 7;

    // The first version with the kernel density's block after the torch state (earlier flows had none).
    private const int FirstKernelDensityVersion = 8;

    // The first version whose Automatic covariance means a low rank above FullCovarianceMaxDimension features (earlier: diagonal).
    private const int FirstLowRankVersion = 9;

    // Flows with a per-feature standardiser and V = f(q) (version 1 unverified, version 2 with length and SHA-256).
    private const int LastStandardizerVersion = 2;

    private static readonly byte[] Magic = "NHFW"u8.ToArray();

    /// <summary>Writes <paramref name="flow"/> to <paramref name="stream"/>, leaving the stream open.</summary>
    public static void Save(HamiltonianFlow flow, Stream stream)
    {
        ArgumentNullException.ThrowIfNull(flow);
        ArgumentNullException.ThrowIfNull(stream);
        // Torch writes a disposed module without complaint; what it writes is not the trained flow.
        if (flow.IsDisposed)
            throw new ObjectDisposedException(nameof(HamiltonianFlow), "Cannot save a flow that has been disposed.");
        using var payload = new MemoryStream();
        using (var payloadWriter = new BinaryWriter(payload, Encoding.UTF8, leaveOpen: true))
        {
            WriteArchitecture(payloadWriter, flow.Architecture);
            flow.save(payloadWriter);
            WriteKernelDensity(payloadWriter, flow);
        }
        using var writer = new BinaryWriter(stream, Encoding.UTF8, leaveOpen: true);
        writer.Write(Magic);
        writer.Write(CurrentVersion);
        writer.Write(payload.Length);
        writer.Write(payload.GetBuffer(), 0, (int)payload.Length);
        writer.Write(SHA256.HashData(payload.GetBuffer().AsSpan(0, (int)payload.Length)));
        writer.Flush();
    }

    /// <summary>
    /// Writes <paramref name="flow"/> to the file at <paramref name="path"/> atomically: to a temporary file beside it,
    /// moved into place once complete, so that a failure part-way leaves any earlier file as it was.
    /// </summary>
    public static void Save(HamiltonianFlow flow, string path)
    {
        ArgumentNullException.ThrowIfNull(flow);
        AtomicFile.Write(path, stream => Save(flow, stream));
    }

    /// <summary>Reads a flow written by <see cref="Save(HamiltonianFlow, Stream)"/>, onto <paramref name="device"/> (the CPU when null).</summary>
    /// <exception cref="InvalidDataException">
    /// The stream is not flow weights, has a format version this build does not read (an earlier library's 1 or 2
    /// included), is truncated, or fails its checksum.
    /// </exception>
    public static HamiltonianFlow Load(Stream stream, Device? device = null)
    {
        ArgumentNullException.ThrowIfNull(stream);
        using var reader = new BinaryReader(stream, Encoding.UTF8, leaveOpen: true);
        int version;
        try
        {
            if (!reader.ReadBytes(Magic.Length).AsSpan().SequenceEqual(Magic))
                throw new InvalidDataException("Not Hamiltonian flow weights: the stream does not start with \"NHFW\".");
            version = reader.ReadInt32();
        }
        catch (EndOfStreamException e)
        {
            throw new InvalidDataException($"Hamiltonian flow weights have a corrupt header: {e.Message}", e);
        }
        if (version is >= 1 and <= LastStandardizerVersion)
            throw new InvalidDataException(
                $"Hamiltonian flow weights have format version {version}, written by an earlier release whose flows standardised each " +
                $"feature instead of fitting a Gaussian; this build reads versions {FirstGaussianStageVersion} to {CurrentVersion} only. Train the model again.");
        if (version is < FirstGaussianStageVersion or > CurrentVersion)
            throw new InvalidDataException(
                $"Hamiltonian flow weights have format version {version}; this build reads versions {FirstGaussianStageVersion} to {CurrentVersion}.");
        using var payload = new BinaryReader(VerifiedPayload(reader), Encoding.UTF8);
        return ReadPayload(payload, device, version);
    }

    /// <summary>Reads a flow from the file at <paramref name="path"/>; see <see cref="Load(Stream, Device?)"/>.</summary>
    /// <exception cref="InvalidDataException">The file is not valid flow weights; the message names the file.</exception>
    public static HamiltonianFlow Load(string path, Device? device = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        using var file = File.OpenRead(path);
        try
        {
            return Load(file, device);
        }
        catch (InvalidDataException e)
        {
            throw new InvalidDataException($"Cannot load '{path}': {e.Message}", e);
        }
    }

    /// <summary>The length-prefixed payload of a stream, once its SHA-256 matches.</summary>
    private static MemoryStream VerifiedPayload(BinaryReader reader)
    {
        var payload = new MemoryStream();
        long length = -1;
        try
        {
            length = reader.ReadInt64();
            if (length < 0)
                throw new InvalidDataException($"Hamiltonian flow weights have a corrupt header: a payload of {length} bytes.");
            // Copied in chunks, not allocated up front: a corrupt length must not allocate gigabytes.
            var chunk = new byte[81920];
            while (payload.Length < length)
            {
                int read = reader.Read(chunk, 0, (int)Math.Min(chunk.Length, length - payload.Length));
                if (read == 0)
                    throw new EndOfStreamException();
                payload.Write(chunk, 0, read);
            }
            var expected = reader.ReadBytes(SHA256.HashSizeInBytes);
            if (expected.Length != SHA256.HashSizeInBytes)
                throw new EndOfStreamException();
            if (!SHA256.HashData(payload.GetBuffer().AsSpan(0, (int)payload.Length)).AsSpan().SequenceEqual(expected))
                throw new InvalidDataException("Hamiltonian flow weights are corrupt: their SHA-256 checksum does not match.");
        }
        catch (EndOfStreamException e)
        {
            long read = payload.Length;
            payload.Dispose();
            throw new InvalidDataException(
                $"Hamiltonian flow weights are truncated: the header announces {length} bytes of weights and a checksum; the stream ended after {read}.", e);
        }
        catch
        {
            payload.Dispose();
            throw;
        }
        payload.Position = 0;
        return payload;
    }

    private static HamiltonianFlow ReadPayload(BinaryReader reader, Device? device, int version)
    {
        FlowArchitecture architecture;
        try
        {
            architecture = ReadArchitecture(reader, version);
            architecture.Validate();
        }
        catch (Exception e) when (e is EndOfStreamException or ArgumentException or InvalidDataException)
        {
            throw new InvalidDataException($"Hamiltonian flow weights have a corrupt header: {e.Message}", e);
        }

        var flow = HamiltonianFlow.ToLoadInto(architecture, device ?? CPU);
        try
        {
            if (version >= FirstVaryingVersion)
            {
                flow.load(reader);
                if (version >= FirstKernelDensityVersion)
                    ReadKernelDensity(reader, flow);
                return flow;
            }
            // Earlier versions: every tensor of the flow but those added since, which keep the values of the model they
            // were (no Gaussian share, an infinite tail, every feature varying). Read leniently, then checked as strictly as
            // the current version is: nothing else may be missing, nothing unknown present.
            var added = new HashSet<string> { HamiltonianFlow.GaussianVaryingStateKey };
            if (version < FirstTailVersion)
                added.UnionWith(HamiltonianFlow.GaussianTailStateKeys);
            if (version < FirstGaussianWeightVersion)
                added.Add(HamiltonianFlow.GaussianWeightStateKey);
            var loaded = new Dictionary<string, bool>();
            flow.load(reader, strict: false, loadedParameters: loaded);
            var expected = flow.state_dict().Keys.Where(key => !added.Contains(key)).ToHashSet();
            if (!expected.SetEquals(loaded.Keys) || loaded.ContainsValue(false))
                throw new InvalidDataException(
                    $"Hamiltonian flow weights of version {version} hold the tensors [{string.Join(", ", loaded.Keys)}]; the flow has [{string.Join(", ", expected)}].");
            return flow;
        }
        catch (Exception e)
        {
            flow.Dispose();
            throw new InvalidDataException($"Hamiltonian flow weights are corrupt or truncated: {e.Message}", e);
        }
    }

    private static void WriteKernelDensity(BinaryWriter w, HamiltonianFlow flow)
    {
        KernelDensity? kernels = flow.KernelDensity;
        w.Write(kernels?.Count ?? 0L);
        if (kernels is null)
            return;
        w.Write(kernels.Width);
        w.Write(kernels.Weight);
        bool doubles = flow.Architecture.Precision == ScalarType.Float64;
        using var values = kernels.Centres.to(doubles ? ScalarType.Float64 : ScalarType.Float32, CPU);
        if (doubles)
            foreach (double value in values.data<double>())
                w.Write(value);
        else
            foreach (float value in values.data<float>())
                w.Write(value);
    }

    private static void ReadKernelDensity(BinaryReader r, HamiltonianFlow flow)
    {
        long count = r.ReadInt64();
        if (count == 0)
            return;
        int d = flow.Dimension;
        bool doubles = flow.Architecture.Precision == ScalarType.Float64;
        long bytes = 16 + count * d * (doubles ? 8L : 4L);
        // A corrupt count must not allocate gigabytes: the centres must fit in what is left of the verified payload.
        if (count < 0 || bytes > r.BaseStream.Length - r.BaseStream.Position)
            throw new InvalidDataException($"the kernel density claims {count} centres of {d} values; the file holds {r.BaseStream.Length - r.BaseStream.Position} more bytes");
        double width = r.ReadDouble(), weight = r.ReadDouble();
        var values = new double[count * d];
        for (long i = 0; i < values.LongLength; i++)
            values[i] = doubles ? r.ReadDouble() : r.ReadSingle();
        if (!values.All(double.IsFinite))
            throw new InvalidDataException("the kernel density's centres hold a value that is not finite");
        using var stored = tensor(values, new[] { count, (long)d });
        using var centres = stored.to(flow.Architecture.Precision, flow.Device);
        // The constructor copies the centres and checks the width and the share.
        flow.SetKernelDensity(new KernelDensity(centres, flow.Gaussian.Varying, width, weight));
    }

    private static void WriteArchitecture(BinaryWriter w, FlowArchitecture a)
    {
        w.Write(a.Dimension);
        WriteLayers(w, a.HiddenLayers);
        w.Write(a.EncoderHiddenLayers is not null);
        if (a.EncoderHiddenLayers is not null)
            WriteLayers(w, a.EncoderHiddenLayers);
        w.Write((int)a.Activation);
        w.Write((int)a.Kinetic);
        w.Write((int)a.Mass);
        w.Write(a.LeapfrogSteps);
        w.Write(a.StepSize);
        w.Write(a.LearnStepSize);
        w.Write(a.Hamiltonians);
        w.Write((int)a.Covariance);
        w.Write((int)a.Precision);
        // The option as given (null: by the dimension, as the reader resolves it again).
        w.Write((byte)(a.SeparableWells switch { null => 0, false => 1, true => 2 }));
    }

    // Versions before 5 have no wells flag at the end: their potentials had none. Versions before 9 resolved Automatic
    // as a diagonal Gaussian above FullCovarianceMaxDimension features: read as the Diagonal it was.
    private static FlowArchitecture ReadArchitecture(BinaryReader r, int version)
    {
        FlowArchitecture a = ReadArchitectureFields(r, version);
        return version < FirstLowRankVersion && a.Covariance == CovarianceKind.Automatic && a.Dimension > FlowArchitecture.FullCovarianceMaxDimension
            ? a with { Covariance = CovarianceKind.Diagonal }
            : a;
    }

    // Fields are read in order, so the object initialiser's order is the file's.
    private static FlowArchitecture ReadArchitectureFields(BinaryReader r, int version) => new()
    {
        Dimension = r.ReadInt32(),
        HiddenLayers = ReadLayers(r),
        EncoderHiddenLayers = r.ReadBoolean() ? ReadLayers(r) : null,
        Activation = (Activation)r.ReadInt32(),
        Kinetic = (KineticEnergyKind)r.ReadInt32(),
        Mass = (MassKind)r.ReadInt32(),
        LeapfrogSteps = r.ReadInt32(),
        StepSize = r.ReadDouble(),
        LearnStepSize = r.ReadBoolean(),
        Hamiltonians = r.ReadInt32(),
        Covariance = (CovarianceKind)r.ReadInt32(),
        Precision = (ScalarType)r.ReadInt32(),
        SeparableWells = version < FirstWellsVersion ? false : ReadWells(r),
    };

    private static bool? ReadWells(BinaryReader r) => r.ReadByte() switch
    {
        0 => null,
        1 => false,
        2 => true,
        var other => throw new InvalidDataException($"the separable wells flag is {other}, not 0, 1 or 2"),
    };

    private static void WriteLayers(BinaryWriter w, IReadOnlyList<int> layers)
    {
        w.Write(layers.Count);
        foreach (int width in layers)
            w.Write(width);
    }

    private static int[] ReadLayers(BinaryReader r)
    {
        int count = r.ReadInt32();
        // A corrupt count must not allocate gigabytes before validation can reject it.
        if (count is < 0 or > 1024)
            throw new InvalidDataException($"Hamiltonian flow weights have a corrupt header: {count} hidden layers.");
        var layers = new int[count];
        for (int i = 0; i < count; i++)
            layers[i] = r.ReadInt32();
        return layers;
    }
}
