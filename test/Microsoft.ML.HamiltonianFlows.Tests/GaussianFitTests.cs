using Microsoft.ML.HamiltonianFlows.Torch;
using Microsoft.ML.HamiltonianFlows.Training;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace Microsoft.ML.HamiltonianFlows.Tests;

/// <summary>The Gaussian stage's fit, a pass over blocks of rows at a time.</summary>
public class GaussianFitTests
{
    [Fact]
    public void FitsTogetherReadTheSharedRowsOncePerPassAndEndAsFitsOfTheirOwn()
    {
        using var scope = NewDisposeScope();
        // Lattice features (dequantised with draws of the fit's seed), a continuous one and a constant one.
        Tensor shared = LatticeFeatureTests.MixedRows(300, 1), own = LatticeFeatureTests.MixedRows(40, 2);
        var cells = FeatureCells.Detect(shared);
        Assert.True(cells.Width[0] > 0);
        const double tail = 1; // a finite tail: three passes, the later two dequantising with the fit's draws
        // Fit i adds the own rows from i on: the last one none.
        Tensor OwnRows(int i) => own.narrow(0, 10 * i, 40 - 10 * i);
        IEnumerable<Tensor> Blocks() => new[] { shared.narrow(0, 0, 128), shared.narrow(0, 128, 128), shared.narrow(0, 256, 44) };

        int enumerations = 0;
        var together = Enumerable.Range(0, 5).Select(_ => new GaussianFit(4, cells, tail, seed: 7)).ToArray();
        GaussianFit.FitTogether(together, () => { enumerations++; return Blocks(); }, OwnRows, CovarianceKind.Full);
        Assert.Equal(3, enumerations);

        var means = new List<double[]>();
        for (int i = 0; i < together.Length; i++)
        {
            int fit = i;
            IEnumerable<Tensor> Alone() => fit < 4 ? Blocks().Append(OwnRows(fit)) : Blocks();
            using var alone = new GaussianFit(4, cells, tail, seed: 7);
            foreach (Tensor block in Alone())
                alone.AddMoments(block);
            alone.EndMoments();
            alone.AddLaterPasses(Alone, CovarianceKind.Full);

            using var expected = new GaussianStage(4, CovarianceKind.Full);
            using var actual = new GaussianStage(4, CovarianceKind.Full);
            alone.SetStage(expected);
            together[i].SetStage(actual);
            var expectedState = expected.state_dict();
            foreach (var (name, value) in actual.state_dict())
                Assert.True(value.eq(expectedState[name]).all().item<bool>(), $"fit {i}: {name} differs");
            means.Add(actual.Mean.to(ScalarType.Float64).data<double>().ToArray());
            together[i].Dispose();
        }
        // Each saw its own rows: the first (all 40) and the last (none) have different means.
        Assert.NotEqual(means[0], means[4]);
    }

    [Fact]
    public void TwoRowsFitUncorrelatedFeaturesAndAThirdRowScoresAsATypicalRow()
    {
        using var scope = NewDisposeScope();
        // Two rows lie on one line whatever they are: their correlation is +-1 and says nothing. Unshrunk, this row off that
        // line scored -1e10 (the held-out refits of a three-row fit are such stages: ThreeTrainingRowsSetAThresholdOnTheirScale).
        using var rows = tensor(new[] { 0.13, 0.71, 1.37, 2.9 }, new long[] { 2, 2 });
        var (stage, varying) = GaussianFit.InMemoryStage(rows, double.PositiveInfinity, CovarianceKind.Full);
        using (stage)
        {
            Assert.Equal(2, varying);
            var (z, logJacobian) = stage.Whiten(tensor(new[] { 1.37, 0.71 }, new long[] { 1, 2 }));
            double logLikelihood = StandardNormal.LogProbability(z).Plus(logJacobian).item<double>();
            // Independent features of means (0.75, 1.805) and standard deviations (0.62, 1.095): the row lies one standard
            // deviation from the mean in each, log N = -log(2 pi) - log(0.62 * 1.095) - 1 = -2.4506.
            Assert.Equal(-2.4506, logLikelihood, 3);
        }
    }

    [Fact]
    public void FitsTogetherMustShareTheirTail()
    {
        var cells = FeatureCells.None(3);
        using var a = new GaussianFit(3, cells, 1);
        using var b = new GaussianFit(3, cells);
        Assert.Throws<ArgumentException>(() => GaussianFit.FitTogether(new[] { a, b }, () => Array.Empty<Tensor>(), _ => zeros(0, 3), CovarianceKind.Full));
    }
}
