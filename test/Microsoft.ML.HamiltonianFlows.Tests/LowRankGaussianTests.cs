using Microsoft.ML.HamiltonianFlows.Torch;
using Microsoft.ML.HamiltonianFlows.Training;
using TorchSharp;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace Microsoft.ML.HamiltonianFlows.Tests;

/// <summary>
/// The low-rank Gaussian stage (<see cref="CovarianceKind.LowRank"/>): its whitening is the inverse square root of the
/// covariance it reports, the rank and shrinkage are chosen on held-out rows of the sample (a factor model's directions are
/// found, independent features keep the diagonal, fewer rows than the basis holds give the full Ledoit-Wolf Gaussian), and
/// an untrained low-rank flow is that Gaussian.
/// </summary>
public sealed class LowRankGaussianTests
{
    private readonly ITestOutputHelper output;

    public LowRankGaussianTests(ITestOutputHelper output) => this.output = output;

    // n rows of d features driven by `factors` shared factors plus unit noise, each feature's loadings of norm 2 so that
    // every feature has the same share of noise (the law probabilistic PCA assumes), in units far from standard ones.
    private static Tensor FactorRows(int n, int d, int factors, int seed)
    {
        using var scope = NewDisposeScope();
        Tensor loadings = Loadings(factors, d);
        Tensor x = TestFlows.Points(n, factors, seed, ScalarType.Float64).matmul(loadings).Plus(TestFlows.Points(n, d, seed + 100, ScalarType.Float64));
        Tensor units = tensor(Enumerable.Range(1, d).Select(j => (double)j).ToArray());
        return (x * units).Plus(50).MoveToOuterDisposeScope();
    }

    // The loadings [factors, d] of FactorRows: each feature's of norm 2.
    private static Tensor Loadings(int factors, int d)
    {
        Tensor loadings = TestFlows.Points(factors, d, 1000, ScalarType.Float64);
        return (loadings / loadings.norm(0, keepdim: true)).Times(2);
    }

    // log N(x; mean, covariance) of each row of x [n, d], by a Cholesky factor of the covariance.
    private static Tensor GaussianLogDensity(Tensor x, Tensor mean, Tensor covariance)
    {
        long d = x.shape[1];
        Tensor l = linalg.cholesky(covariance);
        Tensor solved = linalg.solve_triangular(l, (x - mean).t(), upper: false);
        return (solved * solved).sum(new long[] { 0 }).Plus(l.diagonal().log().sum().Times(2).item<double>() + d * Math.Log(2 * Math.PI)).Times(-0.5);
    }

    // n rows of d features, each feature 0.9 times the one before plus noise (correlation 0.9^|i - j|, a spectrum with no
    // gap), in units far from standard ones.
    private static Tensor ChainRows(int n, int d, int seed)
    {
        using var scope = NewDisposeScope();
        Tensor noise = TestFlows.Points(n, d, seed, ScalarType.Float64);
        var columns = new Tensor[d];
        columns[0] = noise.select(1, 0);
        for (int j = 1; j < d; j++)
            columns[j] = columns[j - 1].Times(0.9).Plus(noise.select(1, j).Times(Math.Sqrt(1 - 0.81)));
        Tensor units = tensor(Enumerable.Range(1, d).Select(j => (double)j).ToArray());
        return (stack(columns, 1) * units).Plus(50).MoveToOuterDisposeScope();
    }

