using System.Diagnostics;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.HamiltonianFlows;

namespace AnomalyBenchmark;

/// <summary>
/// Held-out density on the training files only: each set's training rows split 80/20 (seeded), the flow fitted to the
/// 80% with the options given, and the mean log-likelihood of the other 20% beside the plain Gaussian's (no training, no
/// heavier tails: the model every gain is measured from). This, never a test file, is what the defaults are chosen by.
/// </summary>
internal static class ValidationRun
{
    public static void Run(IReadOnlyList<TabularSet> sets, string dataFolder, int seed, Action<HamiltonianFlowTrainer.Options> configure, TextWriter log, int? fitRows = null)
    {
        if (fitRows is < 1)
            throw new ArgumentException($"--fit-rows must be at least 1, got {fitRows}.");
        log.WriteLine($"{"set",-11}{"flow LL",10}{"Gaussian LL",13}{"gain",8}{"tail c",8}{"fit s",8}");
        foreach (var set in sets)
        {
            var ml = new MLContext(seed);
            var split = ml.Data.TrainTestSplit(set.Train(ml, dataFolder), testFraction: 0.2, seed: seed);
            // A pool larger than any set's 80% (shuttle: about 21,900 rows), so that the N rows come from all of them.
            IDataView fitSet = fitRows is int rows ? ml.Data.TakeRows(ml.Data.ShuffleRows(split.TrainSet, seed, shufflePoolSize: 100_000), rows) : split.TrainSet;
            var options = new HamiltonianFlowTrainer.Options { Seed = seed };
            configure(options);
            var clock = Stopwatch.StartNew();
            using var flow = ml.Transforms.HamiltonianFlow(options).Fit(fitSet);
            double seconds = clock.Elapsed.TotalSeconds;
            using var gaussian = ml.Transforms.HamiltonianFlow(new HamiltonianFlowTrainer.Options { Seed = seed, MaxSteps = 0, HeavyTails = false }).Fit(fitSet);
            double flowLl = MeanLogLikelihood(flow.Transform(split.TestSet));
            double gaussianLl = MeanLogLikelihood(gaussian.Transform(split.TestSet));
            log.WriteLine($"{set.Name,-11}{flowLl,10:F3}{gaussianLl,13:F3}{flowLl - gaussianLl,8:F3}{Tail(flow.Model.GaussianTail),8}{seconds,8:F1}");
        }
    }

    /// <summary>The tail c as the tables print it: "inf" for the plain Gaussian.</summary>
    internal static string Tail(double c) => double.IsFinite(c) ? c.ToString("G3") : "inf";

    private static double MeanLogLikelihood(IDataView scored) =>
        scored.GetColumn<float>("LogLikelihood").Select(v => (double)v).Average();
}
