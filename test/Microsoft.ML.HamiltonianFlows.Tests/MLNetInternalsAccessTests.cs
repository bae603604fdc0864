using System.IO.Compression;
using System.Reflection;
using Xunit;

namespace Microsoft.ML.HamiltonianFlows.Tests;

/// <summary>
/// The library compiles against publicized ML.NET and declares [IgnoresAccessChecksTo]; these tests run code
/// that uses ML.NET members that are internal in the real assemblies (RepositoryWriter/Reader, the
/// ModelSaveContext and ModelLoadContext constructors, Writer/Reader, SetVersionInfo, CheckAtModel, Done,
/// VersionInfo), so they fail with MethodAccessException/FieldAccessException if run-time access is lost.
/// </summary>
public class MLNetInternalsAccessTests
{
    private static readonly ModelVersion s_version = new(
        ModelSignature: "HFTESTMD", VerWrittenCur: 0x00010002, VerReadableCur: 0x00010001, VerWeCanReadBack: 0x00010001,
        LoaderSignature: "HamiltonianFlowsTest");

    private static byte[] SaveSample(ModelVersion version)
    {
        using var stream = new MemoryStream();
        ModelFormat.Save(stream, version, writer =>
        {
            writer.Write(784);
            writer.Write(0.125f);
            writer.Write("leapfrog");
            foreach (var x in new[] { -1.5, 0.0, 2.25 })
                writer.Write(x);
        });
        return stream.ToArray();
    }

    private static (int, float, string, double[]) ReadSample(BinaryReader reader) =>
        (reader.ReadInt32(), reader.ReadSingle(), reader.ReadString(),
         new[] { reader.ReadDouble(), reader.ReadDouble(), reader.ReadDouble() });

    [Fact]
    public void ModelFormatRoundTripsValuesThroughMLNetModelContexts()
    {
        var bytes = SaveSample(s_version);

        var (dimension, stepSize, integrator, values) = ModelFormat.Load(new MemoryStream(bytes), s_version, ReadSample);

        Assert.Equal(784, dimension);
        Assert.Equal(0.125f, stepSize);
        Assert.Equal("leapfrog", integrator);
        Assert.Equal(new[] { -1.5, 0.0, 2.25 }, values);
    }

    [Fact]
    public void ModelFormatWritesMLNetRepositoryWithHeaderNamingThisAssembly()
    {
        var bytes = SaveSample(s_version);

        using var zip = new ZipArchive(new MemoryStream(bytes), ZipArchiveMode.Read);
        var names = zip.Entries.Select(e => e.FullName.Replace('\\', '/')).ToList();
        Assert.Contains("Model/Model.key", names);
        Assert.Contains("TrainingInfo/Version.txt", names);

        var entry = zip.Entries.Single(e => e.FullName.Replace('\\', '/') == "Model/Model.key");
        using var content = new MemoryStream();
        using (var entryStream = entry.Open())
            entryStream.CopyTo(content);
        var raw = content.ToArray();
        // ML.NET's 256-byte header: the file signature "ML\0MODEL" at 0, the model signature at 0x40,
        // the model's written and readable versions at 0x48 and 0x4C.
        Assert.Equal("ML\0MODEL"u8.ToArray(), raw[..8]);
        Assert.Equal("HFTESTMD"u8.ToArray(), raw[0x40..0x48]);
        Assert.Equal(0x00010002u, BitConverter.ToUInt32(raw, 0x48));
        Assert.Equal(0x00010001u, BitConverter.ToUInt32(raw, 0x4C));
        // The loader assembly (UTF-16, position and size at 0x90 and 0x98) is the simple name, which is
        // what lets ML.NET load it by name in a new process.
        var position = (int)BitConverter.ToInt64(raw, 0x90);
        var size = (int)BitConverter.ToUInt32(raw, 0x98);
        Assert.Equal("Microsoft.ML.HamiltonianFlows", System.Text.Encoding.Unicode.GetString(raw, position, size));
    }

    [Fact]
    public void ModelFormatRejectsAnotherModelSignature()
    {
        var bytes = SaveSample(s_version);
        var other = s_version with { ModelSignature = "HFOTHERM" };

        var exception = Assert.Throws<FormatException>(() => ModelFormat.Load(new MemoryStream(bytes), other, ReadSample));
        Assert.Equal("Unknown file type", exception.Message);
    }

    [Fact]
    public void ModelFormatRejectsFileTooNewForTheReader()
    {
        // Written by a future version whose files need at least code version 3 to read.
        var future = s_version with { VerWrittenCur = 0x00010003, VerReadableCur = 0x00010003 };
        var bytes = SaveSample(future);

        var exception = Assert.Throws<FormatException>(() => ModelFormat.Load(new MemoryStream(bytes), s_version, ReadSample));
        Assert.Contains("the model is too new", exception.Message);
    }

    [Fact]
    public void ModelFormatRejectsReaderThatLeavesContentUnread()
    {
        var bytes = SaveSample(s_version);

        // ModelLoadContext.Done checks that the reader stopped exactly at the end of the model block.
        Assert.Throws<FormatException>(() => ModelFormat.Load(new MemoryStream(bytes), s_version, r => r.ReadInt32()));
    }

    [Fact]
    public void VersionGuardAcceptsTheLoadedMLNet()
    {
        MLNetVersionGuard.EnsureSupported();

        var mlnet = new[] { typeof(MLContext).Assembly, typeof(ICanSaveModel).Assembly };
        Assert.Null(MLNetVersionGuard.FindMismatch(mlnet));
        Assert.All(mlnet, a => Assert.StartsWith(
            MLNetVersionGuard.SupportedVersion,
            a.GetCustomAttribute<AssemblyInformationalVersionAttribute>()!.InformationalVersion));
    }

    [Fact]
    public void VersionGuardRejectsAnAssemblyOfAnotherVersion()
    {
        // System.Private.CoreLib's informational version is the .NET one (10.x), not 5.0.1.
        var message = MLNetVersionGuard.FindMismatch(new[] { typeof(MLContext).Assembly, typeof(object).Assembly });

        Assert.NotNull(message);
        Assert.Contains("System.Private.CoreLib", message);
        Assert.Contains(MLNetVersionGuard.SupportedVersion, message);
    }

    [Theory]
    [InlineData("5.0.1", true)]
    [InlineData("5.0.1+a4f730ec0c9106c2c9ef9e1fa34011374115fb98", true)]
    [InlineData("5.0.10", false)]
    [InlineData("5.0.2+a4f730ec", false)]
    [InlineData("5.0.1-preview.1", false)]
    [InlineData("1.0.0.0", false)]
    [InlineData(null, false)]
    public void VersionGuardMatchesOnlyTheSupportedRelease(string? informationalVersion, bool expected) =>
        Assert.Equal(expected, MLNetVersionGuard.IsSupported(informationalVersion));
}
