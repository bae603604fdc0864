using Microsoft.ML.HamiltonianFlows.Torch;
using Microsoft.ML.HamiltonianFlows.Training;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace Microsoft.ML.HamiltonianFlows.Tests;

/// <summary>Features whose values lie on a lattice (counts, codes) are modelled dequantised over their cells.</summary>
public class LatticeFeatureTests
{
    // Column 0: counts 0..9; column 1: the same counts rescaled as NormalizeMinMax would (x / 9 * 0.5 + 2);
    // column 2: continuous; column 3: constant.
    internal static Tensor MixedRows(int n, int seed)
    {
        using var generator = new Generator((ulong)seed);
        Tensor counts = randint(0, 10, new long[] { n, 1 }, generator: generator).to(ScalarType.Float32);
        Tensor rescaled = counts.DividedBy(9).Times(0.5f).Plus(2);
        Tensor continuous = randn(new long[] { n, 1 }, generator: generator);
        using Scalar constant = 4.5f.ToScalar();
        return cat(new[] { counts, rescaled, continuous, full(n, 1, constant) }, 1);
    }

    [Fact]
    public void LatticesAreFoundWhateverTheirScaleAndContinuousOrConstantFeaturesHaveNone()
    {
        using var scope = NewDisposeScope();
        var cells = FeatureCells.Detect(MixedRows(500, 1));

        Assert.Equal(1, cells.Width[0], 6);
        Assert.Equal(0, cells.Origin[0], 6);
        Assert.Equal(0.5 / 9, cells.Width[1], 5);
        Assert.Equal(2, cells.Origin[1], 5);
        Assert.Equal(0, cells.Width[2]);
        Assert.Equal(0, cells.Width[3]);
    }

    [Fact]
    public void LatticesThatSingleRoundsOffTheirPointsAreFound()
    {
        // Column 0: 0..1,000 divided by 1,000 in Single, as NormalizeMinMax would; column 1: decimals recorded to one
        // place far from 0, as a text loader reads "214.8" into a Single; column 2: 0..9,999 divided by 10,000, where the
        // number of widths counted with the smallest gap alone is off by one at the far end; column 3: 40 continuous values,
        // repeated (gaps far above Single's rounding, so that the width is fitted and the values found off any lattice);
        // column 4: 200 continuous values around 1,000, repeated, whose gaps are near Single's rounding there, so that a
        // width fitted to them would pass the residual check: Single is too coarse there to tell a lattice. The exact test misses the first
        // three: the smallest gap is rounded, and 1,000, 24 or 9,999 gaps out the error passes 1e-3.
        const int n = 10000, d = 5;
        var rng = new Random(7);
        var values = new float[n * d];
        double[] continuous = Enumerable.Range(0, 40).Select(_ => rng.Gaussian()).ToArray();
        double[] offset = Enumerable.Range(0, 200).Select(_ => 1000 + rng.Gaussian()).ToArray();
        for (int i = 0; i < n; i++)
        {
            values[d * i] = (i % 1001) / 1000f;
            values[d * i + 1] = float.Parse((213.9 + 0.1 * rng.Next(25)).ToString("F1", System.Globalization.CultureInfo.InvariantCulture), System.Globalization.CultureInfo.InvariantCulture);
            values[d * i + 2] = i / 10000f;
            values[d * i + 3] = (float)continuous[i % 40];
            values[d * i + 4] = (float)offset[i % 200];
        }
        using var scope = NewDisposeScope();
        var cells = FeatureCells.Detect(tensor(values, new long[] { n, d }));

        Assert.Equal(1e-3, cells.Width[0], 9);
        Assert.Equal(0, cells.Origin[0]);
        Assert.Equal(0.1, cells.Width[1], 5);
        Assert.Equal(213.9, cells.Origin[1], 4);
        Assert.Equal(1e-4, cells.Width[2], 10);
        Assert.Equal(0, cells.Width[3]);
        Assert.Equal(0, cells.Width[4]);
    }

