using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;
using static TorchSharp.torch;

namespace Microsoft.ML.HamiltonianFlows.Torch;

/// <summary>
/// libtorch's matrix products run in Intel oneMKL, linked into libtorch_cpu. oneMKL chooses its kernels by the CPU's
/// vendor as well as by its instruction set: on a CPU that has AVX-512 but is not Intel's it runs a slower path. Measured
/// on an AMD EPYC (Zen 5, one thread, docs/benchmarks.md): 75-83 GFLOP/s for the image workloads' products
/// (128 x 784 x 512 and the like) and 72 for the 2-D ones (512 x 64 x 64), against 155-193 and 157 with its AVX-512
/// kernels. Its kernel choice asks the exported function <c>mkl_serv_intel_cpu_true</c>, which answers from a cached
/// value it fills from the CPUID vendor string on its first call; oneMKL keeps its choice from its first product on, and
/// no documented setting changes it (MKL_CBWR=AVX512 and MKL_ENABLE_INSTRUCTIONS=AVX512 were measured and do not).
/// </summary>
/// <remarks>
/// When the library loads, on Linux x64 where the CPU and the OS support AVX-512F, it loads libtorch and, if that
/// function has not answered yet, sets its cached answer to 1 ("Intel"), the answer an Intel CPU gets, so that oneMKL
/// picks its AVX-512 kernels. The function's first instruction reads the cache (<c>mov eax, [rip + disp32]</c>, then
/// <c>test eax, eax; js</c>: negative means not yet asked); the cache's address is taken from it, and where the code
/// does not have that shape (another libtorch build) nothing is written. The write is one aligned 4-byte store into
/// oneMKL's data, no code is changed. Left alone: other systems and CPUs without AVX-512; a process that set MKL_CBWR or
/// MKL_ENABLE_INSTRUCTIONS (it asked oneMKL for a code path of its own) or the AppContext switch
/// <c>Microsoft.ML.HamiltonianFlows.KeepMklDispatch</c>; and a process whose oneMKL already asked before the library
/// loaded (a product through TorchSharp first): its choice stands and <see cref="Applied"/> says so. Measured on one
/// CPU model (Zen 5); AMD's earlier AVX-512 CPUs (Zen 4) get the same kernels, not measured here.
/// </remarks>
internal static class MklDispatch
{
    internal const string OptOutSwitch = "Microsoft.ML.HamiltonianFlows.KeepMklDispatch";

    /// <summary>oneMKL's vendor check, exported by libtorch_cpu.</summary>
    internal const string VendorCheck = "mkl_serv_intel_cpu_true";

    internal const string LibTorch = "libtorch_cpu.so";

    /// <summary>Whether this process's oneMKL answers that it runs on an Intel CPU because of the library or of the CPU.</summary>
    internal static bool Applied { get; private set; }

    /// <summary>Whether <see cref="Configure"/> acts on this machine and process, before it looks at libtorch.</summary>
    internal static bool Applies =>
        OperatingSystem.IsLinux() && RuntimeInformation.ProcessArchitecture == Architecture.X64 && Avx512F.IsSupported
        && !(AppContext.TryGetSwitch(OptOutSwitch, out bool keep) && keep)
        && Environment.GetEnvironmentVariable("MKL_CBWR") is null
        && Environment.GetEnvironmentVariable("MKL_ENABLE_INSTRUCTIONS") is null;

    /// <summary>Sets the vendor check's answer (<see cref="ProcessSettings"/> calls it when the library loads).</summary>
    internal static void Configure()
    {
        if (!Applies)
            return;
        try
        {
            // TorchSharp loads libtorch in its static constructor; asking for the thread count runs no product.
            _ = get_num_threads();
            if (NativeLibrary.TryLoad(LibTorch, out IntPtr library) && NativeLibrary.TryGetExport(library, VendorCheck, out IntPtr check)
                && CachedAnswer(check) is IntPtr cache)
            {
                // Negative: not asked yet. 0: asked, not Intel (too late to change). 1: Intel.
                if (Marshal.ReadInt32(cache) < 0)
                    Marshal.WriteInt32(cache, 1);
                Applied = Marshal.ReadInt32(cache) == 1;
            }
        }
        catch (Exception)
        {
            // A speed setting only: a module initializer that threw would make every type of the library unusable.
            // Where libtorch does not load, its next use reports that in its own words.
        }
    }

    /// <summary>
    /// The address of the vendor check's cached answer, read from its first instructions
    /// (<c>8B 05 disp32</c> = mov eax, [rip + disp32]; <c>85 C0</c> = test eax, eax; <c>78</c> = js), or null if the
    /// function does not start that way.
    /// </summary>
    internal static IntPtr? CachedAnswer(IntPtr function)
    {
        var code = new byte[9];
        Marshal.Copy(function, code, 0, code.Length);
        if (code[0] != 0x8B || code[1] != 0x05 || code[6] != 0x85 || code[7] != 0xC0 || code[8] != 0x78)
            return null;
        int displacement = BitConverter.ToInt32(code, 2);
        return function + 6 + displacement;
    }
}
