using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Microsoft.ML;
using Microsoft.ML.HamiltonianFlows;

namespace AnomalyBenchmark;

/// <summary>
/// The one-class protocol on the tabular sets: each detector is fitted to the training file (normal rows only) and
/// scored on the test file by <c>mlContext.AnomalyDetection.Evaluate</c>. The flow runs at default options; the
/// shrinkage Gaussian (the same fit with no training step and no heavier tails: the plain Gaussian the flow starts from
/// where it keeps an infinite tail) and ML.NET's RandomizedPca run in the same process; the classic detectors' results
/// come from data/peers.json. Beside the AUROC, the density the issue asks for: the mean negative log-likelihood of the
/// test file's normal rows under the flow and under the shrinkage Gaussian, both from the library's own scoring (lattice
/// columns dequantised by uniform noise alike), with the columns constant in the training file left out.
/// </summary>
internal static class TabularBenchmark
{
    /// <summary>
    /// <see cref="Run"/> once per seed (each into OUT/seed-S), then the flow's AUROC per set over the seeds: mean, lowest,
    /// highest, and at how many seeds it is at least the shrinkage Gaussian's (LW); written as OUT/seeds.json. One seed is
    /// one draw of the fit's randomness; at a few hundred rows the spread between seeds is of the order of the
    /// differences between methods, so a single seed's table can mislead.
    /// </summary>
    public static void RunSeeds(IReadOnlyList<TabularSet> sets, string dataFolder, IReadOnlyList<int> seeds, bool checks, DirectoryInfo output,
        TextWriter log, int? importanceSamples = null)
    {
        var flowBySeed = seeds.Select(seed =>
            Run(sets, dataFolder, seed, checks, new DirectoryInfo(Path.Combine(output.FullName, $"seed-{seed}")), log, importanceSamples)
                .Select(r => (double)r["flow_auroc"]).ToArray()).ToArray();
        log.WriteLine($"Flow test AUROC over seeds {string.Join(", ", seeds)}:");
        log.WriteLine($"{"set",-11}{"mean",8}{"lowest",8}{"highest",8}{"| LW",8}{">= LW",8}");
        var summary = new List<Dictionary<string, object>>();
        for (int i = 0; i < sets.Count; i++)
        {
            double[] auroc = flowBySeed.Select(r => r[i]).ToArray();
            double lw = sets[i].PeerAuroc["gauss_shrink"];
            int atLeast = auroc.Count(a => a >= lw);
            log.WriteLine($"{sets[i].Name,-11}{auroc.Average(),8:F4}{auroc.Min(),8:F4}{auroc.Max(),8:F4}" +
                          $"{"| " + lw.ToString("F4", CultureInfo.InvariantCulture),8}{$"{atLeast}/{seeds.Count}",8}");
            summary.Add(new Dictionary<string, object>
            {
                ["set"] = sets[i].Name, ["flow_auroc_by_seed"] = auroc, ["mean"] = auroc.Average(), ["lw_auroc"] = lw, ["seeds_at_least_lw"] = atLeast,
            });
        }
        double[] means = flowBySeed.Select(r => r.Average()).ToArray();
        log.WriteLine($"{"mean",-11}{means.Average(),8:F4}{means.Min(),8:F4}{means.Max(),8:F4}" +
                      $"{"| " + sets.Average(s => s.PeerAuroc["gauss_shrink"]).ToString("F4", CultureInfo.InvariantCulture),8}");
        string json = Path.Combine(output.FullName, "seeds.json");
        File.WriteAllText(json, JsonSerializer.Serialize(new { seeds, cpu = Machine.CpuModel(), sets = summary, mean_by_seed = means },
            Machine.ResultsJson));
        log.WriteLine($"Wrote {json}");
    }