    [Fact]
    public void WhiteningIsTheInverseSquareRootOfTheReportedCovarianceAndInvertsExactly()
    {
        const int d = 6;
        using var scope = NewDisposeScope();
        using var stage = new GaussianStage(d, CovarianceKind.LowRank);
        stage.to(ScalarType.Float64);
        // An orthonormal basis of two directions over the first five features; the sixth is constant in training.
        Tensor raw = TestFlows.Points(5, 2, 3, ScalarType.Float64);
        var (q, _) = linalg.qr(raw);
        Tensor basis = cat(new[] { q, zeros(1, 2, dtype: ScalarType.Float64) }, 0);
        var lowRank = new LowRankCorrelation(GaussianFit.ToArray(basis), new[] { 3.0, 0.5 }, 0.7);
        stage.Set(new[] { 1.0, -2, 3, 0, 10, 4 }, new[] { 2.0, 0.5, 1, 3, 0.1, 1.5 }, null, FeatureCells.None(d),
            new[] { false, false, false, false, false, true }, null, lowRank);
        Assert.Equal(2, stage.Rank);

        Tensor x = TestFlows.Points(50, d, 4, ScalarType.Float64).Times(2).Plus(1);
        var (z, logJacobian) = stage.Whiten(x);
        Assert.True(TestFlows.MaxAbs(stage.Inverse(z) - x) < 1e-10);

        // log N(z; 0, I) + log |dz/dx| is the density of N(mean, covariance) with the covariance the stage reports: the
        // whitening (from 1 / r - 1 and 1 / s) and the covariance (from r^2 - 1 and s^2) are two formulas of one law.
        Tensor covariance = stage.CovarianceMatrix();
        Tensor exact = GaussianLogDensity(x, stage.Mean, covariance);
        double gap = TestFlows.MaxAbs(StandardNormal.LogProbability(z).Plus(logJacobian) - exact);
        Assert.True(gap < 1e-9, $"log-density differs from the covariance's by {gap}");
        // The constant feature stays uncorrelated at its scale.
        Assert.Equal(1.5 * 1.5, covariance[5, 5].item<double>(), 1e-12);
        Assert.Equal(0, covariance[5, 0].item<double>(), 1e-12);
    }

    // A float64 low-rank stage fitted by GaussianFit to rows of d continuous features within the basis b [d, k].
    private static GaussianStage FittedWithin(Tensor rows, Tensor b)
    {
        int d = (int)rows.shape[1];
        using var fit = new GaussianFit(d, FeatureCells.None(d), basis: new LowRankBasis(GaussianFit.ToArray(b), 0));
        fit.AddMoments(rows);
        fit.EndMoments();
        fit.AddLaterPasses(() => new[] { rows.alias() }, CovarianceKind.LowRank);
        var stage = new GaussianStage(d, CovarianceKind.LowRank);
        stage.to(ScalarType.Float64);
        fit.SetStage(stage);
        return stage;
    }

    // The reference law computed here from rows x [n, p] and an orthonormal basis q [p, k]: population moments, the
    // correlation S, the eigenpairs (lambda, Q) of q^T S q as directions q Q and their variances, and s^2 = (p - sum lambda) / (p - k).
    private static Tensor ProbabilisticPcaCovariance(Tensor x, Tensor q)
    {
        long n = x.shape[0], p = x.shape[1], k = q.shape[1];
        Tensor centred = x - x.mean(new long[] { 0 });
        Tensor sd = (centred * centred).mean(new long[] { 0 }).sqrt();
        Tensor v = centred / sd;
        var (lambda, rotation) = linalg.eigh(q.t().matmul(v.t().matmul(v).Times(1.0 / n)).matmul(q));
        double residual = (p - lambda.sum().item<double>()) / (p - k);
        Tensor u = q.matmul(rotation);
        Tensor correlation = eye(p, dtype: ScalarType.Float64).Times(residual).Plus((u * lambda.Plus(-residual)).matmul(u.t()));
        return sd.unsqueeze(1) * correlation * sd.unsqueeze(0);
    }

