using System.Diagnostics;
using System.Text.Json;
using Microsoft.ML.HamiltonianFlows.Inference;
using Microsoft.ML.HamiltonianFlows.Torch;
using TorchSharp;
using static TorchSharp.torch;

namespace SupernovaCosmology;

/// <summary>
/// The paper's Bayesian example: the posterior of (Omega_m, Omega_Lambda) from type Ia supernovae, sampled by a
/// fixed-kinetic Hamiltonian flow and checked against the exact grid posterior and a long HMC run.
/// </summary>
internal static class CosmologyExperiment
{
    // Effective draws both samplers are timed to reach.
    private const double EffectiveTarget = 10_000;

    public static void Run(RunSettings settings, string dataPath, DirectoryInfo outFolder, TextWriter log)
    {
        outFolder.Create();
        torch.set_num_threads(1);
        var catalogue = SupernovaCatalog.Load(dataPath);
        log.WriteLine($"{catalogue.Count} supernovae from {dataPath}, z {catalogue.Min(s => s.Redshift):F3}-{catalogue.Max(s => s.Redshift):F3}");
        using var posterior = new SupernovaPosterior(catalogue);

        var watch = Stopwatch.StartNew();
        var grid = new GridPosterior(posterior.LogDensity, settings.GridColumns, settings.GridRows);
        double gridSeconds = watch.Elapsed.TotalSeconds;
        double[] gridSd = grid.StandardDeviation;
        double gridCorrelation = grid.Covariance[0, 1] / (gridSd[0] * gridSd[1]);
        log.WriteLine($"grid {settings.GridColumns}x{settings.GridRows} ({gridSeconds:F1} s): log Z {grid.LogEvidence:F4}, mean ({grid.Mean[0]:F4}, {grid.Mean[1]:F4}), " +
                      $"sd ({gridSd[0]:F4}, {gridSd[1]:F4}), correlation {gridCorrelation:F3}");

        // The fixed-kinetic flow, started at the centre of the prior box (logit 0) with unit scale in logit units: one
        // Hamiltonian of 8 leapfrog steps, the model of docs/bayesian-inference.md (9,030 parameters), set here since the
        // library's default became 4 Hamiltonians of 4 steps.
        var architecture = new FlowArchitecture
        {
            Dimension = 2, HiddenLayers = new[] { 64, 64 }, Hamiltonians = 1, LeapfrogSteps = 8, Precision = ScalarType.Float64,
        };
        var options = new PosteriorSamplerOptions
        {
            Steps = settings.FlowSteps, BatchSize = settings.BatchSize, Seed = settings.Seed, NumberOfThreads = 1,
            Constraints = SupernovaPosterior.Constraints, ReportInterval = Math.Max(1, settings.FlowSteps / 10),
        };
        watch.Restart();
        using var flow = PosteriorSampler.Train(architecture, posterior.LogDensity, options,
            p => log.WriteLine($"  step {p.Steps}: -objective {p.TrainingLoss:F4}, learning rate {p.LearningRate:G3}"));
        double trainSeconds = watch.Elapsed.TotalSeconds;
        using var generator = new Generator((ulong)settings.Seed + 1);
        watch.Restart();
        var samples = flow.Sample(settings.FlowSamples, generator);
        double sampleSeconds = watch.Elapsed.TotalSeconds;
        var weighted = samples.Summarize();
        var unweighted = samples.Summarize(importanceWeighted: false);
        double kl = KullbackLeibler(grid, flow, settings.DensitySamples, generator);
        log.WriteLine($"flow ({trainSeconds:F1} s training, {sampleSeconds:F2} s for {samples.Count} draws): ELBO {samples.EvidenceLowerBound:F4}, " +
                      $"IW log Z {samples.LogEvidence:F4}, ESS {samples.EffectiveSampleSize:F0}, KL(grid || flow) {kl:F4}");
        log.WriteLine($"  weighted mean ({weighted.Mean[0]:F4}, {weighted.Mean[1]:F4}), sd ({weighted.StandardDeviation[0]:F4}, {weighted.StandardDeviation[1]:F4}); " +
                      $"unweighted mean ({unweighted.Mean[0]:F4}, {unweighted.Mean[1]:F4}), sd ({unweighted.StandardDeviation[0]:F4}, {unweighted.StandardDeviation[1]:F4})");

        var hmc = RunHmc(posterior, settings);
        double[] hmcDraws = hmc.Draws.SelectMany(d => d).ToArray();
        var hmcSummary = Summaries(hmcDraws);
        double[] hmcEss = { ChainDiagnostics.EffectiveSampleSize(hmc.Draws, 2, 0), ChainDiagnostics.EffectiveSampleSize(hmc.Draws, 2, 1) };
        log.WriteLine($"HMC ({settings.Chains} chains, {hmc.WarmupTime.TotalSeconds:F1} s warm-up, {hmc.DrawTime.TotalSeconds:F1} s for {settings.Draws} draws each): " +
                      $"acceptance {hmc.AcceptanceRate:F2}, step {hmc.StepSize:G3}, ESS ({hmcEss[0]:F0}, {hmcEss[1]:F0}), mean ({hmcSummary.Mean[0]:F4}, {hmcSummary.Mean[1]:F4}), " +
                      $"sd ({hmcSummary.Sd[0]:F4}, {hmcSummary.Sd[1]:F4})");

        double flowSecondsToTarget = trainSeconds + sampleSeconds * EffectiveTarget / samples.EffectiveSampleSize;
        double hmcSecondsToTarget = hmc.WarmupTime.TotalSeconds + hmc.DrawTime.TotalSeconds * EffectiveTarget / hmcEss.Min();
        log.WriteLine($"seconds to {EffectiveTarget:F0} effective draws: flow {flowSecondsToTarget:F1}, HMC {hmcSecondsToTarget:F1}");

        object Errors(double[] mean, double[] sd) => new
        {
            meanErrorInSd = new[] { (mean[0] - grid.Mean[0]) / gridSd[0], (mean[1] - grid.Mean[1]) / gridSd[1] },
            sdRatio = new[] { sd[0] / gridSd[0], sd[1] / gridSd[1] },
        };
        var metrics = new
        {
            supernovae = catalogue.Count,
            truth = new[] { Cosmology.Truth.MatterDensity, Cosmology.Truth.DarkEnergyDensity },
            settings,
            grid = new { logEvidence = grid.LogEvidence, mean = grid.Mean, sd = gridSd, correlation = gridCorrelation, seconds = gridSeconds },
            flow = new
            {
                parameters = flow.Flow.ParameterCount,
                evidenceLowerBound = samples.EvidenceLowerBound,
                logEvidence = samples.LogEvidence,
                logEvidenceError = samples.LogEvidence - grid.LogEvidence,
                effectiveSampleSize = samples.EffectiveSampleSize,
                klGridToFlow = kl,
                weighted = new { mean = weighted.Mean, sd = weighted.StandardDeviation, errors = Errors(weighted.Mean, weighted.StandardDeviation) },
                unweighted = new { mean = unweighted.Mean, sd = unweighted.StandardDeviation, errors = Errors(unweighted.Mean, unweighted.StandardDeviation) },
                trainSeconds,
                sampleSeconds,
                secondsToTarget = flowSecondsToTarget,
            },
            hmc = new
            {
                acceptance = hmc.AcceptanceRate,
                stepSize = hmc.StepSize,
                effectiveSampleSize = hmcEss,
                gradientEvaluations = hmc.GradientEvaluations,
                mean = hmcSummary.Mean,
                sd = hmcSummary.Sd,
                errors = Errors(hmcSummary.Mean, hmcSummary.Sd),
                warmupSeconds = hmc.WarmupTime.TotalSeconds,
                drawSeconds = hmc.DrawTime.TotalSeconds,
                secondsToTarget = hmcSecondsToTarget,
            },
            effectiveTarget = EffectiveTarget,
        };
        File.WriteAllText(Path.Combine(outFolder.FullName, "metrics.json"), JsonSerializer.Serialize(metrics, new JsonSerializerOptions { WriteIndented = true }));

        CosmologyPlots.WriteContours(Path.Combine(outFolder.FullName, "contours.png"), grid, new[]
        {
            ("fixed-kinetic NHF", samples.Values),
            ("HMC", hmcDraws),
        });
        log.WriteLine($"wrote metrics.json and contours.png to {outFolder.FullName}");
    }