    /// <summary>
    /// One seed: the table, results.json and each set's scores-SET.csv (every test row's label, flow score and plain Gaussian
    /// score, in the test file's order) in <paramref name="output"/>; returns the per-set results.
    /// </summary>
    public static IReadOnlyList<Dictionary<string, object>> Run(IReadOnlyList<TabularSet> sets, string dataFolder, int seed, bool checks,
        DirectoryInfo output, TextWriter log, int? importanceSamples = null)
    {
        // The seed is set, not drawn from the MLContext, so that every fit of a set (the checks' too) starts alike.
        HamiltonianFlowAnomalyTrainer.Options Defaults() => new() { Seed = seed, ScoringImportanceSamples = importanceSamples };
        output.Create();
        log.WriteLine($"Test AUROC, default options, MLContext seed {seed}; peers: scikit-learn on the same splits (data/README.md).");
        log.WriteLine($"{"set",-11}{"flow",8}{"Gaussian",10}{"stage",8}{"RPCA",8}{"| LW",8}{"GMM",8}{"KDE",8}{"best",8}{"fit s",8}{"Gauss",8}{"RPCA",8}{"tail c",8}{"kde b",7}{"flag",6}" +
                      $"{"| NLL flow",11}{"Gaussian",10}{"| tails n",10}{"a",7}{"train n",9}{"a",7}{"| -Gauss",10}{"95%",19}{"| -RPCA",10}{"95%",19}");
        var results = new List<Dictionary<string, object>>();
        bool warm = false;
        foreach (var set in sets)
        {
            var ml = new MLContext(seed);
            var trainRows = LabeledRows.Read(ml, set.Train(ml, dataFolder));
            var testRows = LabeledRows.Read(ml, set.Test(ml, dataFolder));
            IDataView train = LabeledRows.ToDataView(ml, trainRows, set.Dimension);
            IDataView test = LabeledRows.ToDataView(ml, testRows, set.Dimension);
            if (!warm)
            {
                // An untimed fit first, trained a few steps and scored, so that the first set's fit time is not the process's
                // JIT and torch warm-up (RandomizedPca's time is the fastest of three fits).
                using var warmUp = ml.AnomalyDetection.Trainers.HamiltonianFlow(new HamiltonianFlowAnomalyTrainer.Options { Seed = seed, MaxSteps = 20 }).Fit(train);
                warmUp.Transform(test).Preview(10);
                warm = true;
            }

            var (flow, flowNll, flowRows, tail, kernelShare, seconds) = Flow(ml, train, test, Defaults());
            var (gaussian, gaussianNll, gaussianRows, _, _, gaussianSeconds) = Flow(ml, train, test, PlainGaussian(seed));
            var (stage, _, stageRows, _, _, _) = Flow(ml, train, test, Stage(seed));
            int[] varying = VaryingFeatures(trainRows, set.Dimension);
            if (varying.Length < set.Dimension)
            {
                // The density is compared without the constant columns, on which a continuous density can buy unbounded
                // likelihood: both models are fitted again to the other columns (ionosphere: 32 of 34).
                IDataView Reduced(List<LabeledRow> rows) => LabeledRows.ToDataView(ml, LabeledRows.Select(rows, varying), varying.Length);
                flowNll = Flow(ml, Reduced(trainRows), Reduced(testRows), Defaults()).NormalNll;
                gaussianNll = Flow(ml, Reduced(trainRows), Reduced(testRows), PlainGaussian(seed)).NormalNll;
            }
            var (differenceLow, differenceHigh) = PairedBootstrap.DifferenceInterval(ScoredRow.Pairs(flowRows, gaussianRows, flow, gaussian), seed);
            // Every test row's label and scores, in the test file's order, for analyses outside the library.
            File.WriteAllLines(Path.Combine(output.FullName, $"scores-{set.Name}.csv"),
                flowRows.Zip(gaussianRows, (f, g) => string.Create(CultureInfo.InvariantCulture, $"{f.Label},{f.Score:R},{g.Score:R}")).Prepend("label,flow,gaussian"));
            // Median gains per row, normal / anomalous: in all, of the tails (stage over the plain Gaussian) and of training
            // (the flow over its stage). From the fits whose AUROCs are reported, constant columns included: the flow
            // holds them, so along them its density is its stage's, and the refits above could choose another tail.
            var (normalGain, anomalousGain) = MedianGains(flowRows, gaussianRows);
            var (normalTailGain, anomalousTailGain) = MedianGains(stageRows, gaussianRows);
            var (normalTrainingGain, anomalousTrainingGain) = MedianGains(flowRows, stageRows);
            // ML.NET's default rank is 20, which needs more than 20 features: capped at d - 1 for the narrower sets. Its
            // seed is set (as the Fashion benchmark's is): drawn from the context, it changed with the number of fits before it.
            double rpca = double.NaN, pcaSeconds = double.NaN;
            int? pcaNanRows = null;
            (double Low, double High) overPca = (double.NaN, double.NaN);
            try
            {
                (var pca, pcaSeconds) = FitRandomizedPca(ml, train, Math.Min(20, set.Dimension - 1), seed);
                IDataView pcaScored = pca.Transform(test);
                rpca = RandomizedPcaAuroc(ml, pcaScored);
                // The flow against RandomizedPca on the same rows (issue 12's MNIST-tiny bar), where it scored every row.
                var pcaRows = ScoredRow.Read(ml, pcaScored);
                pcaNanRows = pcaRows.Count(r => float.IsNaN(r.Score));
                if (pcaNanRows > 0)
                    log.WriteLine($"{set.Name}: RandomizedPca scored {pcaNanRows} of {pcaRows.Length} test rows NaN ({pcaRows.Count(r => float.IsNaN(r.Score) && r.Label > 0)} " +
                                  "of them anomalies); Evaluate leaves them out, so its AUROC is of the other rows.");
                else if (!double.IsNaN(rpca))
                    overPca = PairedBootstrap.DifferenceInterval(ScoredRow.Pairs(flowRows, pcaRows, flow, rpca), seed);
            }
            catch (ArgumentOutOfRangeException e)
            {
                // Its eigenvectors can come out NaN (pdspeech: 112 rows of 751 features, values up to 3e10): reported as NaN.
                log.WriteLine($"{set.Name}: RandomizedPca did not fit: {e.Message.Split('\n')[0]}");
            }
            double best = set.PeerAuroc.Values.Max();
            log.WriteLine($"{set.Name,-11}{flow,8:F4}{gaussian,10:F4}{stage,8:F4}{rpca,8:F4}{"| " + set.PeerAuroc["gauss_shrink"].ToString("F4", CultureInfo.InvariantCulture),8}" +
                          $"{set.PeerAuroc["gmm_bic"],8:F4}{set.PeerAuroc["kde_cv"],8:F4}{best,8:F4}{seconds,8:F1}{gaussianSeconds,8:F2}{pcaSeconds,8:F4}{ValidationRun.Tail(tail),8}{kernelShare,7:F2}{ScoredRow.FlaggedNormal(flowRows),6:F2}" +
                          $"{"| " + flowNll.ToString("F2", CultureInfo.InvariantCulture),11}{gaussianNll,10:F2}" +
                          $"{"| " + normalTailGain.ToString("F2", CultureInfo.InvariantCulture),10}{anomalousTailGain,7:F2}{normalTrainingGain,9:F2}{anomalousTrainingGain,7:F2}" +
                          PairedBootstrap.Columns(flow - gaussian, (differenceLow, differenceHigh)) + PairedBootstrap.Columns(flow - rpca, overPca));
            var result = new Dictionary<string, object>
            {
                ["set"] = set.Name, ["flow_auroc"] = flow, ["gaussian_auroc"] = gaussian, ["stage_auroc"] = stage, ["randomized_pca_auroc"] = rpca,
                ["randomized_pca_nan_rows"] = pcaNanRows ?? (object)double.NaN,
                ["flow_fit_seconds"] = seconds, ["randomized_pca_fit_seconds"] = pcaSeconds, ["gaussian_fit_seconds"] = gaussianSeconds,
                ["flow_tail"] = tail, ["flow_kernel_share"] = kernelShare, ["peers_auroc"] = set.PeerAuroc,
                ["flow_normal_flagged"] = ScoredRow.FlaggedNormal(flowRows), ["gaussian_normal_flagged"] = ScoredRow.FlaggedNormal(gaussianRows),
                ["flow_normal_test_nll"] = flowNll, ["gaussian_normal_test_nll"] = gaussianNll, ["density_features"] = varying.Length,
                ["auroc_minus_gaussian_interval95"] = new[] { differenceLow, differenceHigh },
                ["auroc_minus_randomized_pca_interval95"] = new[] { overPca.Low, overPca.High },
                ["median_gain_normal"] = normalGain, ["median_gain_anomalous"] = anomalousGain,
                ["median_tail_gain_normal"] = normalTailGain, ["median_tail_gain_anomalous"] = anomalousTailGain,
                ["median_training_gain_normal"] = normalTrainingGain, ["median_training_gain_anomalous"] = anomalousTrainingGain,
            };
            if (checks)
                result["checks"] = Checks(ml, set, trainRows, testRows, seed, flow, Defaults, log);
            results.Add(result);
            // Written after every set, so that a failure in a later one keeps the results so far.
            Write(output, seed, results);
        }
        if (sets.Count > 1)
        {
            double Mean(string key) => results.Average(r => (double)r[key]);
            double Peer(string key) => sets.Average(s => s.PeerAuroc[key]);
            log.WriteLine($"{"mean",-11}{Mean("flow_auroc"),8:F4}{Mean("gaussian_auroc"),10:F4}{Mean("stage_auroc"),8:F4}{Mean("randomized_pca_auroc"),8:F4}" +
                          $"{"| " + Peer("gauss_shrink").ToString("F4", CultureInfo.InvariantCulture),8}{Peer("gmm_bic"),8:F4}{Peer("kde_cv"),8:F4}" +
                          $"{sets.Average(s => s.PeerAuroc.Values.Max()),8:F4}");
            log.WriteLine("stage: the Gaussian stage the flow starts from (its tails, no training). NLL: mean negative log-likelihood of the " +
                          "test file's normal rows, nats per row, constant training columns left out. fit s: the Fit alone of the flow, the plain Gaussian " +
                          "(the same trainer, no training step) and RandomizedPca (the fastest of three), in the same process. flag: the fraction of the normal test rows the flow's PredictedLabel flags (its threshold aims at 0.05). tails, train n / a: median over the normal / " +
                          "anomalous test rows of the stage's log-likelihood minus the plain Gaussian's, and of the flow's minus the stage's. " +
                          "-Gauss: the flow's AUROC minus the plain Gaussian's, and its 95% interval over 2,000 paired, stratified " +
                          "bootstrap resamples of the test file (how much another test file of the same size would move it); -RPCA: the same against RandomizedPca.");
        }
        log.WriteLine($"Wrote {Write(output, seed, results)}");
        return results;
    }