    [Fact]
    public void TheFitWithinAGivenBasisIsProbabilisticPcaOfTheStandardisedRowsRestrictedToIt()
    {
        // Any orthonormal basis: the fit takes the eigenpairs (lambda, Q) of B^T S B, S the rows' correlation, as the
        // directions B Q and their variances, and the mean of what is left of the trace, (p - sum lambda) / (p - k), as s^2.
        const int d = 10, k = 3;
        using var scope = NewDisposeScope();
        Tensor rows = FactorRows(500, d, 2, 8);
        var (b, _) = linalg.qr(TestFlows.Points(d, k, 9, ScalarType.Float64));
        using var stage = FittedWithin(rows, b);
        Tensor expected = ProbabilisticPcaCovariance(rows, b);
        Assert.Equal(k, stage.Rank);
        Assert.True(TestFlows.MaxAbs(stage.CovarianceMatrix() - expected) < 1e-9 * TestFlows.MaxAbs(expected));
    }

    [Fact]
    public void ABasisReachingAFeatureConstantInTheFitsRowsIsConfinedToTheVaryingOnes()
    {
        // A basis chosen on other rows may reach a feature that the fit's own rows hold constant; the fit confines it to
        // the varying features (masked, orthonormalised again) and the constant one stays uncorrelated.
        const int d = 8, k = 3, constantFeature = 5;
        using var scope = NewDisposeScope();
        Tensor rows = FactorRows(400, d, 2, 11);
        using (Scalar seven = 7.0.ToScalar())
            rows.select(1, constantFeature).fill_(seven);
        var (b, _) = linalg.qr(TestFlows.Points(d, k, 12, ScalarType.Float64));
        Assert.True(TestFlows.MaxAbs(b[constantFeature]) > 0.1);
        using var stage = FittedWithin(rows, b);
        Assert.Equal(k, stage.Rank);

        // The reference on the seven varying features: the basis without the constant feature's row, orthonormalised.
        Tensor varying = tensor(Enumerable.Range(0, d).Where(j => j != constantFeature).Select(j => (long)j).ToArray());
        var (q, _) = linalg.qr(b.index_select(0, varying));
        Tensor expected = ProbabilisticPcaCovariance(rows.index_select(1, varying), q);

        Tensor covariance = stage.CovarianceMatrix();
        Assert.True(TestFlows.MaxAbs(covariance.index_select(0, varying).index_select(1, varying) - expected) < 1e-9 * TestFlows.MaxAbs(expected));
        double scale = stage.Scale[constantFeature].item<double>();
        Assert.Equal(scale * scale, covariance[constantFeature, constantFeature].item<double>(), 1e-12 * scale * scale);
        Assert.Equal(0, TestFlows.MaxAbs(covariance[constantFeature].index_select(0, varying)), 1e-12);
    }

    [Fact]
    public void TheRankChoiceFindsAFactorModelsDirectionsKeepsTheDiagonalForIndependentFeaturesAndShrinksFewRows()
    {
        using var scope = NewDisposeScope();
        const int d = 40;
        Tensor factorRows = FactorRows(2000, d, 3, 1);
        LowRankBasis basis = RankChoice.Choose(factorRows, FeatureCells.None(d), double.PositiveInfinity, 1, FlowArchitecture.MaxRank);
        int k = basis.Rank;
        output.WriteLine($"factor rows: rank {k}");
        Assert.InRange(k, 8, 16);
        Tensor u = tensor(basis.Directions);
        Assert.True(TestFlows.MaxAbs(u.t().matmul(u) - eye(k, dtype: ScalarType.Float64)) < 1e-8);
        // The factors' directions lie in the basis: standardising scales every feature by the same sqrt(5) times its unit,
        // so in the standardised features the loadings keep their directions.
        Tensor loadings = Loadings(3, d);
        double[] inBasis = TestFlows.Values(loadings.matmul(u).norm(1) / loadings.norm(1));
        output.WriteLine($"share of each loading's norm in the basis: {string.Join(", ", inBasis.Select(x => x.ToString("F4")))}");
        Assert.All(inBasis, share => Assert.True(share > 0.95, $"a loading keeps {share:F4} of its norm in the basis"));

        LowRankBasis independent = RankChoice.Choose(TestFlows.Points(2000, d, 2).Times(5).Plus(3), FeatureCells.None(d), double.PositiveInfinity, 1, FlowArchitecture.MaxRank);
        Assert.Equal(0, independent.Rank);
        // Too few rows to hold 10 out: no choice, the full stage's estimate (all 29 directions 30 rows span, shrunk by
        // Ledoit and Wolf's intensity).
        LowRankBasis few = RankChoice.Choose(factorRows.narrow(0, 0, 30), FeatureCells.None(d), double.PositiveInfinity, 1, FlowArchitecture.MaxRank);
        Assert.Equal(29, few.Rank);
        Assert.InRange(few.Shrinkage, 0.01, 0.99);
    }

