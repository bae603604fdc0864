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
        using var folder = new TemporaryFolder("gm2d-");
        // Run as its own process: the sample's ScottPlot brings a SkiaSharp that ImageAnalytics cannot share.
        var (exitCode, log) = ChildProcess.RunDotnet(
            ChildProcess.RepositoryProgram("samples/GaussianMixture2D", "GaussianMixture2D"),
            new[] { "--quick", "--out", folder.FullName });
        Assert.True(exitCode == 0, $"the sample exited with {exitCode}: {log}");

        using var metrics = JsonDocument.Parse(File.ReadAllText(Path.Combine(folder.FullName, "metrics.json")));
        JsonElement root = metrics.RootElement;
        double entropy = root.GetProperty("targetEntropy").GetDouble();
        Assert.InRange(entropy, 3.50, 3.54); // log 8 + log(2 pi e 0.25) = 3.531, less a little overlap
        foreach (string variant in new[] { "fixedKinetic", "neuralKinetic" })
        {
            double nll = root.GetProperty(variant).GetProperty("testNll").GetDouble();
            // --quick trains for seconds (4.94 and 4.91 nats measured): no better than the target's entropy less a margin
            // for the test rows' noise, and within 2 nats above it, which a diverged fit would exceed.
            Assert.True(double.IsFinite(nll) && nll > entropy - 0.5 && nll < entropy + 2, $"{variant} NLL {nll}");
        }
        Assert.True(root.GetProperty("fixedKinetic").GetProperty("parameters").GetInt64()
                    < root.GetProperty("neuralKinetic").GetProperty("parameters").GetInt64());
        foreach (string variant in new[] { "fixedKinetic", "neuralKinetic" })
        {
            // Written as numbers; --quick trains too little to read V as -log p (the full run's correlation is 0.92, README).
            JsonElement match = root.GetProperty(variant).GetProperty("potentialVsNegativeLogDensity");
            Assert.True(double.IsFinite(match.GetProperty("correlation").GetDouble()), variant);
            Assert.True(double.IsFinite(match.GetProperty("rmsAfterConstant").GetDouble()), variant);
        }
        // Only the neural variant has a learned kinetic energy to compare with p^2/2.
        Assert.Equal(JsonValueKind.Null, root.GetProperty("fixedKinetic").GetProperty("kineticVsQuadratic").ValueKind);
        // The learned kinetic energy against p^2 / 2: 0.97 measured after --quick's brief fit, so the bound is a wide margin
        // that a kinetic energy unrelated to p^2 / 2 (a broken network or comparison) would still miss.
        Assert.InRange(root.GetProperty("neuralKinetic").GetProperty("kineticVsQuadratic").GetProperty("correlation").GetDouble(), 0.5, 1);
        foreach (string plot in new[] { "samples.png", "potential.png", "density.png", "training.png", "kinetic.png" })
        {
            byte[] png = File.ReadAllBytes(Path.Combine(folder.FullName, plot));
            Assert.True(png.Length > 5000 && png[1] == 'P' && png[2] == 'N' && png[3] == 'G', plot);
        }
        Assert.Contains("test NLL", log);
        Assert.Contains("V(q) vs -log p", log);
    }

    [Fact]
    public void QuickSweepWritesOneRowPerKnobValueAndVariantAndItsPlots()
    {
        using var folder = new TemporaryFolder("gm2d-sweep-");
        var (exitCode, log) = ChildProcess.RunDotnet(
            ChildProcess.RepositoryProgram("samples/GaussianMixture2D", "GaussianMixture2D"),
            new[] { "sweep", "--quick", "--out", folder.FullName });
        Assert.True(exitCode == 0, $"the sweep exited with {exitCode}: {log}");

        string[] lines = File.ReadAllLines(Path.Combine(folder.FullName, "sweep.csv"));
        Assert.StartsWith("knob,value,variant,seed,", lines[0]);
        var rows = lines.Skip(1).Select(l => l.Split(',')).ToList();
        // Quick: 4 knobs x 2 values x 1 seed x 2 variants.
        Assert.Equal(16, rows.Count);
        Assert.Equal(new[] { "hamiltonians", "hidden-width", "integration-time", "leapfrog-steps" }, rows.Select(r => r[0]).Distinct().Order());
        foreach (var row in rows)
        {
            double excess = double.Parse(row[6], System.Globalization.CultureInfo.InvariantCulture);
            Assert.True(double.IsFinite(excess) && excess > -0.5, string.Join(",", row));
            // One correlation per Hamiltonian, the first the potential_correlation column's.
            double[] byLayer = row[^1].Split(';').Select(v => double.Parse(v, System.Globalization.CultureInfo.InvariantCulture)).ToArray();
            int hamiltonians = row[0] == "hamiltonians" ? int.Parse(row[1], System.Globalization.CultureInfo.InvariantCulture) : 1;
            Assert.Equal(hamiltonians, byLayer.Length);
            Assert.Equal(double.Parse(row[7], System.Globalization.CultureInfo.InvariantCulture), byLayer[0]);
            Assert.All(byLayer, c => Assert.InRange(c, -1, 1));
        }
        // The base architecture, shared by three knobs, trains once per variant and is reported under each.
        var baseRows = rows.Where(r => (r[0], r[1]) is ("leapfrog-steps", "4") or ("hidden-width", "64") or ("hamiltonians", "1")).ToList();
        Assert.Equal(6, baseRows.Count);
        Assert.Single(baseRows.Where(r => r[2] == "fixed kinetic").Select(r => r[5]).Distinct());
        foreach (string plot in new[] { "sweep-excess-nll.png", "sweep-potential-correlation.png" })
        {
            byte[] png = File.ReadAllBytes(Path.Combine(folder.FullName, plot));
            Assert.True(png.Length > 5000 && png[1] == 'P' && png[2] == 'N' && png[3] == 'G', plot);
        }
    }
}
