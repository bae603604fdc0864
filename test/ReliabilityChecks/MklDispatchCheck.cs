using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Microsoft.ML.HamiltonianFlows.Torch;

/// <summary>
/// What oneMKL's vendor check answers in a process of its own once the library has loaded (MklDispatch in the library
/// says why it changes it), with or without the opt-out switch, which has to be set before the library loads.
/// </summary>
internal static class MklDispatchCheck
{
    public static int Run(bool keep)
    {
        if (keep)
            AppContext.SetSwitch("Microsoft.ML.HamiltonianFlows.KeepMklDispatch", true);
        LoadLibrary();
        _ = TorchSharp.torch.get_num_threads(); // loads libtorch where the library did not
        IntPtr library = NativeLibrary.Load("libtorch_cpu.so");
        var check = Marshal.GetDelegateForFunctionPointer<VendorCheck>(NativeLibrary.GetExport(library, "mkl_serv_intel_cpu_true"));
        Console.WriteLine($"mkl-intel-cpu {check()}");
        return 0;
    }

    // The library's module initializer runs at its first use, here, after the switch above.
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void LoadLibrary() => _ = new FlowArchitecture { Dimension = 2 }.Dimension;

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    private delegate int VendorCheck();
}
