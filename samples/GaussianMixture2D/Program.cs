using System.CommandLine;
using GaussianMixture2D;

// The paper's 2D experiment: fixed-kinetic vs original (neural-kinetic) NHF on a ring of 8 Gaussians.
var outOption = new Option<DirectoryInfo>("--out") { Description = "Folder for metrics.json and the PNG plots.", DefaultValueFactory = _ => new DirectoryInfo("out/gaussian-mixture-2d") };
var stepsOption = new Option<int>("--steps") { Description = "Optimiser steps per model.", DefaultValueFactory = _ => RunSettings.Default.Steps };
var samplesOption = new Option<int>("--importance-samples") { Description = "Momentum samples K of the importance-weighted test NLL.", DefaultValueFactory = _ => RunSettings.Default.ImportanceSamples };
var seedOption = new Option<int>("--seed") { Description = "Seed of data, weights and momentum draws.", DefaultValueFactory = _ => RunSettings.Default.Seed };
var quickOption = new Option<bool>("--quick") { Description = "A small budget (seconds) for smoke tests; the numbers are not meaningful." };

var root = new RootCommand("Trains fixed-kinetic and neural-kinetic Hamiltonian flows on a ring of 8 Gaussians, compares them, and plots the learned potentials.")
{
    outOption, stepsOption, samplesOption, seedOption, quickOption,
};
root.SetAction(parse =>
{
    var settings = parse.GetValue(quickOption)
        ? RunSettings.Quick with { Seed = parse.GetValue(seedOption) }
        : RunSettings.Default with
        {
            Steps = parse.GetValue(stepsOption),
            ImportanceSamples = parse.GetValue(samplesOption),
            Seed = parse.GetValue(seedOption),
        };
    RingExperiment.Run(settings, parse.GetValue(outOption)!, Console.Out);
});
return root.Parse(args).Invoke();
