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
    public static void Run(IReadOnlyList<TabularSet> sets, string dataFolder, int seed, Action<HamiltonianFlowTrainer.Options> configure, TextWriter log, int? fitRows = null, int ensemble = 1, bool trace = false,
        DirectoryInfo? dump = null)
    {
        if (fitRows is < 1)
            throw new ArgumentException($"--fit-rows must be at least 1, got {fitRows}.");
        if (ensemble < 1)
            throw new ArgumentException($"--ensemble must be at least 1, got {ensemble}.");
        log.WriteLine($"{"set",-11}{"flow LL",10}{"Gaussian LL",13}{"gain",8}{"tail c",8}{"fit s",8}");
        foreach (var set in sets)
        {
            var ml = new MLContext(seed);
            var split = ml.Data.TrainTestSplit(set.Train(ml, dataFolder), testFraction: 0.2, seed: seed);
            // A pool larger than any set's 80% (shuttle: about 21,900 rows), so that the N rows come from all of them.
            IDataView fitSet = fitRows is int rows ? ml.Data.TakeRows(ml.Data.ShuffleRows(split.TrainSet, seed, shufflePoolSize: 100_000), rows) : split.TrainSet;
            var options = new HamiltonianFlowTrainer.Options { Seed = seed };
            configure(options);
            // The trainer's own report of where training ended (and, with validation losses, how it went there).
            EventHandler<LoggingEventArgs> echo = (_, e) =>
            {
                if (e.Message.Contains("validation loss") || e.Message.Contains("Kept the weights"))
                    log.WriteLine($"  {e.Message[(e.Message.IndexOf("] ", StringComparison.Ordinal) + 2)..]}");
            };
            if (trace)
                ml.Log += echo;
            var clock = Stopwatch.StartNew();
            using var flow = ml.Transforms.HamiltonianFlow(options).Fit(fitSet);
            double seconds = clock.Elapsed.TotalSeconds;
            ml.Log -= echo;
            using var gaussian = ml.Transforms.HamiltonianFlow(new HamiltonianFlowTrainer.Options { Seed = seed, MaxSteps = 0, HeavyTails = false, KernelDensityCentres = 0 }).Fit(fitSet);
            // Each held-out row scored once by each model: the mean, the ensemble probe and the dump read the same values.
            double[] flowRows = RowLogLikelihoods(flow.Transform(split.TestSet));
            double[] gaussianRows = RowLogLikelihoods(gaussian.Transform(split.TestSet));
            if (ensemble > 1)
                log.WriteLine(Ensemble(ml, fitSet, split.TestSet, seed, configure, ensemble, flowRows, clock));
            if (dump is not null)
                Dump(ml, dump, $"{set.Name}-seed{seed}", fitSet, split.TestSet, flowRows, gaussianRows);
            double flowLl = flowRows.Average(), gaussianLl = gaussianRows.Average();
            log.WriteLine($"{set.Name,-11}{flowLl,10:F3}{gaussianLl,13:F3}{flowLl - gaussianLl,8:F3}{Tail(flow.Model.GaussianTail),8}{seconds,8:F1}");
        }
    }

    /// <summary>The tail c as the tables print it: "inf" for the plain Gaussian.</summary>
    internal static string Tail(double c) => double.IsFinite(c) ? c.ToString("G3") : "inf";

    /// <summary>
    /// The ensemble probe (seventh session): <paramref name="size"/> - 1 more flows fitted to the same rows with seeds
    /// seed + 1000, seed + 2000, ... (each so draws its own validation split, dequantisation and tail choice) and the
    /// held-out rows scored by the equal mixture of all of them, log (1/M) sum_m p_m(x). Returns the line it prints: each
    /// member's mean held-out log-likelihood, the mixture's, and the fit time of all members (the clock started with the first).
    /// </summary>
    private static string Ensemble(MLContext ml, IDataView fitSet, IDataView heldOut, int seed, Action<HamiltonianFlowTrainer.Options> configure,
        int size, double[] first, Stopwatch clock)
    {
        var members = new List<double[]> { first };
        for (int m = 1; m < size; m++)
        {
            var options = new HamiltonianFlowTrainer.Options();
            configure(options);
            options.Seed = seed + 1000 * m;
            using var member = ml.Transforms.HamiltonianFlow(options).Fit(fitSet);
            members.Add(RowLogLikelihoods(member.Transform(heldOut)));
        }
        double mixture = Enumerable.Range(0, first.Length).Select(i =>
        {
            double top = members.Max(member => member[i]);
            return top + Math.Log(members.Average(member => Math.Exp(member[i] - top)));
        }).Average();
        return $"  ensemble of {size}: members {string.Join(" ", members.Select(member => member.Average().ToString("F3")))}, " +
            $"mixture {mixture:F3}, fit {clock.Elapsed.TotalSeconds:F1} s in all";
    }

    /// <summary>
    /// For analyses outside the library (analysis/kde_mixture.py flow): NAME-fit.csv holds the fitted rows' features,
    /// NAME-heldout.csv each held-out row's features followed by its log-likelihood under the flow and under the plain
    /// Gaussian (nats, the library's scoring, lattice features dequantised there).
    /// </summary>
    private static void Dump(MLContext ml, DirectoryInfo folder, string name, IDataView fitSet, IDataView heldOut, double[] flow, double[] gaussian)
    {
        folder.Create();
        static string Row(IEnumerable<double> values) => string.Join(",", values.Select(v => v.ToString("R", System.Globalization.CultureInfo.InvariantCulture)));
        File.WriteAllLines(Path.Combine(folder.FullName, $"{name}-fit.csv"),
            LabeledRows.Read(ml, fitSet).Select(r => Row(r.Features.Select(v => (double)v))));
        File.WriteAllLines(Path.Combine(folder.FullName, $"{name}-heldout.csv"),
            LabeledRows.Read(ml, heldOut).Select((r, i) => Row(r.Features.Select(v => (double)v).Append(flow[i]).Append(gaussian[i]))));
    }

    private static double[] RowLogLikelihoods(IDataView scored) =>
        scored.GetColumn<float>("LogLikelihood").Select(v => (double)v).ToArray();
}
