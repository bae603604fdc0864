using Xunit;

namespace Microsoft.ML.HamiltonianFlows.Tests;

/// <summary>
/// Comparison of results that the same model or fit computes two ways which agree only to rounding: float32 scores through
/// matrix products of different shapes (a block of rows against one row), and fits that sum the same rows in a different
/// order (streamed against in memory, with a row left out against without it). oneMKL picks its kernels by the products'
/// sizes, and its AVX-512 kernels (which the library selects on AMD CPUs as Intel CPUs get them, MklDispatch) round such
/// results differently in the last bits; a wrong row, momentum or weight is off by far more.
/// </summary>
internal static class FloatTolerance
{
    /// <summary>Relative difference allowed by default: about 170 float32 units in the last place.</summary>
    public const double Relative = 1e-5;

    /// <summary>Asserts that every value is within <paramref name="relative"/> of the expected one (scaled by at least 1).</summary>
    public static void Close(IReadOnlyList<float> expected, IReadOnlyList<float> actual, string what, double relative = Relative) =>
        Close(expected.Select(x => (double)x).ToArray(), actual.Select(x => (double)x).ToArray(), what, relative);

    /// <summary>Asserts that every value is within <paramref name="relative"/> of the expected one (scaled by at least 1).</summary>
    public static void Close(IReadOnlyList<double> expected, IReadOnlyList<double> actual, string what, double relative = Relative)
    {
        Assert.Equal(expected.Count, actual.Count);
        for (int i = 0; i < expected.Count; i++)
            Close(expected[i], actual[i], $"{what}, value {i}", relative);
    }

    /// <summary>Asserts that <paramref name="actual"/> is within <paramref name="relative"/> of <paramref name="expected"/> (scaled by at least 1).</summary>
    public static void Close(double expected, double actual, string what, double relative = Relative) =>
        Assert.True(Math.Abs(expected - actual) <= relative * Math.Max(1, Math.Abs(expected)), $"{what}: expected {expected:R}, got {actual:R}");
}
