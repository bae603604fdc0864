using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;
using System.Text;
using Microsoft.ML.HamiltonianFlows.Torch;
using Xunit;
using static TorchSharp.torch;

namespace Microsoft.ML.HamiltonianFlows.Tests;

/// <summary>
/// On a CPU with AVX-512 the library has oneMKL choose its kernels by instruction set, not by vendor (MklDispatch says
/// why). The products it then computes must still be right, and the opt-out switch must leave oneMKL as it was.
/// </summary>
public class MklDispatchTests
{
    private static bool Avx512Linux => OperatingSystem.IsLinux() && RuntimeInformation.ProcessArchitecture == Architecture.X64 && Avx512F.IsSupported;

    [Fact]
    public void OneMklIsToldItRunsOnIntelWhereTheCpuHasAvx512()
    {
        _ = new FlowArchitecture { Dimension = 2 }.Dimension;
        Assert.Equal(MklDispatch.Applies, MklDispatch.Applied);
        if (Avx512Linux)
            Assert.Equal(1, VendorCheckInChild(keep: false));
    }

    [Fact]
    public void TheOptOutSwitchLeavesOneMklsOwnVendorCheck()
    {
        Assert.True(OperatingSystem.IsLinux() && RuntimeInformation.ProcessArchitecture == Architecture.X64, "This check reads libtorch_cpu.so's exports; the project's machines run Linux x64.");
        Assert.Equal(CpuVendor() == "GenuineIntel" ? 1 : 0, VendorCheckInChild(keep: true));
    }

    [Theory]
    [InlineData(128, 784, 512)] // the image workloads' layer
    [InlineData(512, 64, 64)] // the 2-D workloads' layer
    [InlineData(333, 97, 65)] // sizes off every kernel's block
    public void FloatProductsAgreeWithDoublePrecision(int m, int k, int n)
    {
        using var scope = NewDisposeScope();
        using var generator = new Generator(7);
        Tensor a = randn(new long[] { m, k }, generator: generator), b = randn(new long[] { k, n }, generator: generator);
        Tensor exact = a.to(ScalarType.Float64).matmul(b.to(ScalarType.Float64));
        Tensor error = (a.matmul(b).to(ScalarType.Float64) - exact).abs();
        // Float rounding of a sum of k products is at most about k * 2^-24 times sum |a_i b_i|; a wrong kernel is off by O(1).
        Tensor bound = a.abs().to(ScalarType.Float64).matmul(b.abs().to(ScalarType.Float64)) * (k * Math.Pow(2, -24));
        double worst = (error / bound).max().item<double>();
        Assert.True(worst <= 1, $"a float32 product of {m} x {k} x {n} is {worst:F2} times its rounding bound off the float64 one");
    }

    private static int VendorCheckInChild(bool keep)
    {
        var args = keep ? new[] { "mkl-dispatch", "--keep-mkl-dispatch" } : new[] { "mkl-dispatch" };
        var (exitCode, text) = ChildProcess.RunDotnet(Path.Combine(AppContext.BaseDirectory, "ReliabilityChecks.dll"), args);
        Assert.True(exitCode == 0, $"ReliabilityChecks mkl-dispatch exited with {exitCode}: {text}");
        return int.Parse(text.Split('\n').Single(l => l.StartsWith("mkl-intel-cpu ", StringComparison.Ordinal))["mkl-intel-cpu ".Length..].Trim());
    }

    private static string CpuVendor()
    {
        var (_, ebx, ecx, edx) = X86Base.CpuId(0, 0);
        var bytes = new byte[12];
        BitConverter.GetBytes(ebx).CopyTo(bytes, 0);
        BitConverter.GetBytes(edx).CopyTo(bytes, 4);
        BitConverter.GetBytes(ecx).CopyTo(bytes, 8);
        return Encoding.ASCII.GetString(bytes);
    }
}
