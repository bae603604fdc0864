using Xunit;

namespace Microsoft.ML.HamiltonianFlows.Tests;

/// <summary>
/// Model files of the previous release, whose flows standardised each feature instead of fitting a Gaussian: a different
/// model, which this build refuses with a message naming the file's version and the ones it reads, never loads as
/// something else.
/// </summary>
/// <remarks>
/// Resources/*-model-previous-release.zip were written by commit 61cc9b2 (the last release with the standardiser): a
/// density transformer and an anomaly detector, each fitted with one epoch on 100 rows of two 2-D clusters (hidden
/// layer [4], one leapfrog step), saved with <c>mlContext.Model.Save</c>.
/// </remarks>
[Collection(TorchGlobalGeneratorCollection.Name)]
public sealed class PreviousReleaseModelTests
{
    private const uint PreviousVersion = 0x00010001;

    private static string Resource(string name) => Path.Combine(AppContext.BaseDirectory, "Resources", name);

    [Theory]
    [InlineData("density-model-previous-release.zip", "HFLOWXFM")]
    // The anomaly detector is ML.NET's own transformer around the model parameters: they refuse it.
    [InlineData("anomaly-model-previous-release.zip", "HFLOWPRM")]
    public void AModelFileOfThePreviousReleaseFailsNamingItsVersionAndTheOnesThisBuildReads(string file, string signature)
    {
        uint current = signature == "HFLOWXFM" ? HamiltonianFlowTransformer.Version.VerWrittenCur : HamiltonianFlowModelParameters.Version.VerWrittenCur;
        Assert.NotEqual(PreviousVersion, current);
        string path = Resource(file);

        var plain = Assert.ThrowsAny<Exception>(() => new MLContext().Model.Load(path, out _));
        string message = SaveLoadTests.AllMessages(plain);
        Assert.Contains(signature, message);
        Assert.Contains($"format version 0x{PreviousVersion:X8}", message);
        Assert.Contains($"reads versions 0x{current:X8}", message);

        var verified = Assert.Throws<InvalidDataException>(() => new MLContext().Model.LoadVerified(path, out _));
        Assert.Contains(path, verified.Message);
        Assert.Contains($"0x{PreviousVersion:X8}", verified.Message);
    }
}
