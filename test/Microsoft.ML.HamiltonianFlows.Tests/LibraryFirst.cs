using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;

namespace Microsoft.ML.HamiltonianFlows.Tests;

/// <summary>
/// Loads the library before any test runs, as an application that reaches libtorch only through it does: its process
/// settings (Torch/ProcessSettings.cs) have to precede libtorch's first matrix product, and some tests multiply
/// matrices through TorchSharp alone.
/// </summary>
internal static class LibraryFirst
{
    [SuppressMessage("Usage", "CA2255", Justification = "The library's settings must precede any test's first libtorch call, whichever test runs first.")]
    [ModuleInitializer]
    internal static void Load() => RuntimeHelpers.RunModuleConstructor(typeof(Torch.HamiltonianFlow).Module.ModuleHandle);
}
