using System.Collections.Concurrent;
using System.Globalization;
using System.Text;
using Microsoft.ML.HamiltonianFlows.Torch;
using TorchSharp;

namespace GaussianMixture2D;

/// <summary>Settings of the robustness sweep.</summary>
/// <param name="Run">Budget of each training (steps, data, importance samples, grid for the potential match).</param>
/// <param name="Seeds">Seeds per point; each seed draws its own data and weights.</param>
/// <param name="Parallel">Trainings run at once, one torch thread each.</param>
/// <param name="Quick">Two values per knob instead of four.</param>
internal sealed record SweepSettings(RunSettings Run, int Seeds, int Parallel, bool Quick)
{
    /// <summary>The budget of docs/experiments.md: 84 distinct trainings of 1,000 steps, 2 at a time.</summary>
    public static readonly SweepSettings Default = new(new RunSettings(Steps: 1000, TrainPoints: 20000, TestPoints: 2000, ImportanceSamples: 32, GridCells: 60, Seed: 0), Seeds: 3, Parallel: 2, Quick: false);

    /// <summary>Seconds, for smoke tests.</summary>
    public static readonly SweepSettings QuickSettings = new(RunSettings.Quick with { GridCells = 20 }, Seeds: 1, Parallel: 2, Quick: true);
}

/// <summary>
/// The paper's robustness study on the ring: each knob moved away from a base architecture, each point trained with
/// several seeds for both variants, scored by the excess test NLL and the potential's match to -log p.
/// </summary>
internal static class RobustnessSweep
{
    // Cheaper than the main job (2 Hamiltonians of L = 4 and 5,000 steps), so that the whole sweep fits in under an hour on
    // 2 shared cores.
    private static readonly FlowArchitecture Base = new()
    {
        Dimension = 2, HiddenLayers = new[] { 64, 64 }, EncoderHiddenLayers = new[] { 64, 64 }, Hamiltonians = 1, LeapfrogSteps = 4,
        StepSize = 0.15, LearnStepSize = true, SeparableWells = false, // the paper's potential, as in the main job
    };

    private static readonly (string Name, KineticEnergyKind Kinetic)[] Variants =
    {
        ("fixed kinetic", KineticEnergyKind.Quadratic), ("neural kinetic", KineticEnergyKind.Neural),
    };

    /// <summary>
    /// One finished training of the sweep (NaN measurements when training failed). <paramref name="PotentialCorrelation"/>
    /// and <paramref name="PotentialRms"/> read the V of Hamiltonian 0, the one next to the base, as the main job does;
    /// <paramref name="LayerCorrelations"/> holds the correlation of every Hamiltonian's V, base side first.
    /// </summary>
    internal sealed record Row(string Knob, double Value, string Variant, int Seed, long Parameters, double TestNll, double ExcessNll,
        double PotentialCorrelation, double PotentialRms, double TrainSeconds, string Error, double[] LayerCorrelations);

    public static IReadOnlyList<Row> Run(SweepSettings settings, DirectoryInfo output, TextWriter log)
    {
        output.Create();
        log = TextWriter.Synchronized(log);
        var ring = new GaussianRing();
        var grid = new RingGrid(settings.Run.GridCells, RingPlots.Half);
        torch.set_num_threads(1);

        var points = (from knob in SweepKnob.All(settings.Quick)
                      from value in knob.Values
                      from seed in Enumerable.Range(0, settings.Seeds)
                      from variant in Variants
                      select (Knob: knob, Value: value, Seed: seed, Variant: variant,
                              Architecture: knob.Apply(Base with { Kinetic = variant.Kinetic }, value))).ToList();
        // The base architecture appears under several knobs; each distinct (architecture, seed) trains once and its
        // result is reported under every knob that contains it (training is deterministic given the seed).
        // Longest first, so that the last trainings running alone are short ones.
        var trainings = points.GroupBy(p => (Describe(p.Architecture), p.Seed)).OrderByDescending(g => RelativeCost(g.First().Architecture)).ToList();
        log.WriteLine($"Sweep: {points.Count} points, {trainings.Count} distinct trainings of {settings.Run.Steps} steps, " +
                      $"{settings.Parallel} at a time; writing {Path.Combine(output.FullName, "sweep.csv")}");

        // Rows are appended as trainings finish, so an interrupted sweep keeps what it measured.
        string csvPath = Path.Combine(output.FullName, "sweep.csv");
        File.WriteAllText(csvPath, "knob,value,variant,seed,parameters,test_nll,excess_nll,potential_correlation,potential_rms,train_seconds,error,layer_correlations\n");
        var rows = new ConcurrentBag<Row>();
        var fileLock = new object();
        int done = 0;
        Parallel.ForEach(Partitioner.Create(trainings, EnumerablePartitionerOptions.NoBuffering),
            new ParallelOptions { MaxDegreeOfParallelism = settings.Parallel }, training =>
        {
            var first = training.First();
            var measured = TrainOne(ring, grid, settings.Run, first.Architecture, first.Seed, first.Variant.Name);
            lock (fileLock)
            {
                done++;
                foreach (var p in training)
                {
                    var row = measured with { Knob = p.Knob.Name, Value = p.Value };
                    rows.Add(row);
                    File.AppendAllText(csvPath, ToCsv(row));
                    log.WriteLine($"[{done}/{trainings.Count}] {row.Knob} = {row.Value}, {row.Variant}, seed {row.Seed}: excess NLL {row.ExcessNll:F4}, " +
                                  $"V~-log p corr {row.PotentialCorrelation:F3}, {row.TrainSeconds:F0} s{(row.Error.Length > 0 ? ", FAILED: " + row.Error : "")}");
                }
            }
        });

        var ordered = rows.OrderBy(r => points.FindIndex(p => p.Knob.Name == r.Knob && p.Value == r.Value && p.Seed == r.Seed && p.Variant.Name == r.Variant)).ToList();
        WriteSummary(ordered, log);
        SweepPlots.Write(output.FullName, SweepKnob.All(settings.Quick), ordered);
        log.WriteLine($"Wrote sweep.csv and sweep-*.png to {output.FullName}");
        return ordered;
    }

