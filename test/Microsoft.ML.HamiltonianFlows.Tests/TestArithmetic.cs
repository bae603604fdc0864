using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.HamiltonianFlows.Tests;

/// <summary>
/// The tests' tensor arithmetic that the library's <see cref="Torch.TensorArithmetic"/> has no member for, without
/// TorchSharp's temporary <see cref="Scalar"/>s: <c>x / 2.0</c> and <c>x.square()</c> (which is <c>x.pow(2)</c>) make a
/// Scalar that the garbage collector can finalise while the native call reading it still runs, which crashes the test
/// host ("Expected false to be true ... Scalar.h"). Here the Scalar is disposed after the call, which keeps it alive
/// until then. <c>TemporaryScalarTests</c> reads the tests' IL and fails on any call that would make such a temporary.
/// </summary>
internal static class TestArithmetic
{
    /// <summary>x / c, as TorchSharp's <c>x / c</c> computes it (div by a Scalar).</summary>
    public static Tensor DividedBy(this Tensor x, double c)
    {
        using Scalar s = c.ToScalar();
        return x.div(s);
    }

    /// <summary>x^2 element-wise, as x x: what <c>x.square()</c> (pow with exponent 2) computes.</summary>
    public static Tensor Squared(this Tensor x) => x.mul(x);
}
