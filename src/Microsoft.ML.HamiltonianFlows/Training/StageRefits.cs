using Microsoft.ML.HamiltonianFlows.Torch;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.HamiltonianFlows.Training;

/// <summary>
/// The Gaussian stage fitted again to every kept row but one fold of the held-out rows, once per fold, and what the held-out
/// rows score with them: each row's log-likelihood under the trained model with its fold's refit in place of the stage
/// (the kernel centres whitened by it too), a model no part of which was fitted to the row. They stand for new rows'
/// log-likelihoods, which an anomaly threshold needs.
/// </summary>
/// <remarks>
/// The stage stays fitted to all the rows: fitted to the rows not held out only, it lost held-out likelihood on the
/// training files (`AnomalyBenchmark validate`, seed 1: ionosphere 0.90, pima 0.22, vehicle 1.15 nats per row, satellite
/// level; docs/anomaly-benchmark.md, sixteenth session). But wherever the stage overfits, with features comparable to
/// rows, the rows it was fitted to look more typical than new rows, and so they do to everything the flow builds on the
/// stage's coordinates, where every row the stage saw lies nearer the origin than a new row. With 100 rows of 300
/// features sharing one factor the trained flow gained 54 nats per held-out row beyond the stage's own gain of about 790,
/// and a threshold that took out the stage's gain alone flagged 0.24 of new rows at a contamination of 0.1 (0.10 with
/// the refits in the model; six draws of the rows, docs/anomaly-benchmark.md, twentieth session). The choices made on the
/// held-out rows (early stopping, shares, kernel width) keep the stage of all rows: made with the refits they gave no
/// better held-out likelihood on the training files (same section). Refitting without all the held-out rows at once
/// over-corrects: on 200 rows of 120 features, a stage fitted to the 160 others scored them so much worse than the stage
/// of all 200 scores new rows that 0.019 of new rows were flagged at a contamination of 0.1. With <see cref="Folds"/>
/// folds each refit leaves out a fifth of the measured held-out rows (held-out rows beyond those are always refitted), so
/// it is nearly the stage of all rows. The held-out rows also took part in choosing the tail, the lattice cells and the
/// gross-outlier rule, which the refits keep as they are; they keep a low-rank stage's basis too, which was chosen without
/// the held-out rows (FlowTrainer).
/// </remarks>
internal sealed class StageRefits : IDisposable
{
    /// <summary>Folds of the held-out rows, each refitted without (fewer where fewer rows are measured).</summary>
    public const int Folds = 5;

    // Per fold, the measured held-out rows it holds and the stage fitted without them.
    private readonly long[][] rows;
    private readonly GaussianStage[] stages;
    private readonly long count;

    private StageRefits(long[][] rows, GaussianStage[] stages, long count)
    {
        this.rows = rows;
        this.stages = stages;
        this.count = count;
    }

    /// <summary>
    /// Fits the stage again without each fold of the first <paramref name="count"/> rows of <paramref name="heldOut"/>
    /// (data units), given the stage the flow has, the lattice cells, tail and low-rank basis (null for other kinds) it
    /// was fitted with, and the rows not held out as blocks on <paramref name="blockDevice"/> (each enumeration a pass over
    /// them; every block is disposed once read).
    /// </summary>
    public static StageRefits Fit(
        GaussianStage stage, Tensor heldOut, long count, Func<IEnumerable<Tensor>> fittingBlocks, Device blockDevice, FeatureCells cells, double tail,
        LowRankBasis? basis, int seed)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        int d = (int)heldOut.shape[1];
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
        var stages = new List<GaussianStage>();
        try
        {
            // One pass over the rows not held out serves every fold's refit: streamed data are read one to three more times,
            // not that many per fold.
            GaussianFit.FitTogether(fits, fittingBlocks, Others, stage.Covariance);
            for (int fold = 0; fold < folds; fold++)
            {
                // In the flow's precision before it is set, as the flow's own stage is: set first, a Double flow's refit
                // would keep Single-rounded means and factors.
                var refitted = new GaussianStage(d, stage.Covariance);
                stages.Add(refitted);
                refitted.to(stage.Mean.dtype).to(stage.Mean.device);
                fits[fold].SetStage(refitted);
                // The refits outlive this scope, as the flow's own stage outlives training.
                foreach (var (_, buffer) in refitted.named_buffers())
                    buffer.DetachFromDisposeScope();
            }
            return new StageRefits(Enumerable.Range(0, folds).Select(fold => Rows(fold, inFold: true)).ToArray(), stages.ToArray(), count);
        }
        catch
        {
            foreach (GaussianStage refitted in stages)
                refitted.Dispose();
            throw;
        }
        finally
        {
            foreach (GaussianFit fit in fits)
                fit.Dispose();
        }
    }

    /// <summary>
    /// Each measured held-out row's log-likelihood, with <paramref name="samples"/> importance samples, under the trained
    /// <paramref name="flow"/> (its shares and kernel width as they are) with the refit that did not see the row in place
    /// of its stage, and its kernel density's centres (<paramref name="centreRows"/>, spread over their cells as
    /// <see cref="ScoringBudget"/> spread them) whitened by that refit. The flow is left as it was.
    /// </summary>
    public double[] HeldOutLogLikelihoods(HamiltonianFlow flow, Tensor heldOut, int samples, Tensor? centreRows, int seed)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        KernelDensity? kernels = flow.KernelDensity;
        var own = flow.Gaussian.named_buffers().ToDictionary(b => b.name, b => b.buffer.clone());
        var logLikelihoods = new double[count];
        using var generator = new Generator((ulong)seed, flow.Device);
        int blockRows = ScoringBlock.Rows(flow.Architecture, samples);
        try
        {
            for (int fold = 0; fold < stages.Length; fold++)
            {
                using var foldScope = NewDisposeScope();
                CopyBuffers(stages[fold], flow.Gaussian);
                // A kernel density is only ever set from the centre rows (ScoringBudget), so they are here whenever it is.
                KernelDensity? refitKernels = kernels is null ? null
                    : ScoringBudget.Candidates(flow, centreRows ?? throw new InvalidOperationException("The flow has a kernel density but no centre rows were given."), seed, kernels.Width, kernels.Weight);
                try
                {
                    long[] part = rows[fold];
                    Tensor foldRows = heldOut.index_select(0, tensor(part, device: heldOut.device));
                    for (int start = 0; start < part.Length; start += blockRows)
                    {
                        using var blockScope = NewDisposeScope();
                        int n = Math.Min(blockRows, part.Length - start);
                        double[] values = flow.LogLikelihood(foldRows.narrow(0, start, n), samples, generator, refitKernels)
                            .to(ScalarType.Float64).cpu().data<double>().ToArray();
                        for (int k = 0; k < n; k++)
                            logLikelihoods[part[start + k]] = values[k];
                    }
                }
                finally
                {
                    refitKernels?.Release();
                }
            }
        }
        finally
        {
            CopyBuffers(own, flow.Gaussian);
        }
        return logLikelihoods;
    }

    // Every buffer of a stage into the same-named buffer of another of the same kind and shape.
    private static void CopyBuffers(GaussianStage from, GaussianStage to) =>
        CopyBuffers(from.named_buffers().ToDictionary(b => b.name, b => b.buffer), to);

    private static void CopyBuffers(IReadOnlyDictionary<string, Tensor> from, GaussianStage to)
    {
        using var noGrad = no_grad();
        foreach (var (name, buffer) in to.named_buffers())
            buffer.copy_(from[name]);
    }

    public void Dispose()
    {
        foreach (GaussianStage stage in stages)
            stage.Dispose();
    }
}
