using System.Text;
using static TorchSharp.torch;

namespace Microsoft.ML.HamiltonianFlows.Torch;

/// <summary>
/// Binary format of a flow's weights: the magic "NHFW", a format version, the whole
/// <see cref="FlowArchitecture"/>, then torch's own state serialisation. A reader rebuilds the flow from the
/// header, so weights can never be loaded into a different architecture.
/// </summary>
public static class FlowWeightsFormat
{
    /// <summary>The version this build writes; it reads this version only.</summary>
    public const int CurrentVersion = 1;

    private static readonly byte[] Magic = "NHFW"u8.ToArray();

    /// <summary>Writes <paramref name="flow"/> to <paramref name="stream"/>, leaving the stream open.</summary>
    public static void Save(HamiltonianFlow flow, Stream stream)
    {
        ArgumentNullException.ThrowIfNull(flow);
        ArgumentNullException.ThrowIfNull(stream);
        using var writer = new BinaryWriter(stream, Encoding.UTF8, leaveOpen: true);
        writer.Write(Magic);
        writer.Write(CurrentVersion);
        WriteArchitecture(writer, flow.Architecture);
        flow.save(writer);
        writer.Flush();
    }

    /// <summary>Reads a flow written by <see cref="Save"/>, onto <paramref name="device"/> (the CPU when null).</summary>
    /// <exception cref="InvalidDataException">The stream is not flow weights, or has another format version.</exception>
    public static HamiltonianFlow Load(Stream stream, Device? device = null)
    {
        ArgumentNullException.ThrowIfNull(stream);
        using var reader = new BinaryReader(stream, Encoding.UTF8, leaveOpen: true);
        FlowArchitecture architecture;
        try
        {
            if (!reader.ReadBytes(Magic.Length).AsSpan().SequenceEqual(Magic))
                throw new InvalidDataException("Not Hamiltonian flow weights: the stream does not start with \"NHFW\".");
            int version = reader.ReadInt32();
            if (version != CurrentVersion)
                throw new InvalidDataException(
                    $"Hamiltonian flow weights have format version {version}; this build reads version {CurrentVersion}.");
            architecture = ReadArchitecture(reader);
            architecture.Validate();
        }
        catch (Exception e) when (e is EndOfStreamException or ArgumentException)
        {
            throw new InvalidDataException($"Hamiltonian flow weights have a corrupt header: {e.Message}", e);
        }

        var flow = new HamiltonianFlow(architecture, device ?? CPU);
        try
        {
            flow.load(reader);
            return flow;
        }
        catch (Exception e)
        {
            flow.Dispose();
            throw new InvalidDataException($"Hamiltonian flow weights are corrupt or truncated: {e.Message}", e);
        }
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
        w.Write(a.Standardize);
        w.Write(a.StandardizedScale);
        w.Write((int)a.Precision);
    }

    private static FlowArchitecture ReadArchitecture(BinaryReader r) => new()
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
        Standardize = r.ReadBoolean(),
        StandardizedScale = r.ReadDouble(),
        Precision = (ScalarType)r.ReadInt32(),
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
