using System.CommandLine;
using System.Globalization;
using AnomalyBenchmark;

// Tables and logs print numbers with a point whatever the machine's locale (the JSON is culture-invariant anyway).
CultureInfo.DefaultThreadCurrentCulture = CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;

// The one-class benchmark of docs/anomaly-benchmark.md: the flow's anomaly detector at default options against its own
// starting Gaussian, ML.NET's RandomizedPca and the classic detectors' published results, on five UCI sets.
var sets = new Option<string[]>("--sets") { Description = "Sets to run.", DefaultValueFactory = _ => TabularSet.Names, AllowMultipleArgumentsPerToken = true };
var seed = new Option<int>("--seed") { Description = "MLContext seed.", DefaultValueFactory = _ => 1 };
var output = new Option<DirectoryInfo>("--out") { Description = "Folder for results.json.", DefaultValueFactory = _ => new DirectoryInfo("out/anomaly-benchmark") };
var data = new Option<DirectoryInfo>("--data") { Description = "Folder of the sets.", DefaultValueFactory = _ => new DirectoryInfo(Path.Combine(AppContext.BaseDirectory, "data")) };
var threads = new Option<int>("--threads") { Description = "Torch intra-op threads (fit times are quoted for 1).", DefaultValueFactory = _ => 1 };
threads.Validators.Add(result =>
{
    // A token that is no number already carries the parser's own error (reading its value here would throw).
    if (result.Tokens.Count == 1 && int.TryParse(result.Tokens[0].Value, NumberStyles.Integer, CultureInfo.InvariantCulture, out int count) && count < 1)
        result.AddError("--threads must be at least 1.");
});
var checks = new Option<bool>("--checks") { Description = "Also run the robustness checks: NormalizeMinMax in front, one gross outlier added, 5% of the training rows anomalies." };

var scoringSamples = new Option<int?>("--importance-samples") { Description = "Override ScoringImportanceSamples (an analysis; the defaults are what the benchmark reports)." };
var seeds = new Option<int[]>("--seeds") { Description = "Run each of these seeds (instead of --seed) and summarise the flow's AUROC over them.", AllowMultipleArgumentsPerToken = true };
var tabular = new Command("tabular", "Test AUROC on the five UCI sets (train on normal rows, score the test file).") { sets, seed, seeds, output, data, checks, threads, scoringSamples };
tabular.SetAction(parse =>
{
    var tables = TabularSet.Load(parse.GetValue(data)!.FullName, parse.GetValue(sets)!);
    if (parse.GetValue(seeds) is { Length: > 0 } several)
    {
        if (parse.GetResult(seed) is { Implicit: false })
            throw new ArgumentException("Give either --seed or --seeds, not both.");
        TabularBenchmark.RunSeeds(tables, parse.GetValue(data)!.FullName, several, parse.GetValue(checks), parse.GetValue(output)!, Console.Out, parse.GetValue(scoringSamples));
    }
    else
        TabularBenchmark.Run(tables, parse.GetValue(data)!.FullName, parse.GetValue(seed), parse.GetValue(checks), parse.GetValue(output)!, Console.Out, parse.GetValue(scoringSamples));
});

var classes = new Option<int[]>("--classes") { Description = "Fashion-MNIST classes to run as the normal class (0-9).", DefaultValueFactory = _ => Enumerable.Range(0, 10).ToArray(), AllowMultipleArgumentsPerToken = true };
var maxTest = new Option<int>("--max-test") { Description = "Most Fashion-MNIST test images.", DefaultValueFactory = _ => 10_000 };
var fashion = new Command("fashion", "One-class Fashion-MNIST (14 x 14): test AUROC per class.") { classes, maxTest, seed, output, threads, scoringSamples };
fashion.SetAction(parse => FashionBenchmark.Run(parse.GetValue(classes)!, parse.GetValue(maxTest), parse.GetValue(seed), parse.GetValue(output)!, Console.Out, parse.GetValue(scoringSamples)));

