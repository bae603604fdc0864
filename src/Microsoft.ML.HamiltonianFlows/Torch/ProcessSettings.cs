using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;

namespace Microsoft.ML.HamiltonianFlows.Torch;

/// <summary>
/// The process-wide settings the library makes for libtorch when it loads, in the order they need: glibc's malloc
/// thresholds before libtorch allocates anything (<see cref="GlibcMalloc"/>), then oneMKL's kernel choice after
/// libtorch is loaded and before its first matrix product (<see cref="MklDispatch"/>).
/// </summary>
internal static class ProcessSettings
{
    [SuppressMessage("Usage", "CA2255", Justification = "Both settings must precede libtorch's first allocation and product; every entry point of the library would otherwise have to remember to.")]
    [ModuleInitializer]
    internal static void Apply()
    {
        GlibcMalloc.Configure();
        MklDispatch.Configure();
    }
}
