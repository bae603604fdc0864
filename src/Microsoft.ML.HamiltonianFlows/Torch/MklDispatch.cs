using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;
using static TorchSharp.torch;

namespace Microsoft.ML.HamiltonianFlows.Torch;

/// <summary>
/// libtorch's matrix products run in Intel oneMKL, linked into libtorch_cpu. oneMKL chooses its kernels by the CPU's
/// vendor as well as by its instruction set: on a CPU that has AVX-512 but is not Intel's it runs a slower path. Measured
/// on an AMD EPYC (Zen 5, one thread, docs/benchmarks.md): 75-83 GFLOP/s for the image workloads' products
/// (128 x 784 x 512 and the like) and 72 for the 2-D ones (512 x 64 x 64), against 155-193 and 157 with its AVX-512
/// kernels, which the CPU runs. oneMKL asks one exported function, <c>mkl_serv_intel_cpu_true</c>, whether the CPU is
/// Intel's, and keeps its choice from its first product on; no documented setting changes it (MKL_CBWR=AVX512 and
/// MKL_ENABLE_INSTRUCTIONS=AVX512 were measured and do not).
/// </summary>
/// <remarks>
/// When the library loads, on Linux x64 where the CPU and the OS support AVX-512F, it loads libtorch and rewrites that
/// function's first bytes to return 1 (<c>mov eax, 1; ret</c>), so that oneMKL picks its kernels by instruction set
/// alone, as it does on Intel CPUs (where the function already returns 1 and nothing changes). Left alone: other systems
/// and CPUs (not measured), a process that set MKL_CBWR or MKL_ENABLE_INSTRUCTIONS (it asked oneMKL for a code path of
/// its own), one with the AppContext switch <c>Microsoft.ML.HamiltonianFlows.KeepMklDispatch</c> on, and one whose
/// libtorch ran a product before the library loaded (oneMKL has chosen by then; the rewrite is then harmless and
/// useless). Where the code pages cannot be made writable (a W^X policy) nothing changes.
/// </remarks>
internal static class MklDispatch
{
    internal const string OptOutSwitch = "Microsoft.ML.HamiltonianFlows.KeepMklDispatch";

    /// <summary>oneMKL's vendor check, exported by libtorch_cpu.</summary>
    internal const string VendorCheck = "mkl_serv_intel_cpu_true";

    internal const string LibTorch = "libtorch_cpu.so";

    // mov eax, 1; ret
    private static readonly byte[] ReturnOne = { 0xB8, 0x01, 0x00, 0x00, 0x00, 0xC3 };

    private const int PROT_READ = 1, PROT_WRITE = 2, PROT_EXEC = 4;

    /// <summary>Whether this process's oneMKL was told it runs on an Intel CPU.</summary>
    internal static bool Applied { get; private set; }

    /// <summary>Whether <see cref="Configure"/> applies on this machine and process, before it looks at libtorch.</summary>
    internal static bool Applies =>
        OperatingSystem.IsLinux() && RuntimeInformation.ProcessArchitecture == Architecture.X64 && Avx512F.IsSupported
        && !(AppContext.TryGetSwitch(OptOutSwitch, out bool keep) && keep)
        && Environment.GetEnvironmentVariable("MKL_CBWR") is null
        && Environment.GetEnvironmentVariable("MKL_ENABLE_INSTRUCTIONS") is null;

    /// <summary>Rewrites the vendor check (<see cref="ProcessSettings"/> calls it when the library loads).</summary>
    internal static void Configure()
    {
        if (!Applies)
            return;
        try
        {
            // TorchSharp loads libtorch in its static constructor; asking for the thread count runs no product.
            _ = get_num_threads();
            if (NativeLibrary.TryLoad(LibTorch, out IntPtr library) && NativeLibrary.TryGetExport(library, VendorCheck, out IntPtr check))
                Applied = Rewrite(check);
        }
        catch (Exception e) when (e is TypeInitializationException or DllNotFoundException or EntryPointNotFoundException)
        {
            // libtorch does not load here: every later use of it reports that in its own words.
        }
    }

    private static bool Rewrite(IntPtr function)
    {
        long pageSize = Environment.SystemPageSize;
        long first = (long)function & ~(pageSize - 1);
        long length = ((long)function + ReturnOne.Length + pageSize - 1 & ~(pageSize - 1)) - first;
        if (mprotect((IntPtr)first, (IntPtr)length, PROT_READ | PROT_WRITE | PROT_EXEC) != 0)
            return false;
        Marshal.Copy(ReturnOne, 0, function, ReturnOne.Length);
        mprotect((IntPtr)first, (IntPtr)length, PROT_READ | PROT_EXEC);
        return Marshal.GetDelegateForFunctionPointer<VendorCheckFunction>(function)() == 1;
    }

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    private delegate int VendorCheckFunction();

    [DllImport("libc.so.6", ExactSpelling = true, SetLastError = true)]
    private static extern int mprotect(IntPtr address, IntPtr length, int protection);
}
