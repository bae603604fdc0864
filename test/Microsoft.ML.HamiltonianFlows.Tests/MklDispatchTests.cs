using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;
using System.Text;
using Microsoft.ML.HamiltonianFlows.Torch;
using Xunit;
using static TorchSharp.torch;

namespace Microsoft.ML.HamiltonianFlows.Tests;

/// <summary>
/// On a CPU with AVX-512 the library has oneMKL choose its kernels as on an Intel CPU (MklDispatch says why). The
/// products it then computes must still be right, and the opt-out switch, or a oneMKL that chose before the library
/// loaded, must leave oneMKL's own answer.
/// </summary>
public class MklDispatchTests
{
    private static int OwnAnswer => CpuVendor() == "GenuineIntel" ? 1 : 0;

    [Fact]
    public void OneMklIsToldItRunsOnIntelWhereTheCpuHasAvx512()
    {
        // This assembly's module initializer loaded the library before any test ran, as an application does. Where the
        // setting does not apply (no AVX-512, an MKL variable set) the library leaves oneMKL alone and says so.
        Assert.Equal(MklDispatch.Applies, MklDispatch.Applied);
        Assert.Equal(MklDispatch.Applies ? 1 : OwnAnswer, VendorCheckInChild(null));
    }

    [Fact]
    public void TheOptOutSwitchLeavesOneMklsOwnAnswer() => Assert.Equal(OwnAnswer, VendorCheckInChild("--keep-mkl-dispatch"));

    [Fact]
    public void AnAnswerOneMklGaveBeforeTheLibraryLoadedStands() => Assert.Equal(OwnAnswer, VendorCheckInChild("--product-first"));

    [Fact]
    public void TheCachedAnswerIsFoundOnlyInTheVendorChecksShapeOfCode()
    {
        // mov eax, [rip + 0x10]; test eax, eax; js: the cache lies 0x10 bytes after the 6-byte load.
        byte[] check = { 0x8B, 0x05, 0x10, 0x00, 0x00, 0x00, 0x85, 0xC0, 0x78, 0x01, 0xC3 };
        byte[] other = { 0x8B, 0x05, 0x10, 0x00, 0x00, 0x00, 0x85, 0xC0, 0x79, 0x01, 0xC3 };
        IntPtr memory = Marshal.AllocHGlobal(check.Length);
        try
        {
            Marshal.Copy(check, 0, memory, check.Length);
            Assert.Equal(memory + 6 + 0x10, MklDispatch.CachedAnswer(memory));
            Marshal.Copy(other, 0, memory, other.Length);
            Assert.Null(MklDispatch.CachedAnswer(memory));
        }
        finally
        {
            Marshal.FreeHGlobal(memory);
        }
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
        Tensor bound = a.abs().to(ScalarType.Float64).matmul(b.abs().to(ScalarType.Float64)).Times(k * Math.Pow(2, -24));
        double worst = (error / bound).max().item<double>();
        Assert.True(worst <= 1, $"a float32 product of {m} x {k} x {n} is {worst:F2} times its rounding bound off the float64 one");
    }

    private static int VendorCheckInChild(string? flag)
    {
        Assert.True(OperatingSystem.IsLinux() && RuntimeInformation.ProcessArchitecture == Architecture.X64, "This check reads libtorch_cpu.so's exports; the project's machines run Linux x64.");
        var args = flag is null ? new[] { "mkl-dispatch" } : new[] { "mkl-dispatch", flag };
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
