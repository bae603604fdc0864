using System.Diagnostics;
using static TorchSharp.torch;

namespace SupernovaCosmology;

/// <summary>
/// The practitioner's baseline: Hamiltonian Monte Carlo (Duane et al. 1987; Neal 2011) on the unconstrained parameters,
/// several chains advanced together as one batch. The gradient of the log-density comes from autograd by backward() on
/// the chains' summed log-density (torch.autograd.grad aborts the process in TorchSharp 0.107). Warm-up adapts the step
/// size by dual averaging to an acceptance rate of 0.8 (Hoffman and Gelman 2014) and a diagonal mass matrix from the
/// variance of the middle of warm-up; each trajectory's step size is jittered by up to 10% to avoid periodic orbits.
/// </summary>
internal static class HamiltonianMonteCarlo
{
    public sealed record Result(double[][] Draws, double AcceptanceRate, double StepSize, TimeSpan WarmupTime, TimeSpan DrawTime, long GradientEvaluations);

    /// <param name="logDensity">log density of u, [chains, d] to [chains].</param>
    /// <param name="initial">Starting points, [chains, d].</param>
    /// <param name="warmup">Warm-up iterations (not kept).</param>
    /// <param name="draws">Kept iterations per chain.</param>
    /// <param name="leapfrogSteps">Leapfrog steps per trajectory.</param>
    /// <param name="seed">Seed of the momenta, jitter and accept/reject draws.</param>
    public static Result Run(Func<Tensor, Tensor> logDensity, double[,] initial, int warmup, int draws, int leapfrogSteps, int seed)
    {
        int chains = initial.GetLength(0), d = initial.GetLength(1);
        var random = new Random(seed);
        using var generator = new TorchSharp.torch.Generator((ulong)seed);
        Tensor u = tensor(initial);
        var (logP, gradient) = Evaluate(logDensity, u);
        var inverseMass = ones(d, dtype: ScalarType.Float64);
        var kept = Enumerable.Range(0, chains).Select(_ => new double[draws * d]).ToArray();
        var warmupSamples = new List<double[]>();
        long evaluations = 1;

        double stepSize = 0.1, logStepBar = 0, acceptanceGap = 0;
        double mu = Math.Log(10 * stepSize);
        int adaptIteration = 0;
        double accepted = 0;
        var watch = Stopwatch.StartNew();
        TimeSpan warmupTime = TimeSpan.Zero;
        for (int iteration = 0; iteration < warmup + draws; iteration++)
        {
            if (iteration == warmup)
            {
                warmupTime = watch.Elapsed;
                watch.Restart();
                stepSize = Math.Exp(logStepBar);
            }
            using var scope = NewDisposeScope();
            double eps = stepSize * (0.9 + 0.2 * random.NextDouble());
            Tensor p = randn(new long[] { chains, d }, dtype: ScalarType.Float64, generator: generator) * inverseMass.rsqrt();
            Tensor currentH = -logP + 0.5 * (p.square() * inverseMass).sum(1);
            Tensor q = u, g = gradient, lp = logP;
            p = p + 0.5 * eps * g;
            for (int s = 0; s < leapfrogSteps; s++)
            {
                q = q + eps * inverseMass * p;
                (lp, g) = Evaluate(logDensity, q);
                evaluations++;
                if (s < leapfrogSteps - 1)
                    p = p + eps * g;
            }
            p = p + 0.5 * eps * g;
            Tensor proposedH = -lp + 0.5 * (p.square() * inverseMass).sum(1);
            Tensor acceptance = (currentH - proposedH).exp().nan_to_num(0).clamp_max(1);
            Tensor accept = rand(chains, dtype: ScalarType.Float64, generator: generator) < acceptance;
            Tensor column = accept.unsqueeze(1);
            // The chain's state outlives the iteration's scope; the state it replaces is released.
            var previous = new[] { u, gradient, logP };
            u = where(column, q, u).detach().DetachFromDisposeScope();
            gradient = where(column, g, gradient).detach().DetachFromDisposeScope();
            logP = where(accept, lp, logP).detach().DetachFromDisposeScope();
            foreach (Tensor t in previous)
                t.Dispose();
            double meanAcceptance = acceptance.mean().item<double>();

            double[] values = u.data<double>().ToArray();
            if (iteration < warmup)
            {
                // Dual averaging of log eps towards an acceptance of 0.8, restarted when the mass matrix is set.
                adaptIteration++;
                acceptanceGap += ((0.8 - meanAcceptance) - acceptanceGap) / (adaptIteration + 10);
                double logStep = mu - Math.Sqrt(adaptIteration) / 0.05 * acceptanceGap;
                double weight = Math.Pow(adaptIteration, -0.75);
                logStepBar = weight * logStep + (1 - weight) * logStepBar;
                stepSize = Math.Exp(logStep);
                if (iteration >= warmup / 4 && iteration < 3 * warmup / 4)
                    for (int c = 0; c < chains; c++)
                        warmupSamples.Add(values.AsSpan(c * d, d).ToArray());
                if (iteration == 3 * warmup / 4 - 1 && warmupSamples.Count > 2 * d)
                {
                    inverseMass.Dispose();
                    inverseMass = tensor(Enumerable.Range(0, d).Select(j => Variance(warmupSamples.Select(v => v[j]))).ToArray()).DetachFromDisposeScope();
                    mu = Math.Log(10 * stepSize);
                    adaptIteration = 0;
                    acceptanceGap = 0;
                    logStepBar = 0;
                }
            }
            else
            {
                accepted += meanAcceptance;
                for (int c = 0; c < chains; c++)
                    Array.Copy(values, c * d, kept[c], (iteration - warmup) * d, d);
            }
        }
        var drawTime = watch.Elapsed;
        foreach (Tensor t in new[] { u, gradient, logP, inverseMass })
            t.Dispose();
        return new Result(kept, accepted / draws, stepSize, warmupTime, drawTime, evaluations);
    }

    private static (Tensor LogDensity, Tensor Gradient) Evaluate(Func<Tensor, Tensor> logDensity, Tensor u)
    {
        Tensor leaf = u.detach().requires_grad_(true);
        Tensor value = logDensity(leaf);
        value.sum().backward();
        return (value.detach(), leaf.grad!.detach());
    }

    private static double Variance(IEnumerable<double> values)
    {
        var v = values.ToArray();
        double mean = v.Average();
        return v.Sum(x => (x - mean) * (x - mean)) / (v.Length - 1);
    }
}
