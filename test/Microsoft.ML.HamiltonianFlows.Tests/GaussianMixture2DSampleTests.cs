using System.Text.Json;
using GaussianMixture2D;
using Xunit;

namespace Microsoft.ML.HamiltonianFlows.Tests;

public class GaussianMixture2DSampleTests
{
    [Fact]
    public void RingEntropyByQuadratureAgreesWithMonteCarloAndTheNoOverlapBound()
    {
        var ring = new GaussianRing();
        double quadrature = ring.Entropy();
        const int n = 200_000;
        float[] points = ring.Sample(n, 5);
        double sum = 0, sumSquares = 0;
        for (int i = 0; i < n; i++)
        {
            double logp = ring.LogDensity(points[2 * i], points[2 * i + 1]);
            sum += logp;
            sumSquares += logp * logp;
        }
        double monteCarlo = -sum / n;
        double standardError = Math.Sqrt((sumSquares / n - (sum / n) * (sum / n)) / n);
        double noOverlap = Math.Log(8) + Math.Log(2 * Math.PI * Math.E * 0.25);

        Assert.True(Math.Abs(quadrature - monteCarlo) < 4 * standardError, $"quadrature {quadrature:F4}, Monte Carlo {monteCarlo:F4} +- {standardError:F4}");
        Assert.True(quadrature < noOverlap && quadrature > noOverlap - 0.02, $"quadrature {quadrature:F4}, no-overlap bound {noOverlap:F4}");
    }

    [Fact]
    public void QuickRunWritesMetricsAndPlots()
    {
        var folder = Directory.CreateTempSubdirectory("gm2d-");
        try
        {
            // Run as its own process: the sample's ScottPlot brings a SkiaSharp that ImageAnalytics cannot share.
            var (exitCode, log) = ChildProcess.RunDotnet(
                ChildProcess.RepositoryProgram("samples/GaussianMixture2D", "GaussianMixture2D"),
                new[] { "--quick", "--out", folder.FullName }, TimeSpan.FromMinutes(3));
            Assert.True(exitCode == 0, $"the sample exited with {exitCode}: {log}");

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
            Assert.Contains("test NLL", log);
        }
        finally
        {
            folder.Delete(recursive: true);
        }
    }
}
