using BenchmarkDotNet.Attributes;
using static TorchSharp.torch;

namespace Microsoft.ML.HamiltonianFlows.PerformanceTests;

/// <summary>The practical float32 peak (<see cref="MatmulPeak"/>): GFLOP/s = <see cref="MatmulPeak.Flops"/> / ns per operation.</summary>
public class MatmulBenchmarks
{
    private Tensor a = null!, b = null!;

    /// <summary>Draws the matrices.</summary>
    [GlobalSetup]
    public void Setup() => (a, b) = MatmulPeak.Operands();

    /// <summary>One 2048 x 2048 x 2048 product.</summary>
    [Benchmark]
    public float Matmul2048() => MatmulPeak.Multiply(a, b);

    /// <summary>Releases the matrices.</summary>
    [GlobalCleanup]
    public void Cleanup()
    {
        a.Dispose();
        b.Dispose();
    }
}
