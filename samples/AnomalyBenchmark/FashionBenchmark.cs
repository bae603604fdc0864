using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using ImageFlows;
using Microsoft.ML;
using Microsoft.ML.HamiltonianFlows;

namespace AnomalyBenchmark;

/// <summary>
/// One-class anomaly detection on Fashion-MNIST (Ruff et al., Deep SVDD, ICML 2018): for each class, train on that
/// class's training images (14 x 14 by 2 x 2 block averaging, pixels / 255), score the test images, the other nine
/// classes being anomalies. The flow at default options, the shrinkage Gaussian (the same fit with no training step and no
/// heavier tails), the flow's Gaussian stage (no training step, its heavier tails) and RandomizedPca (rank 20), with the
/// fit times of the flow, of the plain Gaussian and of RandomizedPca in the same process.
/// </summary>
internal static class FashionBenchmark
{
    public static void Run(int[] classes, int maxTest, int seed, DirectoryInfo output, TextWriter log, int? importanceSamples = null)
    {
        output.Create();
        var (train, test) = DataSources.FashionMnist(log);
        train = train.Downsample(2);
        test = test.Take(maxTest).Downsample(2);
        log.WriteLine($"Fashion-MNIST one-class, 14 x 14, {test.Count} test images; test AUROC at default options, MLContext seed {seed}.");
        log.WriteLine($"{"class",6}{"flow",8}{"Gaussian",10}{"stage",8}{"RPCA",8}{"fit s",8}{"Gauss s",8}{"RPCA s",8}{"| -Gauss",10}{"95%",19}{"train n",9}{"a",9}");
        var results = new List<Dictionary<string, object>>();
        var classPairs = new List<(double Model, double Reference, bool Anomalous)[]>();
        foreach (int normal in classes)
        {
            var ml = new MLContext(seed);
            var normalTrain = train.Select(Enumerable.Range(0, train.Count).Where(i => train.Labels[i] == normal).ToArray());
            IDataView trainView = Rows(ml, normalTrain, _ => false);
            IDataView testView = Rows(ml, test, label => label != normal);

            var clock = Stopwatch.StartNew();
            var flow = ml.AnomalyDetection.Trainers.HamiltonianFlow(new HamiltonianFlowAnomalyTrainer.Options { Seed = seed, ScoringImportanceSamples = importanceSamples }).Fit(trainView);
            double seconds = clock.Elapsed.TotalSeconds;
            IDataView flowScored = ml.Data.Cache(flow.Transform(testView));
            double flowAuroc = ml.AnomalyDetection.Evaluate(flowScored).AreaUnderRocCurve;
            ScoredRow[] flowRows = ScoredRow.Read(ml, flowScored);
            double tail = flow.Model.GaussianTail;
            double kernelShare = flow.Model.KernelDensityWeight;
            double flagged = ScoredRow.FlaggedNormal(flowRows);
            log.WriteLine($"  class {normal}: K = {flow.Model.ScoringImportanceSamples}, Gaussian share {flow.Model.GaussianWeight:G3}, tail c {ValidationRun.Tail(tail)}, " +
                          $"kernel density share {kernelShare:G3}; PredictedLabel flags {flagged:F3} of the normal test images (threshold aims at 0.05)");
            flow.Model.Dispose();
            clock.Restart();
            var gaussian = ml.AnomalyDetection.Trainers.HamiltonianFlow(TabularBenchmark.PlainGaussian(seed)).Fit(trainView);
            double gaussianSeconds = clock.Elapsed.TotalSeconds;
            IDataView gaussianScored = ml.Data.Cache(gaussian.Transform(testView));
            double gaussianAuroc = ml.AnomalyDetection.Evaluate(gaussianScored).AreaUnderRocCurve;
            var pairs = ScoredRow.Pairs(flowRows, ScoredRow.Read(ml, gaussianScored), flowAuroc, gaussianAuroc);
            classPairs.Add(pairs);
            var (differenceLow, differenceHigh) = PairedBootstrap.DifferenceInterval(pairs, seed);
            gaussian.Model.Dispose();
            // The stage alone (its heavier tails, no training): the flow's shortfall split into the tails' and training's.
            var stage = ml.AnomalyDetection.Trainers.HamiltonianFlow(TabularBenchmark.Stage(seed)).Fit(trainView);
            IDataView stageScored = ml.Data.Cache(stage.Transform(testView));
            double stageAuroc = ml.AnomalyDetection.Evaluate(stageScored).AreaUnderRocCurve;
            // Where training moves the likelihood: its median gain over the stage on the normal and on the anomalous images.
            var (normalTrainingGain, anomalousTrainingGain) = TabularBenchmark.MedianGains(flowRows, ScoredRow.Read(ml, stageScored));
            stage.Model.Dispose();
            var (pca, pcaSeconds) = TabularBenchmark.FitRandomizedPca(ml, trainView, 20, seed);
            double pcaAuroc = ml.AnomalyDetection.Evaluate(pca.Transform(testView)).AreaUnderRocCurve;

            log.WriteLine($"{normal,6}{flowAuroc,8:F4}{gaussianAuroc,10:F4}{stageAuroc,8:F4}{pcaAuroc,8:F4}{seconds,8:F1}{gaussianSeconds,8:F2}{pcaSeconds,8:F3}" +
                          PairedBootstrap.Columns(flowAuroc - gaussianAuroc, (differenceLow, differenceHigh)) +
                          $"{normalTrainingGain,9:F1}{anomalousTrainingGain,9:F1}");
            results.Add(new Dictionary<string, object>
            {
                ["class"] = normal, ["flow_auroc"] = flowAuroc, ["gaussian_auroc"] = gaussianAuroc, ["stage_auroc"] = stageAuroc, ["randomized_pca_auroc"] = pcaAuroc,
                ["flow_fit_seconds"] = seconds, ["gaussian_fit_seconds"] = gaussianSeconds, ["randomized_pca_fit_seconds"] = pcaSeconds, ["flow_tail"] = tail,
                ["flow_kernel_share"] = kernelShare, ["flow_normal_flagged"] = flagged,
                ["auroc_minus_gaussian_interval95"] = new[] { differenceLow, differenceHigh },
                ["median_training_gain_normal"] = normalTrainingGain, ["median_training_gain_anomalous"] = anomalousTrainingGain,
            });
        }
        double Mean(string key) => results.Average(r => (double)r[key]);
        // The ten tasks score the same test images, so the mean's resamples draw one set of images for all of them,
        // stratified by the images' own classes.
        var (meanLow, meanHigh) = PairedBootstrap.Intervals(test.Labels, classPairs, seed).Mean;
        log.WriteLine($"{"mean",6}{Mean("flow_auroc"),8:F4}{Mean("gaussian_auroc"),10:F4}{Mean("stage_auroc"),8:F4}{Mean("randomized_pca_auroc"),8:F4}{"",24}" +
                      PairedBootstrap.Columns(Mean("flow_auroc") - Mean("gaussian_auroc"), (meanLow, meanHigh)));
        log.WriteLine("-Gauss: the flow's AUROC minus the plain Gaussian's, and its 95% interval over 2,000 paired bootstrap resamples " +
                      "of the test images (for a class, stratified by normal and anomalous; for the mean, one draw of images for " +
                      "all the classes, stratified by the images' own classes). train n / a: median over the normal / anomalous test " +
                      "images of the flow's log-likelihood minus its stage's, nats.");
        string json = Path.Combine(output.FullName, "fashion-results.json");
        File.WriteAllText(json, JsonSerializer.Serialize(new
            {
                seed, cpu = Machine.CpuModel(), test_images = test.Count, classes = results,
                mean_auroc_minus_gaussian_interval95 = new[] { meanLow, meanHigh },
            },
            Machine.ResultsJson));
        log.WriteLine($"Wrote {json}");
    }

    private static IDataView Rows(MLContext ml, ImageSet images, Func<int, bool> isAnomaly) =>
        LabeledRows.ToDataView(ml, Enumerable.Range(0, images.Count).Select(i => new LabeledRow
        {
            Label = isAnomaly(images.Labels[i]) ? 1 : 0,
            Features = images.Image(i).ToArray().Select(b => b / 255f).ToArray(),
        }), images.PixelsPerImage);
}