var maxSteps = new Option<long?>("--max-steps") { Description = "Override MaxSteps." };
var learningRate = new Option<double?>("--learning-rate") { Description = "Override LearningRate." };
var maxTrainingSeconds = new Option<double?>("--max-training-seconds") { Description = "Set MaxTrainingTime (seconds)." };
var weightDecay = new Option<double?>("--weight-decay") { Description = "Override WeightDecay." };
var hidden = new Option<int[]?>("--hidden") { Description = "Override HiddenLayers.", AllowMultipleArgumentsPerToken = true };
var leapfrog = new Option<int?>("--leapfrog-steps") { Description = "Override LeapfrogSteps." };
var hamiltonians = new Option<int?>("--hamiltonians") { Description = "Override Hamiltonians." };
var batch = new Option<int?>("--batch-size") { Description = "Override BatchSize." };
var patience = new Option<int?>("--patience") { Description = "Override EarlyStoppingPatience." };
var trainingSamples = new Option<int?>("--training-importance-samples") { Description = "Override TrainingImportanceSamples (an analysis)." };
var heavyTails = new Option<bool?>("--heavy-tails") { Description = "Override HeavyTails (true or false)." };
var evaluationInterval = new Option<int?>("--evaluation-interval") { Description = "Override EvaluationInterval (an analysis)." };
var fitRows = new Option<int?>("--fit-rows") { Description = "Fit on this many rows drawn from the 80% (small-data behaviour); the 20% stays the held-out set." };
var ensemble = new Option<int>("--ensemble") { Description = "Also fit this many flows in all (seeds seed + 1000 m) and score their equal mixture (an analysis).", DefaultValueFactory = _ => 1 };
var mass = new Option<Microsoft.ML.HamiltonianFlows.Torch.MassKind?>("--mass") { Description = "Override Mass (Identity, LearnedScalar, LearnedDiagonal)." };
var covariance = new Option<Microsoft.ML.HamiltonianFlows.Torch.CovarianceKind?>("--covariance") { Description = "Override Covariance (Automatic, Full, LowRank, Diagonal; an analysis)." };
var dump = new Option<DirectoryInfo?>("--dump") { Description = "Also write each set's fitted rows and its held-out rows with their flow and Gaussian log-likelihoods as CSV here (an analysis)." };
var trace = new Option<bool>("--trace") { Description = "Also print the flow's validation losses and the step whose weights it kept." };
var validate = new Command("validate",
    "Held-out log-likelihood on the training files alone (80/20 split): the measurement that chooses the defaults, never the test files.")
    { sets, seed, data, threads, maxSteps, learningRate, weightDecay, hidden, leapfrog, hamiltonians, batch, patience, scoringSamples, trainingSamples, heavyTails, fitRows, ensemble, evaluationInterval, trace, maxTrainingSeconds, mass, covariance, dump };
validate.SetAction(parse => ValidationRun.Run(TabularSet.Load(parse.GetValue(data)!.FullName, parse.GetValue(sets)!), parse.GetValue(data)!.FullName,
    parse.GetValue(seed), options =>
    {
        if (parse.GetValue(maxSteps) is long s) options.MaxSteps = s;
        if (parse.GetValue(maxTrainingSeconds) is double seconds) options.MaxTrainingTime = TimeSpan.FromSeconds(seconds);
        if (parse.GetValue(learningRate) is double r) options.LearningRate = r;
        if (parse.GetValue(weightDecay) is double w) options.WeightDecay = w;
        if (parse.GetValue(hidden) is { Length: > 0 } h) options.HiddenLayers = h;
        if (parse.GetValue(leapfrog) is int l) options.LeapfrogSteps = l;
        if (parse.GetValue(hamiltonians) is int t) options.Hamiltonians = t;
        if (parse.GetValue(batch) is int b) options.BatchSize = b;
        if (parse.GetValue(patience) is int p) options.EarlyStoppingPatience = p;
        if (parse.GetValue(evaluationInterval) is int e) options.EvaluationInterval = e;
        if (parse.GetValue(scoringSamples) is int k) options.ScoringImportanceSamples = k;
        if (parse.GetValue(trainingSamples) is int m) options.TrainingImportanceSamples = m;
        if (parse.GetValue(heavyTails) is bool tails) options.HeavyTails = tails;
        if (parse.GetValue(mass) is { } m2) options.Mass = m2;
        if (parse.GetValue(covariance) is { } c2) options.Covariance = c2;
    }, Console.Out, parse.GetValue(fitRows), parse.GetValue(ensemble), parse.GetValue(trace), parse.GetValue(dump)));


var samples = new Command("samples", "Samples at default options against the training rows: per-feature mean and standard deviation.")
    { sets, seed, output, data, threads, maxSteps, trainingSamples };
samples.SetAction(parse => SampleMoments.Run(TabularSet.Load(parse.GetValue(data)!.FullName, parse.GetValue(sets)!), parse.GetValue(data)!.FullName,
    parse.GetValue(seed), parse.GetValue(maxSteps), parse.GetValue(trainingSamples), parse.GetValue(output)!, Console.Out));

var root = new RootCommand("One-class anomaly detection and density benchmarks of the Hamiltonian flow at default options.") { tabular, fashion, validate, samples };
var parsed = root.Parse(args);
// Set before any fit: torch's thread count is process-wide, and 2 threads on 2 shared cores measure the load more than the code.
// A parse that names no command (--help alone) or has errors carries no count, and libtorch aborts the process on 0.
if (parsed.Errors.Count == 0 && parsed.GetResult(threads) is not null)
    TorchSharp.torch.set_num_threads(parsed.GetValue(threads));
return parsed.Invoke();