    private static string Write(DirectoryInfo output, int seed, List<Dictionary<string, object>> results)
    {
        string json = Path.Combine(output.FullName, "results.json");
        File.WriteAllText(json, JsonSerializer.Serialize(new { seed, cpu = Machine.CpuModel(), sets = results },
            Machine.ResultsJson));
        return json;
    }

    /// <summary>
    /// ML.NET's RandomizedPca fitted to the training rows, and the seconds of its Fit, reported beside the flow's. A first
    /// fit, not timed, leaves out the one-time cost of loading and compiling its code, which would otherwise land on the
    /// first set; of the next three fits (milliseconds each on these sets) the fastest is kept, the one least disturbed by
    /// the shared machine.
    /// </summary>
    internal static (ITransformer Model, double Seconds) FitRandomizedPca(MLContext ml, IDataView train, int rank, int seed)
    {
        var trainer = ml.AnomalyDetection.Trainers.RandomizedPca(rank: rank, seed: seed);
        ITransformer model = trainer.Fit(train);
        double fastest = double.PositiveInfinity;
        for (int i = 0; i < 3; i++)
        {
            var clock = Stopwatch.StartNew();
            model = trainer.Fit(train);
            fastest = Math.Min(fastest, clock.Elapsed.TotalSeconds);
        }
        return (model, fastest);
    }

