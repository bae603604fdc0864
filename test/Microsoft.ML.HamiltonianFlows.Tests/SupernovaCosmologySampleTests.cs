using System.Text.Json;
using Xunit;

namespace Microsoft.ML.HamiltonianFlows.Tests;

public class SupernovaCosmologySampleTests
{
    [Fact]
    public void QuickRunWritesMetricsAndTheContourPlot()
    {
        using var folder = new TemporaryFolder("sn-cosmology-");
        // Its own process: the sample's ScottPlot brings a SkiaSharp that ImageAnalytics cannot share.
        var (exitCode, log) = ChildProcess.RunDotnet(
            ChildProcess.RepositoryProgram("samples/SupernovaCosmology", "SupernovaCosmology"),
            new[] { "--quick", "--out", folder.FullName });
        Assert.True(exitCode == 0, $"the sample exited with {exitCode}: {log}");

        using var metrics = JsonDocument.Parse(File.ReadAllText(Path.Combine(folder.FullName, "metrics.json")));
        JsonElement root = metrics.RootElement;
        Assert.Equal(600, root.GetProperty("supernovae").GetInt32());
        JsonElement grid = root.GetProperty("grid");
        double[] gridMean = grid.GetProperty("mean").EnumerateArray().Select(e => e.GetDouble()).ToArray();
        double[] gridSd = grid.GetProperty("sd").EnumerateArray().Select(e => e.GetDouble()).ToArray();
        // The simulated truth (0.3, 0.7) lies within 3 posterior standard deviations of the grid's mean.
        Assert.True(Math.Abs(gridMean[0] - 0.3) < 3 * gridSd[0] && Math.Abs(gridMean[1] - 0.7) < 3 * gridSd[1],
            $"grid mean ({gridMean[0]}, {gridMean[1]}), sd ({gridSd[0]}, {gridSd[1]})");
        JsonElement flow = root.GetProperty("flow");
        // Even a few steps give a bound below the grid's evidence (up to the grid's own error).
        Assert.True(flow.GetProperty("evidenceLowerBound").GetDouble() < grid.GetProperty("logEvidence").GetDouble() + 0.05);
        Assert.True(double.IsFinite(flow.GetProperty("klGridToFlow").GetDouble()));
        Assert.True(root.GetProperty("hmc").GetProperty("acceptance").GetDouble() > 0.2);
        byte[] png = File.ReadAllBytes(Path.Combine(folder.FullName, "contours.png"));
        Assert.True(png.Length > 5000 && png[1] == 'P' && png[2] == 'N' && png[3] == 'G');
    }

    [Fact]
    public void CatalogueReaderTakesUnionStyleTextAndNamesABadLine()
    {
        string path = Path.GetTempFileName();
        try
        {
            File.WriteAllText(path, "# name z mu sigma\n1993ah\t0.028488\t35.3465833928\t0.223905932998\nsn2 0.05 36.9 0.18 0.01\n");
            var catalogue = SupernovaCosmology.SupernovaCatalog.Load(path);
            Assert.Equal(2, catalogue.Count);
            Assert.Equal(0.028488, catalogue[0].Redshift);
            Assert.Equal(0.18, catalogue[1].Error);

            File.WriteAllText(path, "z,mu,sigma_mu\n0.1,38.3,0.2\n0.2,abc,0.2\n");
            var error = Assert.Throws<FormatException>(() => SupernovaCosmology.SupernovaCatalog.Load(path));
            Assert.Contains("line 3", error.Message);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void EightNodeQuadratureMatchesSixtyFourNodesAndTheFlatClosedForm()
    {
        double[] redshifts = { 0.01, 0.1, 0.5, 1.0, 1.4 };
        using var theta = TorchSharp.torch.tensor(new[] { 0.3, 0.7, 0.1, 1.2, 0.9, 0.2, 1.0, 0.0 }, new long[] { 4, 2 });
        using var eight = new SupernovaCosmology.DistanceModulusModel(redshifts);
        using var sixtyFour = new SupernovaCosmology.DistanceModulusModel(redshifts, order: 64);
        double[] coarse = eight.Evaluate(theta).data<double>().ToArray(), fine = sixtyFour.Evaluate(theta).data<double>().ToArray();
        for (int i = 0; i < coarse.Length; i++)
            Assert.True(Math.Abs(coarse[i] - fine[i]) < 1e-6, $"point {i}: {coarse[i]} vs {fine[i]}");
        // Einstein-de Sitter (Omega_m = 1, flat): d_L = 2 (c / H0) (1 + z) (1 - 1 / sqrt(1 + z)).
        for (int i = 0; i < redshifts.Length; i++)
        {
            double z = redshifts[i];
            double exact = 5 * Math.Log10(2 * 299792.458 / 70 * (1 + z) * (1 - 1 / Math.Sqrt(1 + z))) + 25;
            Assert.True(Math.Abs(coarse[3 * redshifts.Length + i] - exact) < 1e-6, $"z {z}: {coarse[3 * redshifts.Length + i]} vs {exact}");
        }
    }
}