    /// <summary>
    /// KL(grid || flow) = sum_c m_c (log p(theta_c) - log q(theta_c)) over the cells carrying 99.9% of the grid's mass (the
    /// rest contribute at most about 0.001 times their log ratio), q from the flow's importance-weighted marginal density.
    /// </summary>
    private static double KullbackLeibler(GridPosterior grid, PosteriorFlow flow, int momentumSamples, Generator generator)
    {
        int[] cells = grid.HeaviestCells(0.999);
        double[] logQ = grid.Evaluate(cells, theta => flow.LogDensity(theta, momentumSamples, generator));
        double cellArea = grid.CellWidth * grid.CellHeight, sum = 0;
        for (int k = 0; k < cells.Length; k++)
            sum += grid.Mass[cells[k]] * (Math.Log(grid.Mass[cells[k]] / cellArea) - logQ[k]);
        return sum / cells.Sum(c => grid.Mass[c]);
    }

    private static HamiltonianMonteCarlo.Result RunHmc(SupernovaPosterior posterior, RunSettings settings)
    {
        // Chains start at random points of the prior box (uniform in logit units on (-2, 2)), as a practitioner would.
        var random = new Random(settings.Seed + 2);
        var initial = new double[settings.Chains, 2];
        for (int c = 0; c < settings.Chains; c++)
            for (int j = 0; j < 2; j++)
                initial[c, j] = 4 * random.NextDouble() - 2;
        Tensor LogDensity(Tensor u)
        {
            var (theta, logJacobian) = ParameterConstraint.Constrain(SupernovaPosterior.Constraints, u);
            return posterior.LogDensity(theta) + logJacobian;
        }
        var result = HamiltonianMonteCarlo.Run(LogDensity, initial, settings.Warmup, settings.Draws, settings.LeapfrogSteps, settings.Seed + 3);
        // The draws in the parameters' own units.
        var draws = result.Draws.Select(chain =>
        {
            using var u = tensor(chain, new long[] { chain.Length / 2, 2 });
            using var theta = ParameterConstraint.Constrain(SupernovaPosterior.Constraints, u).Theta;
            return theta.data<double>().ToArray();
        }).ToArray();
        return result with { Draws = draws };
    }

    private static (double[] Mean, double[] Sd) Summaries(double[] points)
    {
        int n = points.Length / 2;
        var mean = new double[2];
        var sd = new double[2];
        for (int j = 0; j < 2; j++)
        {
            mean[j] = Enumerable.Range(0, n).Average(i => points[2 * i + j]);
            sd[j] = Math.Sqrt(Enumerable.Range(0, n).Sum(i => Math.Pow(points[2 * i + j] - mean[j], 2)) / (n - 1));
        }
        return (mean, sd);
    }
}
