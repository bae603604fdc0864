using Xunit;

namespace Microsoft.ML.HamiltonianFlows.Tests;

/// <summary>
/// Comparison of float32 results that the same model computes through matrix products of different shapes (a block of
/// rows against one row). oneMKL picks its kernels by the products' sizes, and its AVX-512 kernels (which the library
/// selects on AMD CPUs as Intel CPUs get them, MklDispatch) round such results differently in the last bits; a wrong
/// row, momentum or weight is off by far more.
/// </summary>
internal static class FloatTolerance
{
    /// <summary>Relative difference allowed: about 170 float32 units in the last place.</summary>
    public const double Relative = 1e-5;

    /// <summary>Asserts that every value is within <see cref="Relative"/> of the expected one (scaled by at least 1).</summary>
    public static void Close(IReadOnlyList<float> expected, IReadOnlyList<float> actual, string what)
    {
        Assert.Equal(expected.Count, actual.Count);
        for (int i = 0; i < expected.Count; i++)
            Close(expected[i], actual[i], $"{what}, row {i}");
    }

    /// <summary>Asserts that <paramref name="actual"/> is within <see cref="Relative"/> of <paramref name="expected"/> (scaled by at least 1).</summary>
    public static void Close(double expected, double actual, string what) =>
        Assert.True(Math.Abs(expected - actual) <= Relative * Math.Max(1, Math.Abs(expected)), $"{what}: expected {expected:R}, got {actual:R}");
}
