using System.CommandLine;
using HamiltonianFlows.Samples;
using SupernovaCosmology;

// The paper's Bayesian example: (Omega_m, Omega_Lambda) from type Ia supernovae, by a Hamiltonian flow, a grid and HMC.
//   dotnet run --project samples/SupernovaCosmology -c Release -- --out out/supernova-cosmology   (about 10 minutes; --quick: seconds)
// Writes metrics.json and contours.png; docs/bayesian-inference.md has the method and a run's results.
string defaultData = Path.Combine(AppContext.BaseDirectory, "data", "simulated-catalogue.csv");
var outOption = new Option<DirectoryInfo>("--out") { Description = "Folder for metrics.json and contours.png.", DefaultValueFactory = _ => new DirectoryInfo("out/supernova-cosmology") };
var dataOption = new Option<FileInfo>("--data") { Description = "A (z, mu, sigma_mu) catalogue: CSV or whitespace columns, optional name column first (Union2.1's layout).", DefaultValueFactory = _ => new FileInfo(defaultData) };
var stepsOption = new Option<int>("--steps") { Description = "Optimiser steps of the flow.", DefaultValueFactory = _ => RunSettings.Full.FlowSteps };
var seedOption = new Option<int>("--seed") { Description = "Seed of the flow, its draws and HMC.", DefaultValueFactory = _ => RunSettings.Full.Seed };
var quickOption = new Option<bool>("--quick") { Description = "A small budget (seconds) for smoke tests; the numbers are not meaningful." };
var simulateOption = new Option<FileInfo?>("--simulate") { Description = "Write a new simulated catalogue (600 supernovae, seed 2024, Omega_m 0.3, Omega_Lambda 0.7) to this file and stop." };

var root = new RootCommand("Samples the (Omega_m, Omega_Lambda) posterior of a supernova catalogue with a fixed-kinetic Hamiltonian flow and compares it with the exact grid posterior and HMC.")
{
    outOption, dataOption, stepsOption, seedOption, quickOption, simulateOption,
};
root.SetAction(parse =>
{
    if (parse.GetValue(simulateOption) is FileInfo target)
    {
        var catalogue = SupernovaCatalog.Simulate(600, 2024, Cosmology.Truth);
        SupernovaCatalog.Save(catalogue, target.FullName,
            "Simulated with samples/SupernovaCosmology --simulate: 600 SNe, seed 2024, Omega_m 0.3, Omega_Lambda 0.7, H0 70 km/s/Mpc, M absorbed in mu");
        Console.WriteLine($"wrote {catalogue.Count} supernovae to {target.FullName}");
        return;
    }
    QuickBudget.RefuseBesideQuick(parse, parse.GetValue(quickOption), stepsOption);
    var settings = parse.GetValue(quickOption)
        ? RunSettings.Quick with { Seed = parse.GetValue(seedOption) }
        : RunSettings.Full with { FlowSteps = parse.GetValue(stepsOption), Seed = parse.GetValue(seedOption) };
    CosmologyExperiment.Run(settings, parse.GetValue(dataOption)!.FullName, parse.GetValue(outOption)!, Console.Out);
});
return root.Parse(args).Invoke();
