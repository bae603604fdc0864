namespace Microsoft.ML.HamiltonianFlows.Tests;

/// <summary>
/// Float32 values as their bit patterns, for the comparisons that must hold bit for bit (the same rows through the same
/// code path, concurrently or after a reload): unlike <c>Assert.Equal</c> on floats, NaN equals the same NaN and -0 differs
/// from +0, and a failure prints the bits that differ.
/// </summary>
internal static class FloatBits
{
    public static string[] Of(IEnumerable<float> values) => values.Select(v => BitConverter.SingleToUInt32Bits(v).ToString("X8")).ToArray();
}
