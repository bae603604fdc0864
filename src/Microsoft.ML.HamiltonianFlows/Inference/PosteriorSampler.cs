using System.Globalization;
using Microsoft.ML.HamiltonianFlows.Torch;
using Microsoft.ML.HamiltonianFlows.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.HamiltonianFlows.Inference;

/// <summary>
/// Fits a <see cref="HamiltonianFlow"/> to a posterior known only up to its normalising constant Z, from an unnormalised
/// log-density log pi(theta), by minimising the reverse KL divergence on phase space: draws (q0, p0) ~ N(0, I) are pushed
/// forward to (z, p), and the flow's joint law is matched to pi(theta) r(p | z), where r is the momentum's law (the
/// Boltzmann law N(0, M) of a fixed quadratic kinetic energy, or the learned encoder for a neural one). The leapfrog map
/// preserves volume, so the objective E[log pi + log r - log N(q0) - log N(p0)] (plus the Jacobians of the parameter maps)
/// needs no log-determinant and is a lower bound on log Z. Adam, seeded and cancellable, with a learning-rate schedule,
/// gradient clipping, a guard against non-finite steps and optional annealing (<see cref="PosteriorSamplerOptions.AnnealingSteps"/>).
/// </summary>
public static class PosteriorSampler
{
    /// <summary>Builds a flow (weights seeded by <see cref="PosteriorSamplerOptions.Seed"/>) and fits it to the target.</summary>
    /// <param name="architecture">
    /// Shape of the flow; its dimension is the number of parameters. <see cref="FlowArchitecture.Standardize"/> is ignored
    /// (there are no data to standardise): <see cref="PosteriorSamplerOptions.Location"/> and <see cref="PosteriorSamplerOptions.Scale"/> set the scale.
    /// </param>
    /// <param name="logDensity">
    /// log pi(theta) up to a constant, batched: theta of shape [n, d] (the flow's precision and device) to [n], built
    /// from theta with differentiable torch operations. -infinity marks zero density; NaN, +infinity and a missing or
    /// non-finite gradient are errors naming the first offending point.
    /// </param>
    /// <param name="options">Training options.</param>
    /// <param name="progress">Called every <see cref="PosteriorSamplerOptions.ReportInterval"/> steps and after the last.</param>
    /// <param name="cancellationToken">Checked before every step.</param>
    /// <param name="device">Where to train; the CPU when null.</param>
    public static PosteriorFlow Train(
        FlowArchitecture architecture,
        Func<Tensor, Tensor> logDensity,
        PosteriorSamplerOptions options,
        Action<FlowTrainingProgress>? progress = null,
        CancellationToken cancellationToken = default,
        Device? device = null)
    {
        ArgumentNullException.ThrowIfNull(architecture);
        ArgumentNullException.ThrowIfNull(logDensity);
        ArgumentNullException.ThrowIfNull(options);
        architecture = architecture with { Standardize = false };
        architecture.Validate();
        int d = architecture.Dimension;
        options.Validate(d);
        if (options.NumberOfThreads is int threads)
            torch.set_num_threads(threads);

        var flow = HamiltonianFlow.Create(architecture, options.Seed, device);
        var locationScale = new LocationScale(
            options.Location ?? new double[d], options.Scale ?? Enumerable.Repeat(1.0, d).ToArray(),
            options.LearnLocationScale, architecture.Precision, flow.Device);
        var constraints = options.Constraints?.ToArray() ?? Enumerable.Repeat(ParameterConstraint.Unbounded, d).ToArray();
        var posterior = new PosteriorFlow(flow, locationScale, constraints, new TargetDensity(logDensity));
        try
        {
            posterior.History = Fit(posterior, options, progress, cancellationToken);
            return posterior;
        }
        catch
        {
            posterior.Dispose();
            throw;
        }
    }

    private static List<FlowTrainingProgress> Fit(
        PosteriorFlow posterior, PosteriorSamplerOptions options, Action<FlowTrainingProgress>? progress, CancellationToken cancellationToken)
    {
        using var generator = new Generator((ulong)options.Seed, posterior.Flow.Device);
        var parameters = posterior.Flow.parameters().Concat(posterior.LocationScale.parameters()).ToList();
        using var optimizer = optim.Adam(parameters, options.LearningRate);

        var history = new List<FlowTrainingProgress>();
        int skipped = 0, consecutiveFailures = 0;
        double rateScale = 1, rate = options.LearningRate, lossSum = 0;
        long lossCount = 0;
        for (long step = 0; step < options.Steps;)
        {
            cancellationToken.ThrowIfCancellationRequested();
            rate = options.LearningRate * rateScale * options.Schedule.Factor(step, options.Steps);
            foreach (var group in optimizer.ParamGroups)
                group.LearningRate = rate;

            using (var scope = NewDisposeScope())
            {
                optimizer.zero_grad();
                var (logWeights, theta) = posterior.Draw(options.BatchSize, generator, options.InverseTemperature(step), needsGradient: true);
                Tensor loss = -logWeights.mean();
                double lossValue = loss.to(ScalarType.Float64).item<double>();
                bool finite = double.IsFinite(lossValue);
                if (finite)
                {
                    loss.backward();
                    // Parameters outside the objective (the encoder, under a Boltzmann momentum law) have no gradient.
                    var withGradient = parameters.Where(p => p.grad is not null).ToList();
                    double norm = nn.utils.clip_grad_norm_(withGradient, options.GradientClipNorm ?? double.PositiveInfinity);
                    finite = double.IsFinite(norm);
                    if (!finite)
                        posterior.CheckTargetGradient(theta);
                }
                step++;
                if (!finite)
                {
                    optimizer.zero_grad();
                    skipped++;
                    rateScale *= 0.5;
                    if (++consecutiveFailures >= options.MaxConsecutiveNonFiniteBatches)
                        throw new InvalidOperationException(
                            $"Training diverged: {consecutiveFailures} consecutive steps gave a non-finite objective or gradient (step {step}, " +
                            $"learning rate lowered to {(rate * 0.5).ToString("G3", CultureInfo.InvariantCulture)}). A log-density of -infinity " +
                            $"where the flow puts mass makes the objective infinite: declare the support with {nameof(PosteriorSamplerOptions.Constraints)}, " +
                            $"or lower {nameof(PosteriorSamplerOptions.LearningRate)}.");
                }
                else
                {
                    consecutiveFailures = 0;
                    optimizer.step();
                    lossSum += lossValue;
                    lossCount++;
                }
            }

            if (step % options.ReportInterval == 0 || step == options.Steps)
            {
                var report = new FlowTrainingProgress(history.Count + 1, step, lossCount > 0 ? lossSum / lossCount : double.NaN, null, rate, skipped);
                history.Add(report);
                progress?.Invoke(report);
                lossSum = 0;
                lossCount = 0;
            }
        }
        return history;
    }
}
