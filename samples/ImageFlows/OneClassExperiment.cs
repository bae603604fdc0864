using Microsoft.ML.HamiltonianFlows;
using System.Diagnostics;
using System.Globalization;
using Microsoft.ML;
using Microsoft.ML.HamiltonianFlows.Torch;

namespace ImageFlows;

/// <summary>
/// One-class anomaly detection on Fashion-MNIST, the standard protocol (Ruff et al., Deep SVDD, ICML 2018): for each
/// class, train on that class's training images only, score the whole test set, and count the other nine classes
/// as anomalies; AUROC per class and its mean. The flow's anomaly detector (Score = -log p) and RandomizedPca
/// (reconstruction error) see the same features and the same splits, and are evaluated by the same
/// mlContext.AnomalyDetection.Evaluate.
/// </summary>
internal static class OneClassExperiment
{
    public const int PcaRank = 20;

    public static void Run(ImageBudget budget, DirectoryInfo output, TextWriter log, int[] classes)
    {
        output.Create();
        var (train, test) = DataSources.FashionMnist(log);
        int factor = 28 / budget.Side;
        train = train.Downsample(factor);
        test = test.Take(budget.MaxTestImages).Downsample(factor);
        var ml = new MLContext(seed: budget.Seed);

        string csv = Path.Combine(output.FullName, "one-class.csv");
        File.WriteAllText(csv, "class,train_images,test_images,nhf_auroc,pca_auroc,nhf_seconds\n");
        log.WriteLine($"One-class Fashion-MNIST on {budget.Side} x {budget.Side} pixels in [0, 1]: fixed-kinetic NHF ({budget.Steps} steps) vs RandomizedPca (rank {PcaRank})");
        log.WriteLine($"{"class",6}{"train",7}{"NHF AUROC",11}{"PCA AUROC",11}{"NHF s",8}");
        var results = new List<(double Nhf, double Pca)>();
        foreach (int normal in classes)
        {
            var normalTrain = train.Select(Enumerable.Range(0, train.Count).Where(i => train.Labels[i] == normal).Take(budget.MaxTrainImages).ToArray());
            IDataView trainRows = ImageRows.Scaled(ml, normalTrain, _ => false);
            IDataView testRows = ImageRows.Scaled(ml, test, label => label != normal);

            var clock = Stopwatch.StartNew();
            var nhf = ml.AnomalyDetection.Trainers.HamiltonianFlow(ImageFlowOptions.Create<HamiltonianFlowAnomalyTrainer.Options>(budget, KineticEnergyKind.Quadratic)).Fit(trainRows);
            double seconds = clock.Elapsed.TotalSeconds;
            double nhfAuroc = ml.AnomalyDetection.Evaluate(nhf.Transform(testRows)).AreaUnderRocCurve;
            nhf.Model.Dispose();

            var pca = ml.AnomalyDetection.Trainers.RandomizedPca(rank: PcaRank, seed: budget.Seed).Fit(trainRows);
            double pcaAuroc = ml.AnomalyDetection.Evaluate(pca.Transform(testRows)).AreaUnderRocCurve;

            results.Add((nhfAuroc, pcaAuroc));
            log.WriteLine($"{normal,6}{normalTrain.Count,7}{nhfAuroc,11:F4}{pcaAuroc,11:F4}{seconds,8:F0}");
            File.AppendAllText(csv, string.Join(',', normal, normalTrain.Count, test.Count, F(nhfAuroc), F(pcaAuroc), seconds.ToString("F1", CultureInfo.InvariantCulture)) + "\n");
        }
        log.WriteLine($"{"mean",6}{"",7}{results.Average(r => r.Nhf),11:F4}{results.Average(r => r.Pca),11:F4}");
        log.WriteLine($"Wrote {csv}");
    }

    private static string F(double x) => x.ToString("R", CultureInfo.InvariantCulture);
}