    [Fact]
    public void WithFewerRowsThanTheBasisHoldsTheLowRankStageIsTheFullLedoitWolfGaussian()
    {
        // 120 rows of 300 features whose correlation decays along the features (no few factors carry it): the rows'
        // correlation has rank 119, inside the basis's 256 columns, and no variance outside the rows' span; held-out rows
        // prefer Ledoit and Wolf's shrinkage to probabilistic PCA here, and the low-rank stage so shrunk within that span
        // is the full stage's estimate without its d x d matrix.
        const int d = 300;
        using var scope = NewDisposeScope();
        Tensor train = ChainRows(120, d, 3).to(ScalarType.Float32), test = ChainRows(200, d, 4).to(ScalarType.Float32);
        FlowTrainingResult Fit(CovarianceKind covariance) => FlowTrainer.Train(
            new FlowArchitecture { Dimension = d, HiddenLayers = new[] { 4 }, Covariance = covariance }, train,
            new FlowTrainingOptions { MaxSteps = 0, KernelDensityCentres = 0, HeavyTails = false, ValidationFraction = 0, Seed = 1 });
        using var lowRank = Fit(CovarianceKind.LowRank).Flow;
        using var full = Fit(CovarianceKind.Full).Flow;
        Assert.Equal(119, lowRank.Gaussian.Rank);

        Tensor expected = full.Gaussian.CovarianceMatrix().to(ScalarType.Float64);
        double gap = TestFlows.MaxAbs(lowRank.Gaussian.CovarianceMatrix().to(ScalarType.Float64) - expected) / TestFlows.MaxAbs(expected);
        using var noGrad = no_grad();
        var (zLow, jacobianLow) = lowRank.Gaussian.Whiten(test);
        var (zFull, jacobianFull) = full.Gaussian.Whiten(test);
        double densityGap = TestFlows.MaxAbs(StandardNormal.LogProbability(zLow).Plus(jacobianLow) - StandardNormal.LogProbability(zFull).Plus(jacobianFull));
        output.WriteLine($"covariance gap {gap:E2} (relative), log-density gap {densityGap:E2} nats");
        Assert.True(gap < 1e-4, $"the covariances differ by {gap} of the largest entry");
        Assert.True(densityGap < 0.05, $"the log-densities of new rows differ by up to {densityGap} nats");
    }

    [Fact]
    public void RowsThatAreAllEqualFitALowRankStageOfRankZeroThatScoresAsTheFullStage()
    {
        // No feature varies: the rank choice has no direction to keep (it asked narrow() for -1 columns and threw).
        using var scope = NewDisposeScope();
        const int d = 6;
        Tensor rows = ones(200, d).mul(tensor(new[] { 1f, -2f, 3f, 0f, 50f, 7f }));
        FlowTrainingResult Fit(CovarianceKind covariance) => FlowTrainer.Train(
            new FlowArchitecture { Dimension = d, HiddenLayers = new[] { 4 }, Covariance = covariance }, rows,
            new FlowTrainingOptions { MaxSteps = 0, KernelDensityCentres = 0, Seed = 1 });
        using var lowRank = Fit(CovarianceKind.LowRank).Flow;
        using var full = Fit(CovarianceKind.Full).Flow;
        Assert.Equal(0, lowRank.Gaussian.Rank);

        Tensor scored = cat(new[] { rows.narrow(0, 0, 1), rows.narrow(0, 0, 1).Plus(0.5f) });
        using var noGrad = no_grad();
        using (var generator = new Generator(2))
        using (var again = new Generator(2))
            FloatTolerance.Close(TestFlows.Values(full.LogLikelihood(scored, 4, generator)), TestFlows.Values(lowRank.LogLikelihood(scored, 4, again)),
                "log-likelihood of the training row and of a row beside it");
    }