    [Fact]
    public void TheGaussianOfALatticeFeatureHasTheVarianceOfItsDequantisedValues()
    {
        using var scope = NewDisposeScope();
        Tensor rows = MixedRows(4000, 2);
        var result = FlowTrainer.Train(new FlowArchitecture { Dimension = 4 }, rows, new FlowTrainingOptions { MaxSteps = 0 });
        using var flow = result.Flow;

        // Population variance plus the uniform offset's w^2 / 12, for the counts (w = 1) and their rescaled copy.
        double countVariance = rows.select(1, 0).to(ScalarType.Float64).var(unbiased: false).item<double>();
        float[] scale = flow.Gaussian.Scale.data<float>().ToArray();
        Assert.Equal(Math.Sqrt(countVariance + 1.0 / 12), scale[0], 3);
        Assert.Equal(Math.Sqrt(countVariance + 1.0 / 12) * 0.5 / 9, scale[1], 4);
        Assert.True(flow.Gaussian.HasCells);
        Assert.Equal(8, flow.NoiseWidth);
    }

    [Fact]
    public void SamplesOfLatticeFeaturesLieOnTheirLattice()
    {
        using var scope = NewDisposeScope();
        var result = FlowTrainer.Train(new FlowArchitecture { Dimension = 4 }, MixedRows(600, 3), new FlowTrainingOptions { MaxSteps = 0 });
        using var flow = result.Flow;
        using var noGrad = no_grad();
        using var generator = new Generator(5);
        Tensor q = flow.Sample(2000, generator).Q.to(ScalarType.Float64);

        Tensor counts = q.select(1, 0);
        Assert.True(TestFlows.MaxAbs(counts - counts.round()) < 1e-4);
        Tensor steps = q.select(1, 1).Plus(-2).DividedBy(0.5 / 9);
        Assert.True(TestFlows.MaxAbs(steps - steps.round()) < 1e-3);
        // The continuous feature is not rounded: its draws take many values.
        Assert.True(q.select(1, 2).unique().Item1.shape[0] > 1900);
    }

    [Fact]
    public void TheLikelihoodOfALatticeRowIsTheDensityAveragedOverItsCell()
    {
        // Counts from a narrow Gaussian (sd about 0.6 of a cell): the untrained flow's density of k averaged over
        // [k - 1/2, k + 1/2) is Phi((k + 1/2 - m) / s) - Phi((k - 1/2 - m) / s), which differs from the density at k
        // itself by far more than the tolerance, so scoring at the point would fail this test.
        using var scope = NewDisposeScope();
        using var generator = new Generator(11);
        Tensor rows = randn(new long[] { 20000, 1 }, generator: generator).Times(0.5).round();
        var result = FlowTrainer.Train(new FlowArchitecture { Dimension = 1 }, rows, new FlowTrainingOptions { MaxSteps = 0, KernelDensityCentres = 0 });
        using var flow = result.Flow;
        using var noGrad = no_grad();

        Tensor k = tensor(new double[] { -1, 0, 1 });
        double mean = flow.Gaussian.Mean.item<float>(), sd = flow.Gaussian.Scale.item<float>();
        Tensor Phi(Tensor t) => t.Plus(-mean).DividedBy(sd * Math.Sqrt(2)).erf().Plus(1).Times(0.5);
        double[] cellAverage = (Phi(k.Plus(0.5)) - Phi(k.Plus(-0.5))).log().data<double>().ToArray();
        double[] atPoint = k.Plus(-mean).DividedBy(sd).Squared().Times(-0.5).Plus(-Math.Log(sd)).Plus(-0.5 * Math.Log(2 * Math.PI)).data<double>().ToArray();

        using var scoring = new Generator(12);
        float[] logLikelihood = flow.LogLikelihood(k.to(ScalarType.Float32).reshape(3, 1), 1024, scoring).data<float>().ToArray();
        for (int i = 0; i < 3; i++)
        {
            Assert.InRange(logLikelihood[i] - cellAverage[i], -0.02, 0.02);
            Assert.True(Math.Abs(atPoint[i] - cellAverage[i]) > 0.05);
        }
    }
}
