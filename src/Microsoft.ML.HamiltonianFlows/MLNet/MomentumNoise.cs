using Microsoft.ML.HamiltonianFlows.Training;

namespace Microsoft.ML.HamiltonianFlows;

/// <summary>
/// The standard-normal draws behind the importance-weighted log-likelihood of one row, generated from the row's
/// own values and a model seed. A row therefore gets the same estimate wherever it is scored: in any batch, at any
/// position, in <c>Transform</c> or a <c>PredictionEngine</c>, before or after a save and load.
/// </summary>
/// <remarks>
/// A self-contained generator (SplitMix64, Box-Muller in double precision) rather than <see cref="System.Random"/>
/// or torch's, so the draws do not depend on the .NET or libtorch version either.
/// </remarks>
internal static class MomentumNoise
{
    /// <summary>Fills <paramref name="destination"/> with draws for <paramref name="row"/>: sample k of the row is destination[k * stride ..][..width].</summary>
    /// <param name="seed">The model's scoring seed.</param>
    /// <param name="row">The row's d feature values.</param>
    /// <param name="samples">Number K of importance samples.</param>
    /// <param name="width">Draws per sample (the flow's <see cref="Torch.HamiltonianFlow.NoiseWidth"/>).</param>
    /// <param name="destination">Receives the draws, laid out [K, n, width] for the batch the row belongs to.</param>
    /// <param name="offset">Index of the row's first value in sample 0 (its position in the batch times width).</param>
    /// <param name="stride">Distance between consecutive samples of the row (the batch size times width).</param>
    internal static void Fill(ulong seed, ReadOnlySpan<float> row, int samples, int width, Span<float> destination, int offset, int stride)
    {
        ulong state = seed;
        foreach (float value in row)
            state = SplitMix64.Mix(state ^ BitConverter.SingleToUInt32Bits(value));
        for (int k = 0; k < samples; k++)
        {
            var target = destination.Slice(offset + k * stride, width);
            for (int i = 0; i < target.Length; i += 2)
            {
                // Box-Muller: two uniforms in (0, 1] give two independent standard normals.
                // k / 2^53 + 2^-53 = (k + 1) / 2^53 exactly: (0, 1], so the logarithm below is finite.
                double u1 = SplitMix64.ToUnitInterval(SplitMix64.Next(ref state)) + 1.0 / (1UL << 53);
                double u2 = SplitMix64.ToUnitInterval(SplitMix64.Next(ref state));
                double radius = Math.Sqrt(-2 * Math.Log(u1));
                target[i] = (float)(radius * Math.Cos(2 * Math.PI * u2));
                if (i + 1 < target.Length)
                    target[i + 1] = (float)(radius * Math.Sin(2 * Math.PI * u2));
            }
        }
    }
}
