using System.CommandLine;
using GaussianMixture2D;
using HamiltonianFlows.Samples;

// The paper's 2D experiment: fixed-kinetic vs original (neural-kinetic) NHF on a ring of 8 Gaussians.
//   dotnet run --project samples/GaussianMixture2D -c Release -- --out out/gaussian-mixture-2d   (the README's main job, 2 to 4 minutes)
//   ... -- sweep --out out/gaussian-mixture-2d-sweep   (the robustness sweep, about 7 minutes); --quick for a smoke test.
// Writes metrics.json and PNG plots (samples, potential, density, training, kinetic) to --out.
var outOption = new Option<DirectoryInfo>("--out") { Description = "Folder for metrics.json and the PNG plots.", DefaultValueFactory = _ => new DirectoryInfo("out/gaussian-mixture-2d") };
var stepsOption = new Option<int>("--steps") { Description = "Optimiser steps per model.", DefaultValueFactory = _ => RunSettings.Default.Steps };
var samplesOption = new Option<int>("--importance-samples") { Description = "Momentum samples K of the importance-weighted test NLL.", DefaultValueFactory = _ => RunSettings.Default.ImportanceSamples };
var seedOption = new Option<int>("--seed") { Description = "Seed of data, weights and momentum draws.", DefaultValueFactory = _ => RunSettings.Default.Seed };
var quickOption = new Option<bool>("--quick") { Description = "A small budget (seconds) for smoke tests; the numbers are not meaningful." };

var root = new RootCommand("Trains fixed-kinetic and neural-kinetic Hamiltonian flows on a ring of 8 Gaussians, compares them, and plots the learned potentials.")
{
    outOption, stepsOption, samplesOption, seedOption, quickOption,
};
var sweepOut = new Option<DirectoryInfo>("--out") { Description = "Folder for sweep.csv and the PNG plots.", DefaultValueFactory = _ => new DirectoryInfo("out/gaussian-mixture-2d-sweep") };
var sweepSteps = new Option<int>("--steps") { Description = "Optimiser steps per training.", DefaultValueFactory = _ => SweepSettings.Default.Run.Steps };
var sweepSeeds = new Option<int>("--seeds") { Description = "Seeds per point (0, 1, ...).", DefaultValueFactory = _ => SweepSettings.Default.Seeds };
var sweepParallel = new Option<int>("--parallel") { Description = "Trainings at once, one torch thread each.", DefaultValueFactory = _ => SweepSettings.Default.Parallel };
var sweepQuick = new Option<bool>("--quick") { Description = "Two values per knob, one seed, a seconds-long budget: a smoke test; the numbers are not meaningful." };
var sweep = new Command("sweep", "Robustness study: excess test NLL of both variants against leapfrog steps, integration time, width and the number of Hamiltonians, over seeds.")
{
    sweepOut, sweepSteps, sweepSeeds, sweepParallel, sweepQuick,
};

sweep.SetAction(parse =>
{
    QuickBudget.RefuseBesideQuick(parse, parse.GetValue(sweepQuick), sweepSteps, sweepSeeds);
    var settings = parse.GetValue(sweepQuick)
        ? SweepSettings.QuickSettings
        : SweepSettings.Default with
        {
            Run = SweepSettings.Default.Run with { Steps = parse.GetValue(sweepSteps) },
            Seeds = parse.GetValue(sweepSeeds),
        };
    settings = settings with { Parallel = parse.GetValue(sweepParallel) };
    if (settings.Seeds < 1 || settings.Parallel < 1 || settings.Run.Steps < 1)
        throw new ArgumentException($"--seeds ({settings.Seeds}), --parallel ({settings.Parallel}) and --steps ({settings.Run.Steps}) must be at least 1.");
    RobustnessSweep.Run(settings, parse.GetValue(sweepOut)!, Console.Out);
});
root.Subcommands.Add(sweep);
root.SetAction(parse =>
{
    QuickBudget.RefuseBesideQuick(parse, parse.GetValue(quickOption), stepsOption, samplesOption);
    var settings = parse.GetValue(quickOption)
        ? RunSettings.Quick with { Seed = parse.GetValue(seedOption) }
        : RunSettings.Default with
        {
            Steps = parse.GetValue(stepsOption),
            ImportanceSamples = parse.GetValue(samplesOption),
            Seed = parse.GetValue(seedOption),
        };
    // Checked before training, not when the trained models are scored minutes later.
    if (settings.Steps < 1 || settings.ImportanceSamples < 1)
        throw new ArgumentException($"--steps ({settings.Steps}) and --importance-samples ({settings.ImportanceSamples}) must be at least 1.");
    RingExperiment.Run(settings, parse.GetValue(outOption)!, Console.Out);
});
return root.Parse(args).Invoke();
