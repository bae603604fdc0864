using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Microsoft.ML.HamiltonianFlows.Torch;
using static TorchSharp.torch;

/// <summary>
/// What oneMKL's vendor check answers in a process of its own once the library has loaded (MklDispatch in the library
/// says why it sets it): as an application gets it, with the opt-out switch (set before the library loads), or after a
/// matrix product through TorchSharp alone, when oneMKL has made its choice before the library loads.
/// </summary>
internal static class MklDispatchCheck
{
    public static int Run(string? flag)
    {
        if (flag == "--keep-mkl-dispatch")
            AppContext.SetSwitch("Microsoft.ML.HamiltonianFlows.KeepMklDispatch", true);
        if (flag == "--product-first")
            ones(64, 64).matmul(ones(64, 64)).Dispose();
        LoadLibrary();
        _ = get_num_threads(); // loads libtorch where the library did not
        IntPtr library = NativeLibrary.Load("libtorch_cpu.so");
        var check = Marshal.GetDelegateForFunctionPointer<VendorCheck>(NativeLibrary.GetExport(library, "mkl_serv_intel_cpu_true"));
        Console.WriteLine($"mkl-intel-cpu {check()}");
        return 0;
    }

    // The library's module initializer runs at its first use, here, after the switch or the product above.
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void LoadLibrary() => _ = new FlowArchitecture { Dimension = 2 }.Dimension;

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    private delegate int VendorCheck();
}