    // RandomizedPca scores NaN where its projection fails (shuttle's wide ranges), and Evaluate drops those rows.
    private static double RandomizedPcaAuroc(MLContext ml, IDataView scored)
    {
        try
        {
            return ml.AnomalyDetection.Evaluate(scored).AreaUnderRocCurve;
        }
        catch (ArgumentOutOfRangeException)
        {
            return double.NaN;
        }
    }

    /// <summary>
    /// The detector's options for the Gaussian stage the defaults start from, heavier tails included (no kernel density):
    /// what training and the kernel density add is measured from it.
    /// </summary>
    internal static HamiltonianFlowAnomalyTrainer.Options Stage(int seed) => new() { Seed = seed, MaxSteps = 0, KernelDensityCentres = 0 };

    /// <summary>The detector's options for the shrinkage Gaussian: no training step, no heavier tails, no kernel density.</summary>
    internal static HamiltonianFlowAnomalyTrainer.Options PlainGaussian(int seed) => new() { Seed = seed, MaxSteps = 0, HeavyTails = false, KernelDensityCentres = 0 };

    // The test AUROC of a detector fitted with the options, the mean score (negative log-likelihood, nats) of the test
    // file's normal rows, every test row's score and label in the file's order, the tail c its Gaussian stage chose, its
    // kernel density's share (0: none), and the seconds its Fit took.
    private sealed record DetectorRun(double Auroc, double NormalNll, ScoredRow[] Rows, double Tail, double KernelShare, double FitSeconds);

