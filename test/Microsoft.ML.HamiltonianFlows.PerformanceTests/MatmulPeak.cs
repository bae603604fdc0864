using static TorchSharp.torch;

namespace Microsoft.ML.HamiltonianFlows.PerformanceTests;

/// <summary>
/// The machine's practical float32 peak as the benchmarks see it: a large square matrix product through the same
/// libtorch and thread count. Its GFLOP/s is the yardstick for the fraction of peak each workload reaches.
/// </summary>
public static class MatmulPeak
{
    /// <summary>Size of the square matrices.</summary>
    public const int Size = 2048;

    /// <summary>Floating-point operations of one product: 2 n^3.</summary>
    public const double Flops = 2.0 * Size * Size * Size;

    /// <summary>Multiplies two fixed random matrices once.</summary>
    public static float Multiply(Tensor a, Tensor b)
    {
        using var scope = NewDisposeScope();
        return a.matmul(b)[0, 0].item<float>();
    }

    /// <summary>Two random Size x Size matrices.</summary>
    public static (Tensor A, Tensor B) Operands()
    {
        using var generator = new Generator(1);
        return (randn(new long[] { Size, Size }, generator: generator), randn(new long[] { Size, Size }, generator: generator));
    }
}
