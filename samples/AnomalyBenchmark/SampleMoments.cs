using System.Text.Json;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.HamiltonianFlows;

namespace AnomalyBenchmark;

/// <summary>
/// Item 5 of the models issue: samples at default options, in the feature column's units, against the training rows.
/// For every feature that varies in training, the mean of 20,000 draws must lie within 0.1 training standard deviations
/// of the training mean, and their standard deviation within 15% of the training one.
/// </summary>
internal static class SampleMoments
{
    private const int Draws = 20_000;
    private const double MeanTolerance = 0.1, ScaleTolerance = 0.15;

    public static void Run(IReadOnlyList<TabularSet> sets, string dataFolder, int seed, long? maxSteps, int? trainingSamples, DirectoryInfo output, TextWriter log)
    {
        output.Create();
        log.WriteLine($"Samples at default options{(maxSteps is long m ? $" but MaxSteps {m}" : "")}{(trainingSamples is int t ? $" but TrainingImportanceSamples {t}" : "")} ({Draws:N0} draws, seed {seed}) against the " +
                      "training rows, features that vary in training.");
        log.WriteLine($"{"set",-11}{"features",9}{"worst |dmean|/sd",18}{"worst sd ratio",16}{"outside",9}");
        var results = new List<Dictionary<string, object>>();
        foreach (var set in sets)
        {
            var ml = new MLContext(seed);
            var rows = LabeledRows.Read(ml, set.Train(ml, dataFolder));
            var options = new HamiltonianFlowTrainer.Options { Seed = seed };
            if (maxSteps is long steps)
                options.MaxSteps = steps;
            if (trainingSamples is int k)
                options.TrainingImportanceSamples = k;
            using var model = ml.Transforms.HamiltonianFlow(options)
                .Fit(LabeledRows.ToDataView(ml, rows, set.Dimension));
            float[][] draws = model.Sample(Draws, seed).GetColumn<VBuffer<float>>("Features").Select(v => v.DenseValues().ToArray()).ToArray();

            double worstMean = 0, worstRatio = 1;
            int varying = 0, outside = 0;
            for (int j = 0; j < set.Dimension; j++)
            {
                var (trainMean, trainSd) = Moments(rows.Select(r => (double)r.Features[j]));
                if (!(trainSd > 0))
                    continue;
                varying++;
                var (drawMean, drawSd) = Moments(draws.Select(r => (double)r[j]));
                double meanGap = Math.Abs(drawMean - trainMean) / trainSd, ratio = drawSd / trainSd;
                if (meanGap > worstMean)
                    worstMean = meanGap;
                if (Math.Abs(ratio - 1) > Math.Abs(worstRatio - 1))
                    worstRatio = ratio;
                if (meanGap > MeanTolerance || Math.Abs(ratio - 1) > ScaleTolerance)
                    outside++;
            }
            log.WriteLine($"{set.Name,-11}{varying,9}{worstMean,18:F3}{worstRatio,16:F3}{outside,9}");
            results.Add(new Dictionary<string, object>
            {
                ["set"] = set.Name, ["varying_features"] = varying, ["worst_mean_gap_sd"] = worstMean, ["worst_sd_ratio"] = worstRatio,
                ["features_outside"] = outside,
            });
        }
        string json = Path.Combine(output.FullName, "sample-moments.json");
        File.WriteAllText(json, JsonSerializer.Serialize(new { seed, draws = Draws, cpu = Machine.CpuModel(), sets = results },
            Machine.ResultsJson));
        log.WriteLine($"Wrote {json}");
    }

    private static (double Mean, double Sd) Moments(IEnumerable<double> values)
    {
        double[] v = values.ToArray();
        double mean = v.Average();
        return (mean, Math.Sqrt(v.Sum(x => (x - mean) * (x - mean)) / v.Length));
    }
}
