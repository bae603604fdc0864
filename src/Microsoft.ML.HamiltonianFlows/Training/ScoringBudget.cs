using Microsoft.ML.HamiltonianFlows.Torch;
using static TorchSharp.torch;

namespace Microsoft.ML.HamiltonianFlows.Training;

/// <summary>
/// What a trained flow scores with, measured on held-out rows: the Gaussian's share alpha of its density
/// (<see cref="GaussianShare"/>), the kernel density's width and share beta where centres are given
/// (<see cref="KernelShare"/>), then the number K of importance samples, the smallest power of two whose estimate
/// log (1/K) sum_k w_k lies, averaged over the rows, within <see cref="NatsPerDimension"/> nats per dimension of the
/// K = <see cref="Reference"/> estimate (the estimate is biased low by about Var(w) / (2 K p^2), so this bounds the bias).
/// The dimensions counted are the features that vary in training: a constant feature's coordinates are held by the
/// dynamics and its momentum is proposed as the base draws it, so it adds nothing to the weights' spread, and counting it
/// would loosen the bound (292 of MNIST-tiny's 784 pixels are constant).
/// Scoring costs K integrations per row: a flow that stayed close to its Gaussian, where one sample is exact up to the leapfrog's O(eps^2) error, scores many
/// times faster than one that learned a lot.
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
    internal const int MaxRows = 1024;

    /// <summary>What <see cref="Measure(HamiltonianFlow, Tensor, int, Tensor?)"/> found on the held-out rows.</summary>
    /// <param name="Samples">The K to score the flow with.</param>
    /// <param name="LogLikelihood">The mean log-likelihood of the density the flow now has (the mixture), with <see cref="Reference"/> samples.</param>
    /// <param name="GaussianLogLikelihood">The same of the Gaussian alone (exact but for the dequantisation draws of lattice features).</param>
    public sealed record Measurement(int Samples, double LogLikelihood, double GaussianLogLikelihood);

    /// <summary>
    /// Sets the flow's Gaussian share from <paramref name="heldOut"/> rows (at most 1,024 of them), and its kernel density
    /// where <paramref name="centreRows"/> (training rows not held out, in the data's units) are given and the held-out
    /// rows ask for one, and measures the density it then has there.
    /// </summary>
    public static Measurement Measure(HamiltonianFlow flow, Tensor heldOut, int seed, Tensor? centreRows = null)
    {
        // Made before inference mode: the centres outlive this measurement in the flow, where tensors made under inference
        // mode could not enter a graph.
        KernelDensity? candidates = centreRows is { } rows && rows.shape[0] > 0 ? Candidates(flow, rows, seed) : null;
        try
        {
            return Measure(flow, heldOut, seed, candidates);
        }
        finally
        {
            candidates?.Release();
        }
    }

    private static Measurement Measure(HamiltonianFlow flow, Tensor heldOut, int seed, KernelDensity? candidates)
    {
        using var scope = NewDisposeScope();
        Tensor flowWeights, gaussianWeights;
        Tensor? kernelWeights = null;
        using (inference_mode())
        {
            using var generator = new Generator((ulong)seed, flow.Device);
            long n = Math.Min(heldOut.shape[0], MaxRows);
            int blockRows = ScoringBlock.Rows(flow.Architecture, Reference);
            // [Reference, n] log-weights of each component, one column per row; the first K of a column are a K-sample
            // estimate. Each block's temporaries are freed when it ends: only its log-weights are kept.
            var flowBlocks = new List<Tensor>();
            var gaussianBlocks = new List<Tensor>();
            var kernelBlocks = new List<Tensor>();
            for (long start = 0; start < n; start += blockRows)
            {
                using var blockScope = NewDisposeScope();
                var (flowBlock, gaussianBlock, kernelBlock) = flow.ComponentLogImportanceWeights(
                    heldOut.narrow(0, start, Math.Min(blockRows, n - start)), Reference, generator, candidates, KernelShare.Widths);
                flowBlocks.Add(flowBlock.MoveToOuterDisposeScope());
                gaussianBlocks.Add(gaussianBlock.MoveToOuterDisposeScope());
                if (kernelBlock is not null)
                    kernelBlocks.Add(kernelBlock.MoveToOuterDisposeScope());
            }
            flowWeights = cat(flowBlocks, 1).to(ScalarType.Float64);
            gaussianWeights = cat(gaussianBlocks, 1).to(ScalarType.Float64);
            if (kernelBlocks.Count > 0)
                kernelWeights = cat(kernelBlocks, 2).to(ScalarType.Float64);
        }
        Tensor gaussian = Estimate(gaussianWeights, Reference);
        double share = GaussianShare.Fit(Estimate(flowWeights, Reference), gaussian);
        flow.SetGaussianWeight(share);
        Tensor mixed = HamiltonianFlow.MixLogWeights(flowWeights, gaussianWeights, share);
        if (kernelWeights is not null)
        {
            var (width, kernelShare) = KernelShare.Fit(Estimate(mixed, Reference), kernelWeights.narrow(1, 0, Reference).logsumexp(1).Plus(-Math.Log(Reference)));
            if (kernelShare > 0)
            {
                flow.SetKernelDensity(new KernelDensity(candidates!.Centres, flow.Gaussian.Varying, width, kernelShare));
                mixed = HamiltonianFlow.MixLogWeights(mixed, kernelWeights[Array.IndexOf(KernelShare.Widths, width)], kernelShare);
            }
        }
        double logLikelihood = Estimate(mixed, Reference).mean().item<double>();
        int samples = Samples(mixed, VaryingFeatures(flow), logLikelihood);
        return new Measurement(samples, logLikelihood, gaussian.mean().item<double>());
    }

    // The candidate kernel density on the centre rows, with a placeholder width and no share: the widths are tried by KernelShare.
    private static KernelDensity Candidates(HamiltonianFlow flow, Tensor centreRows, int seed) =>
        Candidates(flow, centreRows, seed, KernelShare.Widths[0], 0);

    /// <summary>
    /// A kernel density of the given width and share on the centre rows (data units), whitened by the flow's Gaussian stage
    /// as it now is and spread once over their lattice cells. The spread draws from a generator of its own, so that the
    /// held-out rows' draws are those of a fit without centres, and so that the centres whitened by a refitted stage
    /// (<see cref="StageRefits"/>) are spread as the flow's were.
    /// </summary>
    internal static KernelDensity Candidates(HamiltonianFlow flow, Tensor centreRows, int seed, double width, double weight)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        using var generator = new Generator(SplitMix64.Hash((ulong)(uint)seed), flow.Device);
        Tensor rows = flow.Prepare(centreRows);
        if (flow.Gaussian.HasCells)
            rows = flow.Gaussian.Dequantize(rows, rand(rows.shape, dtype: rows.dtype, device: flow.Device, generator: generator));
        return new KernelDensity(flow.Gaussian.Whiten(rows).Z, flow.Gaussian.Varying, width, weight);
    }

    /// <summary>The K rule on [<see cref="Reference"/>, n] log-weights of rows scored by <paramref name="flow"/>.</summary>
    public static int Samples(Tensor logWeights, HamiltonianFlow flow)
    {
        using var scope = NewDisposeScope();
        return Samples(logWeights, VaryingFeatures(flow), Estimate(logWeights, Reference).mean().item<double>());
    }

    // The features whose coordinates the dynamics move (at least one, so that a flow of constant features scores with K = 1).
    private static int VaryingFeatures(HamiltonianFlow flow)
    {
        using var scope = NewDisposeScope();
        return Math.Max(1, (int)Math.Round(flow.Gaussian.Varying.sum().to(ScalarType.Float64).item<double>()));
    }

    // The K rule given the rows' mean K = Reference estimate.
    private static int Samples(Tensor logWeights, int varyingFeatures, double reference)
    {
        using var scope = NewDisposeScope();
        if (!double.IsFinite(reference))
            return Reference;
        for (int k = 1; k < Reference; k *= 2)
            if (Math.Abs(Estimate(logWeights, k).mean().item<double>() - reference) <= NatsPerDimension * varyingFeatures)
                return k;
        return Reference;
    }

    // The K-sample estimate of each row's log-likelihood, [n].
    private static Tensor Estimate(Tensor logWeights, int k) => logWeights.narrow(0, 0, k).logsumexp(0).Plus(-Math.Log(k));
}