    // The architecture fields the knobs change, as a key: records compare layer arrays by reference.
    private static string Describe(FlowArchitecture a) =>
        FormattableString.Invariant($"{a.Kinetic} L={a.LeapfrogSteps} eps={a.StepSize} learned={a.LearnStepSize} width={string.Join("x", a.HiddenLayers)} T={a.Hamiltonians}");

    // Leapfrog steps of all Hamiltonians times network width, doubled for a second network: a rough guide for ordering only.
    private static double RelativeCost(FlowArchitecture a) =>
        a.Hamiltonians * a.LeapfrogSteps * (a.HiddenLayers[0] + 32.0) * (a.Kinetic == KineticEnergyKind.Neural ? 2 : 1);

    private static Row TrainOne(GaussianRing ring, RingGrid grid, RunSettings run, FlowArchitecture architecture, int seed, string variant)
    {
        float[] train = ring.Sample(run.TrainPoints, seed);
        float[] test = ring.Sample(run.TestPoints, seed + 1000);
        // The exact NLL of the same test points: subtracting it rather than the entropy removes the test sample's noise.
        double exactNll = ring.MeanNegativeLogDensity(test);
        try
        {
            var result = RingExperiment.Train(variant, architecture, train, test, run with { Seed = seed }, TextWriter.Null);
            using var flow = result.Flow;
            var byLayer = Enumerable.Range(0, architecture.Hamiltonians).Select(layer => EnergyReadout.Potential(ring, flow, grid, layer)).ToArray();
            return new Row("", double.NaN, variant, seed, flow.ParameterCount, result.TestNll, result.TestNll - exactNll,
                byLayer[0].Correlation, byLayer[0].RmsAfterConstant, result.TrainSeconds, "", byLayer.Select(m => m.Correlation).ToArray());
        }
        catch (InvalidOperationException e)
        {
            // A training that diverges is a result of the robustness study, not a crash of the sweep.
            return new Row("", double.NaN, variant, seed, 0, double.NaN, double.NaN, double.NaN, double.NaN, double.NaN, e.Message, Array.Empty<double>());
        }
    }

    private static void WriteSummary(IReadOnlyList<Row> rows, TextWriter log)
    {
        log.WriteLine();
        // V corr: Hamiltonian 0's; by layer: each Hamiltonian's mean over the seeds, base side first.
        log.WriteLine($"{"knob",-18}{"value",7}{"variant",16}{"excess NLL mean",17}{"min",8}{"max",8}{"V corr mean",13}{"failed",8}  V corr by layer");
        foreach (var point in rows.GroupBy(r => (r.Knob, r.Value, r.Variant)))
        {
            var ok = point.Where(r => r.Error.Length == 0).ToList();
            double Mean(Func<Row, double> f) => ok.Count == 0 ? double.NaN : ok.Average(f);
            log.WriteLine($"{point.Key.Knob,-18}{point.Key.Value,7:G3}{point.Key.Variant,16}{Mean(r => r.ExcessNll),17:F4}" +
                          $"{(ok.Count == 0 ? double.NaN : ok.Min(r => r.ExcessNll)),8:F4}{(ok.Count == 0 ? double.NaN : ok.Max(r => r.ExcessNll)),8:F4}" +
                          $"{Mean(r => r.PotentialCorrelation),13:F3}{point.Count() - ok.Count,8}  " +
                          (ok.Count == 0 ? "" : string.Join(" ", Enumerable.Range(0, ok[0].LayerCorrelations.Length)
                              .Select(layer => ok.Average(r => r.LayerCorrelations[layer]).ToString("F3", CultureInfo.InvariantCulture)))));
        }
    }

    private static string ToCsv(Row r)
    {
        string F(double x) => x.ToString("R", CultureInfo.InvariantCulture);
        var line = new StringBuilder();
        line.Append(r.Knob).Append(',').Append(F(r.Value)).Append(',').Append(r.Variant).Append(',').Append(r.Seed).Append(',')
            .Append(r.Parameters).Append(',').Append(F(r.TestNll)).Append(',').Append(F(r.ExcessNll)).Append(',')
            .Append(F(r.PotentialCorrelation)).Append(',').Append(F(r.PotentialRms)).Append(',').Append(F(r.TrainSeconds)).Append(',')
            .Append('"').Append(r.Error.Replace("\"", "'")).Append('"').Append(',')
            .Append(string.Join(';', r.LayerCorrelations.Select(F))).Append('\n');
        return line.ToString();
    }
}
