using Microsoft.ML.HamiltonianFlows.Torch;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.HamiltonianFlows.Training;

/// <summary>
/// What the Gaussian stage gains on the held-out rows from having been fitted to them as well: per held-out row, its
/// log-density under the flow's stage (fitted to every kept row) minus its log-density under the same stage (the same
/// lattice cells and tail) fitted to every kept row but a fold of the held-out rows that contains it. Subtracted from
/// the held-out rows' log-likelihoods, it lets them stand for rows the model never saw, which an anomaly threshold needs.
/// </summary>
/// <remarks>
/// The stage stays fitted to all the rows: fitted to the rows not held out only, it lost held-out likelihood on the
/// training files (`AnomalyBenchmark validate`, seed 1: ionosphere 0.90, pima 0.22, vehicle 1.15 nats per row, satellite
/// level; docs/anomaly-benchmark.md, sixteenth session). But then the held-out rows look more typical than new rows
/// wherever the stage overfits, with features comparable to rows. Refitting without all the held-out rows at once
/// over-corrects there: on 200 rows of 120 features, a stage fitted to the 160 others scored them so much worse than the
/// stage of all 200 scores new rows that 0.019 of new rows were flagged at a contamination of 0.1. With
/// <see cref="Folds"/> folds each refit leaves out a fifth of the measured held-out rows (held-out rows beyond those are
/// always refitted), so it is nearly the stage of all rows. Exact for the stage alone; for a trained flow, which acts on
/// the stage's coordinates, it is the stage's part of the optimism. The held-out rows also took part in choosing the
/// tail, the lattice cells and the gross-outlier rule, which the refits keep as they are; they keep a low-rank stage's
/// basis too, which was chosen without the held-out rows (FlowTrainer).
/// </remarks>
internal static class StageOptimism
{
    /// <summary>Folds of the held-out rows, each refitted without (fewer where fewer rows are measured).</summary>
    public const int Folds = 5;

    /// <summary>
    /// The optimism of the first <paramref name="count"/> rows of <paramref name="heldOut"/> (data units), given the stage
    /// the flow has, the lattice cells, tail and low-rank basis (null for other kinds) it was fitted with, and the rows not
    /// held out as blocks on <paramref name="blockDevice"/> (each enumeration a pass over them; every block is disposed
    /// once read).
    /// </summary>
    public static double[] Measure(
        GaussianStage stage, Tensor heldOut, long count, Func<IEnumerable<Tensor>> fittingBlocks, Device blockDevice, FeatureCells cells, double tail,
        LowRankBasis? basis, int seed)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        int d = (int)heldOut.shape[1];
        var optimism = new double[count];
        int folds = (int)Math.Min(Folds, count);
        // Fold f: the measured rows f, f + folds, f + 2 folds, ...; every other held-out row is refitted with the rest.
        long[] Rows(int fold, bool inFold) => Enumerable.Range(0, (int)heldOut.shape[0])
            .Where(i => (i < count && i % folds == fold) == inFold).Select(i => (long)i).ToArray();
        // A fold's other held-out rows, made for each pass and disposed once added: one copy of them at a time.
        Tensor Others(int fold)
        {
            using var othersScope = NewDisposeScope();
            return heldOut.index_select(0, tensor(Rows(fold, inFold: false), device: heldOut.device)).to(blockDevice).MoveToOuterDisposeScope();
        }
        var fits = Enumerable.Range(0, folds).Select(_ => new GaussianFit(d, cells, tail, seed, basis)).ToArray();
        try
        {
            // One pass over the rows not held out serves every fold's refit: streamed data are read one to three more times,
            // not that many per fold.
            GaussianFit.FitTogether(fits, fittingBlocks, Others, stage.Covariance);
            for (int fold = 0; fold < folds; fold++)
            {
                using var foldScope = NewDisposeScope();
                long[] inFold = Rows(fold, inFold: true);
                Tensor foldRows = heldOut.index_select(0, tensor(inFold, device: heldOut.device));
                // In the flow's precision before it is set, as the flow's own stage is: set first, a Double flow's refit
                // would keep Single-rounded means and factors.
                using var refitted = new GaussianStage(d, stage.Covariance);
                refitted.to(stage.Mean.dtype).to(stage.Mean.device);
                fits[fold].SetStage(refitted);
                double[] values = (LogDensity(stage, foldRows) - LogDensity(refitted, foldRows)).to(ScalarType.Float64).cpu().data<double>().ToArray();
                for (int k = 0; k < inFold.Length; k++)
                    optimism[inFold[k]] = values[k];
            }
        }
        finally
        {
            foreach (GaussianFit fit in fits)
                fit.Dispose();
        }
        return optimism;
    }

    // The stage's log-density of rows x up to a constant the two stages share: log N(z; 0, I) + log |dz/dx| without the
    // d/2 log(2 pi).
    private static Tensor LogDensity(GaussianStage stage, Tensor x)
    {
        var (z, logJacobian) = stage.Whiten(x);
        return (z * z).sum(1).Times(-0.5).Plus(logJacobian);
    }
}
