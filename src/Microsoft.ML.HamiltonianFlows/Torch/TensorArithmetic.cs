using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.HamiltonianFlows.Torch;

/// <summary>
/// Tensor arithmetic without TorchSharp's temporary <see cref="Scalar"/>s. TorchSharp 0.107 turns a number into a Scalar
/// implicitly, also inside its own members (a + b on tensors is a.add(b, alpha: 1), x.square() is x.pow(2),
/// softplus(x) passes beta and threshold), and leaves the object to the garbage collector. A collection on another
/// thread can finalise it while the native call that reads it is still running, and the call then fails with "Expected
/// false to be true ... Scalar.h" (seen in one suite run in three). Here every Scalar either lives in a static field
/// (never finalised) or is disposed after the call that reads it, which keeps it alive until then.
/// <c>TemporaryScalarTests</c> reads the library's IL and fails on any call that would make such a temporary.
/// </summary>
internal static class TensorArithmetic
{
    private static readonly Scalar One = 1.0;

    /// <summary>a + b.</summary>
    public static Tensor Plus(this Tensor a, Tensor b) => a.add(b, One);

    /// <summary>a += b, in place.</summary>
    public static Tensor PlusInPlace(this Tensor a, Tensor b) => a.add_(b, One);

    /// <summary>x + c.</summary>
    public static Tensor Plus(this Tensor x, double c)
    {
        using Scalar s = c.ToScalar();
        return x.add(s, One);
    }

    /// <summary>c x.</summary>
    public static Tensor Times(this Tensor x, double c)
    {
        using Scalar s = c.ToScalar();
        return x.mul(s);
    }

    /// <summary>c - x.</summary>
    public static Tensor SubtractedFrom(this Tensor x, double c)
    {
        using Scalar s = c.ToScalar();
        return x.neg().add_(s, One);
    }

    /// <summary>x with every element moved into [min, max].</summary>
    public static Tensor Clamp(this Tensor x, double min, double max)
    {
        using Scalar low = min.ToScalar(), high = max.ToScalar();
        return x.clamp(low, high);
    }

    /// <summary>x with the elements where mask holds replaced by value.</summary>
    public static Tensor Fill(this Tensor x, Tensor mask, double value)
    {
        using Scalar s = value.ToScalar();
        return x.masked_fill(mask, s);
    }

    /// <summary>Element-wise x &lt; c.</summary>
    public static Tensor Below(this Tensor x, double c)
    {
        using Scalar s = c.ToScalar();
        return x.lt(s);
    }

    /// <summary>Element-wise x > c.</summary>
    public static Tensor Above(this Tensor x, double c)
    {
        using Scalar s = c.ToScalar();
        return x.gt(s);
    }

    /// <summary>log(1 + e^x), as log(e^x + e^0): TorchSharp's softplus passes beta and threshold as temporary Scalars.</summary>
    public static Tensor Softplus(this Tensor x)
    {
        // A zero of its own per call, not a shared one: a tensor first made under inference mode cannot enter a graph.
        using Tensor zero = zeros(1, dtype: x.dtype, device: x.device);
        return x.logaddexp(zero);
    }
}
