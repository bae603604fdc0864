using Microsoft.ML.HamiltonianFlows.Torch;
using static TorchSharp.torch;

namespace Microsoft.ML.HamiltonianFlows.Training;

/// <summary>
/// The number K of importance samples to score a trained flow with, measured on held-out rows: the smallest power of two
/// whose estimate log (1/K) sum_k w_k lies, averaged over the rows, within <see cref="NatsPerDimension"/> nats per
/// dimension of the K = <see cref="Reference"/> estimate (the estimate is biased low by about Var(w) / (2 K p^2), so this
/// bounds the bias). Scoring costs K integrations per row: a flow that stayed close to its Gaussian, where one sample is
/// exact, scores many times faster than one that learned a lot.
/// </summary>
/// <remarks>
/// A rank criterion (the K-sample estimate ranks the held-out rows as the reference does, Spearman at least 0.999) was
/// tried and left out: rows of similar density differ by less than the estimator's noise, so even K = 32 ranked the
/// held-out rows of the 2-D ring only at 0.89 against K = 64, and every flow would have scored with 64.
/// </remarks>
internal static class ScoringBudget
{
    public const int Reference = 64;
    public const double NatsPerDimension = 0.01;

    // Held-out rows used: enough for the mean to about 0.01 nats, few enough that K = 64 costs about a second (2-D).
    private const int MaxRows = 1024;

    public static int Choose(HamiltonianFlow flow, Tensor heldOut, int seed)
    {
        using var scope = NewDisposeScope();
        using var inference = inference_mode();
        using var generator = new Generator((ulong)seed, flow.Device);
        long n = Math.Min(heldOut.shape[0], MaxRows);
        int blockRows = ScoringBlock.Rows(flow.Architecture, Reference);
        // [Reference, n] log-weights, one column per row; the first K of a column are a K-sample estimate. Each block's
        // temporaries are freed when it ends: only its [Reference, rows] log-weights are kept.
        var blocks = new List<Tensor>();
        for (long start = 0; start < n; start += blockRows)
        {
            using var blockScope = NewDisposeScope();
            Tensor block = flow.LogImportanceWeights(heldOut.narrow(0, start, Math.Min(blockRows, n - start)), Reference, generator);
            blocks.Add(block.MoveToOuterDisposeScope());
        }
        Tensor logWeights = cat(blocks, 1).to(ScalarType.Float64);
        double reference = MeanEstimate(logWeights, Reference);
        if (!double.IsFinite(reference))
            return Reference;
        for (int k = 1; k < Reference; k *= 2)
            if (Math.Abs(MeanEstimate(logWeights, k) - reference) <= NatsPerDimension * flow.Dimension)
                return k;
        return Reference;
    }

    private static double MeanEstimate(Tensor logWeights, int k) =>
        logWeights.narrow(0, 0, k).logsumexp(0).Plus(-Math.Log(k)).mean().item<double>();
}
