using Microsoft.ML.HamiltonianFlows.Torch;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.HamiltonianFlows.Training;

/// <summary>
/// Chooses the tail c of the <see cref="GaussianStage"/>'s marginals t = c asinh(u / c) on held-out rows of the training
/// sample: the stage is fitted with each c of <see cref="Candidates"/> and with c = infinity (the plain Gaussian) to 80% of
/// the sample's rows (at most <see cref="MaxValues"/> values; lattice features dequantised by one seeded draw) and scored
/// on the other 20%, over the features that vary in the fitting rows. The c with the best mean held-out log-likelihood is
/// kept only when it gains more than <see cref="MinimumGainPerFeature"/> nats per such feature over the plain Gaussian:
/// the plain Gaussian is the default, and a heavier tail must earn its place.
/// </summary>
/// <remarks>
/// Measured on training rows only (`analysis/density_probes.py tails`, three 80/20 splits of each training file; gain in
/// nats per held-out row of the best c over c = infinity): pima 0.75, vehicle 1.49, shuttle 9.07, satellite 0.01,
/// ionosphere 0.06, MNIST-tiny's training digits 482, Fashion-MNIST 14 x 14 classes 10 to 738; on twelve tables never
/// used to choose anything (docs/anomaly-benchmark.md) a finite c on eight, c = infinity on iris, vowel, votes and dna;
/// the main job's ring keeps c = infinity. The candidates span tails from nearly Cauchy-like (c = 1: density decaying as
/// 1 / |u| times a log-normal factor) to nearly Gaussian (c = 10 bends only beyond 10 standard deviations). A rule of
/// two standard errors of the per-row gains was tried first and dropped: on heavy-tailed rows the gains are themselves
/// heavy-tailed, and on one of six draws of 2,000 Student-t rows it kept the Gaussian against a gain of 4.2 +- 2.3 nats.
/// </remarks>
internal static class TailChoice
{
    /// <summary>The finite tails tried besides c = infinity.</summary>
    public static readonly double[] Candidates = { 1, 2, 3, 5, 10 };

    /// <summary>
    /// The least mean held-out gain per feature, in nats, for which a finite tail replaces the plain Gaussian: the
    /// tolerance <see cref="ScoringBudget"/> uses for the scoring samples. Ionosphere's 0.06 nats per row over 33 features
    /// and satellite's 0.01 over 36 stay below it; pima's 0.75 over 8 is far above.
    /// </summary>
    public const double MinimumGainPerFeature = 0.01;

    /// <summary>The share of the sample's rows held out to score each c.</summary>
    public const double HeldOutFraction = 0.2;

    /// <summary>
    /// Most values (rows x features) of the sample the choice uses: 2^24, 128 MB in float64 per copy, so that wide data
    /// do not hold gigabytes for it (all 20,000 sample rows up to 838 features, 3,355 rows of 5,000 features).
    /// </summary>
    public const long MaxValues = 1L << 24;

    /// <summary>
    /// The tail for a stage of the given covariance fitted to <paramref name="sample"/> ([m, d], finite rows without gross
    /// outliers) whose lattice features have <paramref name="cells"/>: +infinity unless a finite c wins as described above,
    /// or when fewer than 10 rows would be held out.
    /// </summary>
    public static double Choose(Tensor sample, FeatureCells cells, CovarianceKind covariance, int seed)
    {
        using var scope = NewDisposeScope();
        int d = (int)sample.shape[1];
        if (Split(sample, cells, seed) is not { } split)
            return double.PositiveInfinity;
        var (fitting, scored) = split;
        // A low-rank stage's basis is chosen after its tail (RankChoice), so its tail is chosen as a diagonal stage's.
        if (covariance == CovarianceKind.LowRank)
            covariance = CovarianceKind.Diagonal;

        // Features constant in the fitting rows are left out: the stage gives such a feature a conventional scale,
        // where a held-out value u costs u^2 / 2 under the plain Gaussian and about log |u| under a tail, so they would
        // choose a tail from rows the fitting rows say nothing about (pixels lit in one image of a few hundred).
        using var moments = new GaussianFit(d, FeatureCells.None(d));
        moments.AddMoments(fitting);
        moments.EndMoments();
        long[] varying = Enumerable.Range(0, d).Except(moments.ConstantFeatures).Select(j => (long)j).ToArray();
        if (varying.Length == 0)
            return double.PositiveInfinity;
        if (varying.Length < d)
        {
            Tensor columns = tensor(varying);
            fitting = fitting.index_select(1, columns);
            scored = scored.index_select(1, columns);
            d = varying.Length;
        }

        double plain = HeldOutLogLikelihood(fitting, scored, covariance, double.PositiveInfinity);
        double best = double.PositiveInfinity, bestGain = MinimumGainPerFeature * d;
        foreach (double c in Candidates)
        {
            double gain = HeldOutLogLikelihood(fitting, scored, covariance, c) - plain;
            if (gain > bestGain)
            {
                best = c;
                bestGain = gain;
            }
        }
        return best;
    }

    /// <summary>
    /// The sample's rows split into fitting rows (80%) and held-out rows (20%), in float64, at most <see cref="MaxValues"/>
    /// values in all and lattice features dequantised by one draw, both from a generator of <paramref name="seed"/>;
    /// null when fewer than 10 rows would be held out. The tail's choice and the rank's (<see cref="RankChoice"/>) score
    /// on the same split.
    /// </summary>
    internal static (Tensor Fitting, Tensor Scored)? Split(Tensor sample, FeatureCells cells, int seed)
    {
        int d = (int)sample.shape[1];
        using var generator = new Generator((ulong)(uint)seed);
        long m = Math.Min(sample.shape[0], Math.Max(1, MaxValues / Math.Max(1, d)));
        long heldOut = (long)(HeldOutFraction * m);
        if (heldOut < 10)
            return null;
        Tensor rows = (m < sample.shape[0] ? sample.index_select(0, randperm(sample.shape[0], generator: generator).narrow(0, 0, m)) : sample)
            .to(ScalarType.Float64);
        rows = cells.Dequantized(rows, generator);
        Tensor order = randperm(m, generator: generator);
        return (rows.index_select(0, order.narrow(0, heldOut, m - heldOut)), rows.index_select(0, order.narrow(0, 0, heldOut)));
    }

    // The held-out rows' mean log-likelihood under the stage of tail c fitted to the fitting rows (already dequantised).
    private static double HeldOutLogLikelihood(Tensor fitting, Tensor scored, CovarianceKind covariance, double c)
    {
        using var stage = GaussianFit.InMemoryStage(fitting, c, covariance).Stage;
        var (z, logJacobian) = stage.Whiten(scored);
        return StandardNormal.LogProbability(z).Plus(logJacobian).mean().item<double>();
    }
}
