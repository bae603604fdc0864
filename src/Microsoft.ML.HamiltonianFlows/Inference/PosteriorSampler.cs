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
    /// Shape of the flow; its dimension is the number of parameters. Its Gaussian stage stays the identity (there are no
    /// data to fit it to): <see cref="PosteriorSamplerOptions.Location"/> and <see cref="PosteriorSamplerOptions.Scale"/> set the scale.
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
        architecture.Validate();
        int d = architecture.Dimension;
        options.Validate(d);
        using var threads = TorchThreads.Use(options.NumberOfThreads);

        var flow = HamiltonianFlow.Create(architecture, options.Seed, device);
        LocationScale? locationScale = null;
        PosteriorFlow? posterior = null;
        try
        {
            locationScale = new LocationScale(
                options.Location ?? new double[d], options.Scale ?? Enumerable.Repeat(1.0, d).ToArray(),
                options.LearnLocationScale, architecture.Precision, flow.Device);
            var constraints = options.Constraints?.ToArray() ?? Enumerable.Repeat(ParameterConstraint.Unbounded, d).ToArray();
            posterior = new PosteriorFlow(flow, locationScale, constraints, new TargetDensity(logDensity));
            posterior.History = Fit(posterior, options, progress, cancellationToken);
            return posterior;
        }
        catch
        {
            // The posterior owns the flow and the location-scale map once it is built.
            if (posterior is not null)
            {
                posterior.Dispose();
            }
            else
            {
                locationScale?.Dispose();
                flow.Dispose();
            }
            throw;
        }
    }

    private static List<FlowTrainingProgress> Fit(
        PosteriorFlow posterior, PosteriorSamplerOptions options, Action<FlowTrainingProgress>? progress, CancellationToken cancellationToken)
    {
        using var generator = new Generator((ulong)options.Seed, posterior.Flow.Device);
        using var optimizer = new GuardedAdam(posterior.Flow.parameters().Concat(posterior.LocationScale.parameters()),
            options.LearningRate, weightDecay: 0, options.Schedule, options.GradientClipNorm, options.MaxConsecutiveNonFiniteBatches);

        var history = new List<FlowTrainingProgress>();
        double lossSum = 0;
        long lossCount = 0;
        for (long step = 0; step < options.Steps;)
        {
            cancellationToken.ThrowIfCancellationRequested();
            using (var scope = NewDisposeScope())
            {
                Tensor? theta = null;
                double? loss = optimizer.Step(step, options.Steps,
                    () =>
                    {
                        var (logWeights, draws) = posterior.Draw(options.BatchSize, generator, options.InverseTemperature(step), needsGradient: true);
                        theta = draws;
                        return -logWeights.mean();
                    },
                    // A non-finite gradient is the density's fault when its own gradient is non-finite at a draw: say where.
                    () => posterior.CheckTargetGradient(theta!),
                    (failures, rate) =>
                        $"Training diverged: {failures} consecutive steps gave a non-finite objective or gradient (step {step + 1}, " +
                        $"learning rate lowered to {rate.ToString("G3", CultureInfo.InvariantCulture)}). A log-density of -infinity " +
                        $"where the flow puts mass makes the objective infinite: declare the support with {nameof(PosteriorSamplerOptions.Constraints)}, " +
                        $"or lower {nameof(PosteriorSamplerOptions.LearningRate)}.");
                step++;
                if (loss is double value)
                {
                    lossSum += value;
                    lossCount++;
                }
            }

            if (step % options.ReportInterval == 0 || step == options.Steps)
            {
                var report = new FlowTrainingProgress(step, lossCount > 0 ? lossSum / lossCount : double.NaN, null, optimizer.LearningRate, optimizer.Skipped);
                history.Add(report);
                progress?.Invoke(report);
                lossSum = 0;
                lossCount = 0;
            }
        }
        return history;
    }
}