    private static DetectorRun Flow(MLContext ml, IDataView train, IDataView test, HamiltonianFlowAnomalyTrainer.Options options)
    {
        var clock = Stopwatch.StartNew();
        var model = ml.AnomalyDetection.Trainers.HamiltonianFlow(options).Fit(train);
        double fitSeconds = clock.Elapsed.TotalSeconds;
        // Cached: the evaluator and the mean read the same scores, computed once.
        IDataView scored = ml.Data.Cache(model.Transform(test));
        double auroc = ml.AnomalyDetection.Evaluate(scored).AreaUnderRocCurve;
        ScoredRow[] rows = ScoredRow.Read(ml, scored);
        double normalNll = rows.Where(r => r.Label == 0).Average(r => (double)r.Score);
        double tail = model.Model.GaussianTail, kernelShare = model.Model.KernelDensityWeight;
        model.Model.Dispose();
        return new DetectorRun(auroc, normalNll, rows, tail, kernelShare, fitSeconds);
    }

    // The medians, over the normal and over the anomalous test rows, of what one detector's log-likelihood gains over
    // another's on the same row (nats): a summary of where the likelihood goes, not a bound on the ranking. Rows scored
    // NaN (a non-finite feature) are left out.
    internal static (double Normal, double Anomalous) MedianGains(ScoredRow[] model, ScoredRow[] reference)
    {
        if (model.Length != reference.Length)
            throw new InvalidOperationException($"The two detectors scored {model.Length} and {reference.Length} test rows.");
        double Median(bool anomalous)
        {
            double[] gains = model.Zip(reference).Where(pair => pair.First.Label > 0 == anomalous)
                .Select(pair => (double)pair.Second.Score - pair.First.Score).Where(gain => !double.IsNaN(gain)).Order().ToArray();
            return gains.Length == 0 ? double.NaN : (gains[(gains.Length - 1) / 2] + gains[gains.Length / 2]) / 2;
        }
        return (Median(false), Median(true));
    }