    [Fact]
    public void AFeatureConstantInTrainingIsOutsideTheBasisAndKeepsItsConventionalScale()
    {
        using var scope = NewDisposeScope();
        const int d = 30;
        Tensor rows = FactorRows(1000, d, 2, 5);
        using (Scalar four = 4.0.ToScalar())
            rows.select(1, 7).fill_(four);
        var result = FlowTrainer.Train(new FlowArchitecture { Dimension = d, HiddenLayers = new[] { 4 }, Covariance = CovarianceKind.LowRank },
            rows.to(ScalarType.Float32), new FlowTrainingOptions { MaxSteps = 0, KernelDensityCentres = 0, Seed = 1 });
        using var flow = result.Flow;
        Assert.True(flow.Gaussian.Rank > 0);
        Tensor covariance = flow.Gaussian.CovarianceMatrix().to(ScalarType.Float64);
        double scale = flow.Gaussian.Scale[7].to(ScalarType.Float64).item<double>();
        Assert.Equal(scale * scale, covariance[7, 7].item<double>(), 1e-6 * scale * scale);
        Assert.Equal(0, TestFlows.MaxAbs(covariance[7].narrow(0, 0, 7)), 1e-12);
    }

    [Fact]
    public void AnUntrainedLowRankFlowIsItsFittedGaussianAndBeatsTheDiagonalOnHeldOutFactorRows()
    {
        const int d = 30;
        using var scope = NewDisposeScope();
        Tensor train = FactorRows(3000, d, 2, 1).to(ScalarType.Float32), test = FactorRows(500, d, 2, 2).to(ScalarType.Float32);
        FlowTrainingResult Fit(CovarianceKind covariance) => FlowTrainer.Train(
            new FlowArchitecture { Dimension = d, HiddenLayers = new[] { 8 }, Covariance = covariance }, train,
            new FlowTrainingOptions { MaxSteps = 0, KernelDensityCentres = 0, Seed = 1 });
        using var lowRank = Fit(CovarianceKind.LowRank).Flow;
        using var diagonal = Fit(CovarianceKind.Diagonal).Flow;
        Assert.InRange(lowRank.Gaussian.Rank, 8, 16);

        double[] exact = TestFlows.Values(GaussianLogDensity(test.to(ScalarType.Float64), lowRank.Gaussian.Mean.to(ScalarType.Float64),
            lowRank.Gaussian.CovarianceMatrix().to(ScalarType.Float64)));
        double[] estimate, diagonalEstimate;
        using (no_grad())
        using (var generator = new Generator(3))
        {
            estimate = lowRank.LogLikelihood(test, 64, generator).to(ScalarType.Float64).data<double>().ToArray();
            diagonalEstimate = diagonal.LogLikelihood(test, 64, generator).to(ScalarType.Float64).data<double>().ToArray();
        }
        double meanGap = estimate.Zip(exact, (e, x) => e - x).Average();
        output.WriteLine($"low rank: IW(64) {estimate.Average():F3}, exact {exact.Average():F3}; diagonal {diagonalEstimate.Average():F3} nats per row");
        Assert.True(Math.Abs(meanGap) < 0.01 * d, $"IW(64) differs from the low-rank Gaussian's log-density by {meanGap} nats a row on average");
        // Two factors over 30 features: the diagonal misses most of the rows' structure.
        Assert.True(estimate.Average() > diagonalEstimate.Average() + 0.2 * d, "the low-rank stage should beat the diagonal one by far on factor rows");
    }
}
