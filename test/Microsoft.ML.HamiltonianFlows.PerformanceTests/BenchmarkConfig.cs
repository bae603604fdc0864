using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Engines;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Toolchains.InProcess.Emit;

namespace Microsoft.ML.HamiltonianFlows.PerformanceTests;

/// <summary>
/// One short job for every benchmark, so that the whole suite runs in minutes on 2 cores: in process (a generated
/// benchmark project would copy the 1 GB of libtorch natives again), no pilot or overhead stages (each operation takes
/// milliseconds to seconds, far above the timer's resolution), 2 warm-up and 8 measured iterations.
/// </summary>
internal sealed class BenchmarkConfig : ManualConfig
{
    public BenchmarkConfig()
    {
        Add(DefaultConfig.Instance);
        AddJob(Job.Default
            .WithToolchain(InProcessEmitToolchain.Instance)
            .WithStrategy(RunStrategy.Monitoring)
            .WithLaunchCount(1)
            .WithWarmupCount(2)
            .WithIterationCount(8)
            .WithId("Short"));
    }
}