    // The features that take more than one finite value in the training rows (a row with a NaN is not fitted).
    private static int[] VaryingFeatures(List<LabeledRow> train, int dimension) =>
        Enumerable.Range(0, dimension).Where(j => train.Select(r => r.Features[j]).Where(float.IsFinite).Distinct().Skip(1).Any()).ToArray();

    /// <summary>
    /// Items 4 and 5 of the models issue: NormalizeMinMax in front (same seed), one training row added 1e6 standard
    /// deviations out on every feature, and 5% of the training rows replaced by anomalies from one half of the test file's
    /// anomalies, scored on the test file without them (the flow and the shrinkage Gaussian alike).
    /// </summary>
    private static Dictionary<string, double> Checks(
        MLContext ml, TabularSet set, List<LabeledRow> train, List<LabeledRow> test, int seed, double flow,
        Func<HamiltonianFlowAnomalyTrainer.Options> defaults, TextWriter log)
    {
        int d = set.Dimension;
        IDataView testView = LabeledRows.ToDataView(ml, test, d);
        var normalized = ml.Transforms.NormalizeMinMax("Features")
            .Append(ml.AnomalyDetection.Trainers.HamiltonianFlow(defaults()))
            .Fit(LabeledRows.ToDataView(ml, train, d));
        double normalizedAuroc = ml.AnomalyDetection.Evaluate(normalized.Transform(testView)).AreaUnderRocCurve;

        var mean = Enumerable.Range(0, d).Select(j => train.Average(r => (double)r.Features[j])).ToArray();
        var sd = Enumerable.Range(0, d).Select(j => Math.Sqrt(train.Average(r => Math.Pow(r.Features[j] - mean[j], 2)))).ToArray();
        var outlier = new LabeledRow { Features = Enumerable.Range(0, d).Select(j => (float)(mean[j] + 1e6 * Math.Max(sd[j], 1))).ToArray() };
        double withOutlier = Flow(ml, LabeledRows.ToDataView(ml, train.Append(outlier), d), testView, defaults()).Auroc;

        var random = new Random(seed);
        var anomalies = test.Where(r => r.Label > 0).OrderBy(_ => random.Next()).ToList();
        var contaminating = anomalies.Take(anomalies.Count / 2).ToList();
        int count = Math.Min(contaminating.Count, (int)Math.Round(0.05 * train.Count / 0.95));
        var contaminatedTrain = LabeledRows.ToDataView(ml, train.Concat(contaminating.Take(count)), d);
        var remainingTest = LabeledRows.ToDataView(ml, test.Except(contaminating), d);
        var (contaminated, _, _, contaminatedTail, _, _) = Flow(ml, contaminatedTrain, remainingTest, defaults());
        double contaminatedGaussian = Flow(ml, contaminatedTrain, remainingTest, PlainGaussian(seed)).Auroc;
        log.WriteLine($"{"",-11}checks: MinMax {normalizedAuroc:F4} ({normalizedAuroc - flow:+0.0000;-0.0000;+0.0000}), gross outlier {withOutlier:F4} " +
                      $"({withOutlier - flow:+0.0000;-0.0000;+0.0000}), {count} anomalies in training: flow {contaminated:F4} (tail c {ValidationRun.Tail(contaminatedTail)}), Gaussian {contaminatedGaussian:F4}");
        return new Dictionary<string, double>
        {
            ["normalized_auroc"] = normalizedAuroc, ["gross_outlier_auroc"] = withOutlier,
            ["contaminated_rows"] = count, ["contaminated_flow_auroc"] = contaminated, ["contaminated_flow_tail"] = contaminatedTail,
            ["contaminated_gaussian_auroc"] = contaminatedGaussian,
        };
    }
}
