using System.Text.Json;
using GaussianMixture2D;
using Xunit;

namespace Microsoft.ML.HamiltonianFlows.Tests;

public class GaussianMixture2DSampleTests
{
    [Fact]
    public void QuickRunWritesMetricsAndPlots()
    {
        var folder = Directory.CreateTempSubdirectory("gm2d-");
        try
        {
            var log = new StringWriter();
            RingExperiment.Run(RunSettings.Quick, folder, log);

            using var metrics = JsonDocument.Parse(File.ReadAllText(Path.Combine(folder.FullName, "metrics.json")));
            JsonElement root = metrics.RootElement;
            double entropy = root.GetProperty("targetEntropy").GetDouble();
            Assert.InRange(entropy, 3.50, 3.54); // log 8 + log(2 pi e 0.25) = 3.531, less a little overlap
            foreach (string variant in new[] { "fixedKinetic", "neuralKinetic" })
            {
                double nll = root.GetProperty(variant).GetProperty("testNll").GetDouble();
                Assert.True(double.IsFinite(nll) && nll > entropy - 0.5, $"{variant} NLL {nll}");
            }
            Assert.True(root.GetProperty("fixedKinetic").GetProperty("parameters").GetInt64()
                        < root.GetProperty("neuralKinetic").GetProperty("parameters").GetInt64());
            foreach (string plot in new[] { "samples.png", "potential.png", "density.png", "training.png" })
            {
                byte[] png = File.ReadAllBytes(Path.Combine(folder.FullName, plot));
                Assert.True(png.Length > 5000 && png[1] == 'P' && png[2] == 'N' && png[3] == 'G', plot);
            }
            Assert.Contains("test NLL", log.ToString());
        }
        finally
        {
            folder.Delete(recursive: true);
        }
    }
}
