using System.Diagnostics;
using GaussianMixture2D;
using Microsoft.ML.HamiltonianFlows.Torch;
using Microsoft.ML.HamiltonianFlows.Training;
using TorchSharp;
using static TorchSharp.torch;

var ring = new GaussianRing();
int steps = args.Length > 0 ? int.Parse(args[0]) : 2000;
string kind = args.Length > 1 ? args[1] : "q";
double eps = args.Length > 2 ? double.Parse(args[2]) : 0.15;
int L = args.Length > 3 ? int.Parse(args[3]) : 8;
double lr = args.Length > 4 ? double.Parse(args[4]) : 2e-3;
float[] train = ring.Sample(20000, 1);
float[] test = ring.Sample(4000, 2);
var arch = new FlowArchitecture { Dimension = 2, Kinetic = kind == "q" ? KineticEnergyKind.Quadratic : KineticEnergyKind.Neural, StepSize = eps, LeapfrogSteps = L, StandardizedScale = double.Parse(Environment.GetEnvironmentVariable("SS") ?? "3"), Standardize = Environment.GetEnvironmentVariable("STD") != "0", Activation = Environment.GetEnvironmentVariable("ACT") == "tanh" ? Activation.Tanh : Activation.Softplus, LearnStepSize = Environment.GetEnvironmentVariable("LEPS") != "0", Hamiltonians = int.Parse(Environment.GetEnvironmentVariable("T") ?? "1"), HiddenLayers = new[] { int.Parse(Environment.GetEnvironmentVariable("H") ?? "64"), int.Parse(Environment.GetEnvironmentVariable("H") ?? "64") } };
var opts = new FlowTrainingOptions { Epochs = 100000, MaxSteps = steps, BatchSize = 512, LearningRate = lr };
var sw = Stopwatch.StartNew();
using var data = tensor(train, new long[] { 20000, 2 });
var res = FlowTrainer.Train(arch, data, opts, p => { if (p.Epoch % 25 == 0) Console.WriteLine($"{p.Epoch} {p.Steps} {p.TrainingLoss:F4} {p.LearningRate:G3} {sw.Elapsed.TotalSeconds:F0}s"); });
Console.WriteLine($"train {sw.Elapsed.TotalSeconds:F1}s params {res.Flow.ParameterCount} eps {res.Flow.Layers[0].StepSize.item<float>()}");
using var t = tensor(test, new long[] { 4000, 2 });
using (no_grad())
{
    var g = new Generator(5);
    foreach (int k in new[] { 1, 16 })
    {
        sw.Restart();
        double nll = 0;
        for (int s = 0; s < 4000; s += 500) nll -= res.Flow.LogLikelihood(t.narrow(0, s, 500), k, g).sum().item<float>();
        Console.WriteLine($"K={k} nll {nll / 4000:F4} entropy 3.5310 ({sw.Elapsed.TotalSeconds:F1}s)");
    }
}
