using Microsoft.ML.Data;
using Xunit;

namespace Microsoft.ML.HamiltonianFlows.Tests;

[Collection(TorchGlobalGeneratorCollection.Name)]
public class SaveLoadTests
{
    private static IEstimator<ITransformer> DensityChain(MLContext ml) =>
        ml.Transforms.NormalizeMinMax("Features").Append(ml.Transforms.HamiltonianFlow(HamiltonianFlowTransformerTests.SmallOptions()));

    // Mixes ML.NET's normaliser, the density transformer and the anomaly detector (this library's HamiltonianFlowAnomalyTransformer).
    private static IEstimator<ITransformer> AnomalyChain(MLContext ml) =>
        ml.Transforms.NormalizeMinMax("Features")
            .Append(ml.Transforms.HamiltonianFlow(HamiltonianFlowTransformerTests.SmallOptions()))
            .Append(ml.AnomalyDetection.Trainers.HamiltonianFlow(HamiltonianFlowTransformerTests.SmallDetectorOptions(contamination: 0.1)));

    private static IDataView TestRows(MLContext ml) =>
        ml.Data.LoadFromEnumerable(HamiltonianFlowTransformerTests.Clusters(300, 4)
            .Append(new HamiltonianFlowTransformerTests.Point { Features = new[] { float.NaN, 1f } }));

    private static string[] Bits(IDataView scored, params string[] columns)
    {
        var values = columns.Select(c => scored.Schema[c].Type == BooleanDataViewType.Instance
            ? scored.GetColumn<bool>(c).Select(b => b ? "1" : "0").ToArray()
            : FloatBits.Of(scored.GetColumn<float>(c))).ToArray();
        return Enumerable.Range(0, values[0].Length).Select(i => string.Join('\t', values.Select(v => v[i]))).ToArray();
    }

    [Theory]
    [InlineData(false, "LogLikelihood")]
    [InlineData(true, "LogLikelihood,Score,PredictedLabel")]
    public void ChainLoadedInAnotherProcessReproducesEveryOutputBitForBit(bool anomaly, string columnList)
    {
        string[] columns = columnList.Split(',');
        var ml = new MLContext(seed: 1);
        var train = ml.Data.LoadFromEnumerable(HamiltonianFlowTransformerTests.Clusters(300, 1));
        var model = (anomaly ? AnomalyChain(ml) : DensityChain(ml)).Fit(train);
        var test = TestRows(ml);
        var expected = Bits(model.Transform(test), columns);

        using var folder = new TemporaryFolder("nhf-saveload-");
        string modelPath = Path.Combine(folder.FullName, "model.zip"), dataPath = Path.Combine(folder.FullName, "data.idv");
        ml.Model.Save(model, train.Schema, modelPath);
        using (var stream = File.Create(dataPath))
            ml.Data.SaveAsBinary(test, stream);

        // The same process with a fresh context...
        var reloaded = new MLContext(seed: 99).Model.Load(modelPath, out var schema);
        Assert.Equal(expected, Bits(reloaded.Transform(test), columns));
        Assert.Contains(schema, c => c.Name == "Features");

        // ...and a fresh process that never names this library's types.
        string outputPath = Path.Combine(folder.FullName, "scores.txt");
        RunLoadCheck(modelPath, dataPath, outputPath, columns);
        Assert.Equal(expected, File.ReadAllLines(outputPath));
    }

    internal static void RunLoadCheck(params object[] args)
    {
        var arguments = args.SelectMany(a => a as string[] ?? new[] { (string)a });
        var (exitCode, output) = ChildProcess.RunDotnet(Path.Combine(AppContext.BaseDirectory, "ModelLoadCheck.dll"), arguments);
        Assert.True(exitCode == 0, $"ModelLoadCheck exited with {exitCode}: {output}");
    }

    private static byte[] SaveDensityModel(MLContext ml)
    {
        var data = ml.Data.LoadFromEnumerable(HamiltonianFlowTransformerTests.Clusters(100, 1));
        var options = HamiltonianFlowTransformerTests.SmallOptions();
        options.MaxSteps = 2;
        var model = ml.Transforms.HamiltonianFlow(options).Fit(data);
        using var stream = new MemoryStream();
        ml.Model.Save(model, data.Schema, stream);
        return stream.ToArray();
    }

    internal static string AllMessages(Exception e) => e.InnerException is null ? e.Message : e.Message + " | " + AllMessages(e.InnerException);

    [Theory]
    [InlineData("HFLOWXFM")]
    [InlineData("HFLOWPRM")]
    public void ModelOfANewerFormatVersionFailsNamingBothVersions(string signature)
    {
        var ml = new MLContext(seed: 1);
        uint current = signature == "HFLOWXFM" ? HamiltonianFlowTransformer.Version.VerWrittenCur : HamiltonianFlowModelParameters.Version.VerWrittenCur;
        uint newer = current + 0x00010000;
        byte[] zip = ModelZip.EditEntries(SaveDensityModel(ml), (_, bytes) => ModelZip.WithHeader(bytes, signature, version: newer));

        var e = Assert.ThrowsAny<Exception>(() => new MLContext().Model.Load(new MemoryStream(zip), out _));
        string message = AllMessages(e);
        Assert.Contains(signature, message);
        Assert.Contains($"0x{newer:X8}", message);
        Assert.Contains($"0x{current:X8}", message);
    }

    [Fact]
    public void TruncatedWeightsFailWithAClearMessage()
    {
        var ml = new MLContext(seed: 1);
        byte[] zip = ModelZip.EditEntries(SaveDensityModel(ml), (name, bytes) => name.EndsWith("FlowWeights", StringComparison.Ordinal) ? bytes[..(bytes.Length / 2)] : null);

        var e = Assert.ThrowsAny<Exception>(() => new MLContext().Model.Load(new MemoryStream(zip), out _));
        Assert.Contains("truncated", AllMessages(e));
    }
}
