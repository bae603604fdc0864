namespace Microsoft.ML.HamiltonianFlows.Tests;

/// <summary>Normal draws from a seeded <see cref="Random"/>, for the rows the tests build one value at a time.</summary>
internal static class TestRandom
{
    /// <summary>One N(0, 1) draw by Box and Muller's transform (1 - u keeps the logarithm finite; u = 0 can be drawn).</summary>
    public static double Gaussian(this Random random) =>
        Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
}
