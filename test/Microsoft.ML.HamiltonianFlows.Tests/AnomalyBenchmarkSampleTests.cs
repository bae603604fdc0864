using System.Text.Json;
using Xunit;

namespace Microsoft.ML.HamiltonianFlows.Tests;

public class AnomalyBenchmarkSampleTests
{
    [Fact]
    public void HelpAndABadThreadCountEndWithAMessageNotANativeAbort()
    {
        // The thread count goes to libtorch, which aborts the process on 0; a parse without a command has no count.
        string program = ChildProcess.RepositoryProgram("samples/AnomalyBenchmark", "AnomalyBenchmark");
        var (helpExit, help) = ChildProcess.RunDotnet(program, new[] { "--help" });
        Assert.True(helpExit == 0, $"--help exited with {helpExit}: {help}");
        Assert.Contains("tabular", help);
        foreach (var (value, expected) in new[] { ("0", "--threads must be at least 1."), ("abc", "abc") })
        {
            var (exit, log) = ChildProcess.RunDotnet(program, new[] { "tabular", "--threads", value });
            Assert.True(exit is 1, $"--threads {value} exited with {exit}: {log}");
            Assert.Contains(expected, log);
            Assert.DoesNotContain("Unhandled", log);
        }
    }

    [Fact]
    public void TabularRunOnIonosphereWritesAurocAndTheNormalRowsDensity()
    {
        using var folder = new TemporaryFolder("anomaly-benchmark-");
        // Its own process, as a user runs it: ionosphere is the quickest of the five sets (135 training rows).
        var (exitCode, log) = ChildProcess.RunDotnet(
            ChildProcess.RepositoryProgram("samples/AnomalyBenchmark", "AnomalyBenchmark"),
            new[] { "tabular", "--sets", "ionosphere", "--out", folder.FullName });
        Assert.True(exitCode == 0, $"the benchmark exited with {exitCode}: {log}");

        using var results = JsonDocument.Parse(File.ReadAllText(Path.Combine(folder.FullName, "results.json")));
        JsonElement set = results.RootElement.GetProperty("sets").EnumerateArray().Single();
        Assert.Equal("ionosphere", set.GetProperty("set").GetString());
        double lw = set.GetProperty("peers_auroc").GetProperty("gauss_shrink").GetDouble();
        double gaussian = set.GetProperty("gaussian_auroc").GetDouble(), flow = set.GetProperty("flow_auroc").GetDouble();
        // The plain Gaussian is scikit-learn's Ledoit-Wolf detector but for the shrinkage target (0.9669 against 0.9668
        // here); the flow ranked the test rows 0.962 to 0.966 over five seeds, a z-score of the features 0.906 (the
        // diagonal Gaussian's), chance 0.5.
        Assert.True(Math.Abs(gaussian - lw) < 0.01, $"Gaussian {gaussian}, LW {lw}");
        Assert.True(flow > 0.94, $"flow {flow}");
        // Columns 1 and 2 are constant in the training rows and left out of the density; training gains about 5 nats
        // per normal test row over the Gaussian (8 on the training file's held-out rows).
        Assert.Equal(32, set.GetProperty("density_features").GetInt32());
        double flowNll = set.GetProperty("flow_normal_test_nll").GetDouble(), gaussianNll = set.GetProperty("gaussian_normal_test_nll").GetDouble();
        Assert.True(flowNll < gaussianNll - 1, $"flow NLL {flowNll}, Gaussian NLL {gaussianNll}");
        // The median gain per row agrees (2.7 to 5.4 nats over five seeds). The anomalies' median is log alpha there (the
        // flow gives most of them almost no density and the Gaussian's share scores them), which depends on the share
        // fitted, so it is only required to be a number.
        double normalGain = set.GetProperty("median_gain_normal").GetDouble(), anomalousGain = set.GetProperty("median_gain_anomalous").GetDouble();
        Assert.True(normalGain > 1, $"median gain of the normal rows {normalGain}");
        Assert.True(double.IsFinite(anomalousGain), $"median gain of the anomalies {anomalousGain}");
        // Ionosphere's held-out rows choose no tail (0.06 nats per row at c = 5, against 0.33 needed): its stage is the plain
        // Gaussian, so the tails gain nothing and all of the gain is training's.
        Assert.Equal(gaussian, set.GetProperty("stage_auroc").GetDouble(), 9);
        Assert.Equal(0, set.GetProperty("median_tail_gain_normal").GetDouble(), 6);
        Assert.Equal(normalGain, set.GetProperty("median_training_gain_normal").GetDouble(), 6);
        // The difference from the plain Gaussian with its bootstrap interval over the 216 test rows (about 0.008 wide), and
        // the fit times printed beside it.
        double[] interval = set.GetProperty("auroc_minus_gaussian_interval95").EnumerateArray().Select(e => e.GetDouble()).ToArray();
        Assert.InRange(flow - gaussian, interval[0], interval[1]);
        Assert.InRange(interval[1] - interval[0], 1e-4, 0.05);
        // The same against RandomizedPca, which scores every ionosphere row (issue 12's MNIST-tiny bar is this difference).
        double rpca = set.GetProperty("randomized_pca_auroc").GetDouble();
        double[] overPca = set.GetProperty("auroc_minus_randomized_pca_interval95").EnumerateArray().Select(e => e.GetDouble()).ToArray();
        Assert.InRange(flow - rpca, overPca[0], overPca[1]);
        Assert.InRange(overPca[1] - overPca[0], 1e-4, 0.3);
        foreach (string fit in new[] { "flow_fit_seconds", "gaussian_fit_seconds", "randomized_pca_fit_seconds" })
            Assert.True(set.GetProperty(fit).GetDouble() > 0, fit);
        Assert.Contains("ionosphere", log);
    }
}
