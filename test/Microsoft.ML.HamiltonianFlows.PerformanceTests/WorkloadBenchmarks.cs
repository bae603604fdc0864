using BenchmarkDotNet.Attributes;
using Microsoft.ML.HamiltonianFlows.Torch;

namespace Microsoft.ML.HamiltonianFlows.PerformanceTests;

/// <summary>The parameters of the benchmarks that run on every <see cref="PerformanceTests.Workload"/> and kinetic energy.</summary>
public abstract class WorkloadBenchmarks
{
    /// <summary>The model size.</summary>
    [ParamsSource(nameof(Workloads))]
    public Workload Workload { get; set; } = Workload.TwoD;

    /// <summary>Fixed (the paper's) or neural (original NHF) kinetic energy.</summary>
    [Params(KineticEnergyKind.Quadratic, KineticEnergyKind.Neural)]
    public KineticEnergyKind Kinetic { get; set; }

    /// <summary>The values of <see cref="Workload"/>.</summary>
    public static IEnumerable<Workload> Workloads => Workload.All;
}
