using TorchSharp;

namespace Microsoft.ML.HamiltonianFlows.Torch;

/// <summary>
/// Scalars held for the life of the process, for the operations the integrator repeats most. TorchSharp 0.107 turns a
/// number into a <see cref="Scalar"/> implicitly (a + b is a.add(b, 1); x.square() is x.pow(2)) and leaves the object to
/// the garbage collector, which can finalise it while the native call that reads it is still running: the call then
/// fails with "Expected false to be true ... Scalar.h" (seen in tests and in 20,000-row scoring). A Scalar in a static
/// field is never finalised.
/// </summary>
internal static class KeptScalars
{
    public static readonly Scalar One = 1.0;

    public static readonly Scalar MinusOne = -1.0;

    /// <summary>a + b without a temporary Scalar.</summary>
    public static torch.Tensor Plus(torch.Tensor a, torch.Tensor b) => a.add(b, One);

    /// <summary>a - b without a temporary Scalar.</summary>
    public static torch.Tensor Minus(torch.Tensor a, torch.Tensor b) => a.add(b, MinusOne);
}
