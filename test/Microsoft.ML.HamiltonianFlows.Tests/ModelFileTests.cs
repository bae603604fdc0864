using Microsoft.ML.Data;
using Xunit;

namespace Microsoft.ML.HamiltonianFlows.Tests;

/// <summary>Model files through <c>mlContext.Model</c>: atomic saves and damaged files.</summary>
[Collection(TorchGlobalGeneratorCollection.Name)]
public sealed class ModelFileTests : IDisposable
{
    private readonly TemporaryFolder folder = new("nhf-modelfile-");

    public void Dispose() => folder.Dispose();

    /// <summary>A small fitted density chain (ML.NET's normaliser, then the flow), its training schema and a few test rows.</summary>
    internal static (MLContext Ml, ITransformer Model, DataViewSchema Schema, IDataView Test) SmallModel()
    {
        var ml = new MLContext(seed: 1);
        var train = ml.Data.LoadFromEnumerable(HamiltonianFlowTransformerTests.Clusters(200, 1));
        var options = HamiltonianFlowTransformerTests.SmallOptions();
        options.MaxSteps = 6;
        var model = ml.Transforms.NormalizeMinMax("Features").Append(ml.Transforms.HamiltonianFlow(options)).Fit(train);
        return (ml, model, train.Schema, ml.Data.LoadFromEnumerable(HamiltonianFlowTransformerTests.Clusters(20, 2)));
    }

    internal static float[] Scores(ITransformer model, IDataView test) => model.Transform(test).GetColumn<float>("LogLikelihood").ToArray();

    /// <summary>A model part that fails while the model is being saved, as a full disk would.</summary>
    private sealed class FailingToSave : ITransformer
    {
        public bool IsRowToRowMapper => true;

        public DataViewSchema GetOutputSchema(DataViewSchema inputSchema) => inputSchema;

        public IRowToRowMapper GetRowToRowMapper(DataViewSchema inputSchema) => throw new NotSupportedException();

        public IDataView Transform(IDataView input) => input;

        void ICanSaveModel.Save(ModelSaveContext ctx) => throw new IOException("No space left on device (simulated).");
    }

    private string[] FolderFiles() => Directory.GetFiles(folder.FullName).Select(f => Path.GetFileName(f)).OrderBy(n => n).ToArray();

    [Fact]
    public void SaveAtomicallyLeavesTheEarlierFileIntactWhenSavingFails()
    {
        var (ml, model, schema, test) = SmallModel();
        string path = Path.Combine(folder.FullName, "model.zip");
        ml.Model.SaveAtomically(model, schema, path);
        byte[] earlier = File.ReadAllBytes(path);
        // The flow's weights are written before the failing part, so the failure comes part-way through the file.
        var failing = new TransformerChain<ITransformer>(model, new FailingToSave());

        var e = Assert.Throws<IOException>(() => ml.Model.SaveAtomically(failing, schema, path));
        Assert.Contains("simulated", e.Message);
        Assert.Equal(earlier, File.ReadAllBytes(path));
        Assert.Equal(new[] { "model.zip" }, FolderFiles());
        Assert.Equal(Scores(model, test), Scores(ml.Model.LoadVerified(path, out _), test));

        // ML.NET's own Save writes in place: the same failure destroys the earlier file.
        Assert.Throws<IOException>(() => ml.Model.Save(failing, schema, path));
        Assert.NotEqual(earlier, File.ReadAllBytes(path));
        Assert.Throws<InvalidDataException>(() => ml.Model.LoadVerified(path, out _));
    }

    [Fact]
    public void SaveAtomicallyReplacesTheFileAndLeavesNoTemporaryFile()
    {
        var (ml, model, schema, test) = SmallModel();
        string path = Path.Combine(folder.FullName, "model.zip");
        File.WriteAllText(path, "an older file");

        ml.Model.SaveAtomically(model, schema, path);

        Assert.Equal(new[] { "model.zip" }, FolderFiles());
        Assert.Equal(Scores(model, test), Scores(ml.Model.LoadVerified(path, out var loadedSchema), test));
        Assert.Contains(loadedSchema, c => c.Name == "Features");
    }

    private static byte[] SavedBytes(MLContext ml, ITransformer model, DataViewSchema schema)
    {
        using var stream = new MemoryStream();
        ml.Model.Save(model, schema, stream);
        return stream.ToArray();
    }

    private InvalidDataException LoadFails(MLContext ml, byte[] file, string name)
    {
        string path = Path.Combine(folder.FullName, name);
        File.WriteAllBytes(path, file);
        var e = Assert.Throws<InvalidDataException>(() => ml.Model.LoadVerified(path, out _));
        Assert.Contains(path, e.Message);
        return e;
    }

    [Fact]
    public void DamagedFilesFailToLoadNamingTheFileAndTheProblem()
    {
        var (ml, model, schema, _) = SmallModel();
        byte[] zip = SavedBytes(ml, model, schema);

        Assert.Contains("End of Central Directory", LoadFails(ml, zip[..(zip.Length * 2 / 3)], "truncated.zip").Message);

        // A flipped bit in the compressed flow weights: the zip's own CRC-32 of the entry no longer matches.
        int weights = ModelZip.EntryDataOffset(zip, "FlowWeights");
        byte[] flipped = (byte[])zip.Clone();
        flipped[weights + 40] ^= 0x10;
        string message = LoadFails(ml, flipped, "flipped.zip").Message;
        Assert.Contains("FlowWeights", message);

        LoadFails(ml, "Not a zip file at all"u8.ToArray(), "text.zip");

        // A recorded CRC-32 that the content does not match: .NET 10's ZipArchive reads the entry without complaint.
        byte[] wrongCrc = ModelZip.WithEntryCrc(zip, "FlowWeights", 0x12345678);
        Assert.Equal(ModelZip.Entry(zip, "FlowWeights"), ModelZip.Entry(wrongCrc, "FlowWeights"));
        message = LoadFails(ml, wrongCrc, "wrong-crc.zip").Message;
        Assert.Contains("FlowWeights", message);
        Assert.Contains("12345678", message);
    }

    [Fact]
    public void PartsOfAnotherVersionOrComponentFailNamingWhatWasFound()
    {
        var (ml, model, schema, _) = SmallModel();
        byte[] zip = SavedBytes(ml, model, schema);

        uint current = HamiltonianFlowTransformer.Version.VerWrittenCur, newerVersion = current + 0x00010000;
        var newer = ModelZip.EditEntries(zip, (_, bytes) => ModelZip.WithHeader(bytes, "HFLOWXFM", version: newerVersion));
        string message = LoadFails(ml, newer, "newer.zip").Message;
        Assert.Contains($"0x{newerVersion:X8}", message);
        Assert.Contains($"0x{current:X8}", message);

        // The transformer's stream relabelled as another component's.
        var foreign = ModelZip.EditEntries(zip, (_, bytes) => ModelZip.WithHeader(bytes, "HFLOWXFM", newSignature: "NORMALZR"));
        message = LoadFails(ml, foreign, "foreign.zip").Message;
        Assert.Contains("NORMALZR", message);
        Assert.Contains("HFLOWXFM", message);

        // The flow's weights replaced by another component's stream (the normaliser's).
        byte[] normaliser = ModelZip.Entry(zip, "Transform_000/Model.key");
        Assert.True(ModelZip.HasSignature(normaliser, "NORMALZR"));
        var swapped = ModelZip.EditEntries(zip, (name, bytes) => name.EndsWith("FlowWeights", StringComparison.Ordinal) ? normaliser : null);
        Assert.Contains("NHFW", LoadFails(ml, swapped, "swapped.zip").Message);
    }
}
