using GaussianMixture2D;
using Xunit;

namespace Microsoft.ML.HamiltonianFlows.Tests;

public class EnergyMatchTests
{
    private static readonly double[] Reference = { 0.5, 1, 2, 3.5, 5, 8 };
    private static readonly double[] Weights = { 4, 3, 2, 1, 0.5, 0.1 };

    [Fact]
    public void EnergyEqualToReferencePlusConstantMatchesPerfectly()
    {
        var match = EnergyMatch.Compute(Reference.Select(r => r + 7.25).ToArray(), Reference, Weights);
        Assert.Equal(1, match.Correlation, 12);
        Assert.Equal(0, match.RmsAfterConstant, 6);
        Assert.Equal(1, match.Slope, 12);
    }

    [Fact]
    public void ScaledEnergyKeepsCorrelationButShowsSlopeAndRms()
    {
        var match = EnergyMatch.Compute(Reference.Select(r => 2 * r - 1).ToArray(), Reference, Weights);
        Assert.Equal(1, match.Correlation, 12);
        Assert.Equal(2, match.Slope, 12);
        // E - R = R - 1: its weighted standard deviation is that of R.
        double total = Weights.Sum(), mean = Reference.Zip(Weights).Sum(p => p.First * p.Second) / total;
        double sd = Math.Sqrt(Reference.Zip(Weights).Sum(p => p.Second * (p.First - mean) * (p.First - mean)) / total);
        Assert.Equal(sd, match.RmsAfterConstant, 9);
    }

    [Fact]
    public void ReversedEnergyHasNegativeCorrelationAndWeightsDecide()
    {
        var reversed = EnergyMatch.Compute(Reference.Select(r => -r).ToArray(), Reference, Weights);
        Assert.Equal(-1, reversed.Correlation, 12);

        // A wrong value where the weight is zero does not count.
        double[] energy = Reference.Select(r => r + 1).ToArray();
        energy[^1] = 100;
        double[] weights = Weights.ToArray();
        weights[^1] = 0;
        Assert.Equal(0, EnergyMatch.Compute(energy, Reference, weights).RmsAfterConstant, 6);
    }

    [Fact]
    public void MismatchedLengthsOrNegativeWeightsAreRejected()
    {
        Assert.Throws<ArgumentException>(() => EnergyMatch.Compute(new double[2], new double[3], new double[3]));
        Assert.Throws<ArgumentException>(() => EnergyMatch.Compute(new double[2], new double[2], new[] { 1.0, -1 }));
        Assert.Throws<ArgumentException>(() => EnergyMatch.Compute(new double[2], new double[2], new double[2]));
    }
}
