using Microsoft.ML.HamiltonianFlows.Torch;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.HamiltonianFlows.Training;

/// <summary>
/// Fits a <see cref="HamiltonianFlow"/> to data by minimising the negative ELBO (or the importance-weighted bound) with Adam: shuffled minibatches,
/// a learning-rate schedule, gradient clipping, optional early stopping on a validation split, and a guard
/// against non-finite losses and gradients. Deterministic for a given seed.
/// </summary>
public static class FlowTrainer
{
    /// <summary>Builds a flow of the given architecture (weights seeded by <see cref="FlowTrainingOptions.Seed"/>) and trains it.</summary>
    /// <param name="architecture">Shape of the flow.</param>
    /// <param name="data">Training rows, shape [n, d].</param>
    /// <param name="options">Training options.</param>
    /// <param name="progress">Called after every epoch.</param>
    /// <param name="cancellationToken">Checked before every batch.</param>
    /// <param name="device">Where to train; the CPU when null.</param>
    public static FlowTrainingResult Train(
        FlowArchitecture architecture,
        Tensor data,
        FlowTrainingOptions options,
        Action<FlowTrainingProgress>? progress = null,
        CancellationToken cancellationToken = default,
        Device? device = null)
    {
        ArgumentNullException.ThrowIfNull(architecture);
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(options);
        architecture.Validate();
        options.Validate();
        if (options.NumberOfThreads is int threads)
            torch.set_num_threads(threads);

        // Everything after initialisation draws from a private generator.
        var flow = HamiltonianFlow.Create(architecture, options.Seed, device);
        try
        {
            return Fit(flow, data, options, progress, cancellationToken);
        }
        catch
        {
            flow.Dispose();
            throw;
        }
    }

    private static FlowTrainingResult Fit(
        HamiltonianFlow flow, Tensor data, FlowTrainingOptions options,
        Action<FlowTrainingProgress>? progress, CancellationToken cancellationToken)
    {
        using var generator = new Generator((ulong)options.Seed, flow.Device);
        using Tensor all = flow.Prepare(data).detach();
        long rows = all.shape[0];
        if (rows == 0)
            throw new ArgumentException("The training data has no rows.", nameof(data));

        long validationRows = (long)Math.Floor(rows * options.ValidationFraction);
        if (options.ValidationFraction > 0 && (validationRows < 1 || validationRows == rows))
            throw new ArgumentException(
                $"{nameof(FlowTrainingOptions.ValidationFraction)} {options.ValidationFraction} leaves {validationRows} of {rows} rows for validation; both splits need at least one row.",
                nameof(options));
        using Tensor order = randperm(rows, generator: generator, device: flow.Device);
        using Tensor train = all.index_select(0, order.narrow(0, validationRows, rows - validationRows));
        using Tensor validation = all.index_select(0, order.narrow(0, 0, validationRows));
        long trainRows = train.shape[0];

        if (flow.Architecture.Standardize)
            flow.Standardizer.Fit(train, options.MinimumRelativeScale);

        long batchesPerEpoch = (trainRows + options.BatchSize - 1) / options.BatchSize;
        long budget = Math.Min(options.Epochs * batchesPerEpoch, options.MaxSteps ?? long.MaxValue);
        var parameters = flow.parameters().ToList();
        using var optimizer = optim.Adam(parameters, options.LearningRate);

        var history = new List<FlowTrainingProgress>();
        var best = new BestWeights();
        long step = 0;
        int skipped = 0, consecutiveFailures = 0, bestEpoch = 0, epochsWithoutImprovement = 0;
        double rateScale = 1, rate = options.LearningRate;
        bool stoppedEarly = false;

        try
        {
            for (int epoch = 1; epoch <= options.Epochs && step < budget; epoch++)
            {
                double lossSum = 0;
                long lossCount = 0;
                using (Tensor shuffle = randperm(trainRows, generator: generator, device: flow.Device))
                {
                    for (long start = 0; start < trainRows && step < budget; start += options.BatchSize)
                    {
                        cancellationToken.ThrowIfCancellationRequested();
                        rate = options.LearningRate * rateScale * ScheduleFactor(options.Schedule, step, budget);
                        foreach (var group in optimizer.ParamGroups)
                            group.LearningRate = rate;

                        using var scope = NewDisposeScope();
                        Tensor batch = train.index_select(0, shuffle.narrow(0, start, Math.Min(options.BatchSize, trainRows - start)));
                        optimizer.zero_grad();
                        Tensor loss = -flow.LogLikelihood(batch, options.ImportanceSamples, generator).mean();
                        double lossValue = loss.to(ScalarType.Float64).item<double>();
                        bool finite = double.IsFinite(lossValue);
                        if (finite)
                        {
                            loss.backward();
                            double norm = nn.utils.clip_grad_norm_(parameters, options.GradientClipNorm ?? double.PositiveInfinity);
                            finite = double.IsFinite(norm);
                        }
                        step++;
                        if (!finite)
                        {
                            optimizer.zero_grad();
                            skipped++;
                            rateScale *= 0.5;
                            if (++consecutiveFailures >= options.MaxConsecutiveNonFiniteBatches)
                                throw new InvalidOperationException(
                                    $"Training diverged: {consecutiveFailures} consecutive batches gave a non-finite loss or gradient " +
                                    $"(epoch {epoch}, step {step}, learning rate lowered to {rate * 0.5:G3}). Lower {nameof(FlowTrainingOptions.LearningRate)}, " +
                                    $"set {nameof(FlowTrainingOptions.GradientClipNorm)}, or check the data for extreme values.");
                            continue;
                        }
                        consecutiveFailures = 0;
                        optimizer.step();
                        lossSum += lossValue;
                        lossCount++;
                    }
                }

                double? validationLoss = validationRows > 0 ? MeanLoss(flow, validation, options) : null;
                var report = new FlowTrainingProgress(epoch, step, lossCount > 0 ? lossSum / lossCount : double.NaN, validationLoss, rate, skipped);
                history.Add(report);
                progress?.Invoke(report);

                if (validationLoss is double v)
                {
                    if (best.IsBetter(v))
                    {
                        best.Capture(flow, v);
                        bestEpoch = epoch;
                        epochsWithoutImprovement = 0;
                    }
                    else if (++epochsWithoutImprovement >= options.EarlyStoppingPatience)
                    {
                        stoppedEarly = true;
                        break;
                    }
                }
                else
                {
                    bestEpoch = epoch;
                }
            }
            best.Restore(flow);
        }
        finally
        {
            best.Dispose();
        }
        double? finalValidationLoss = validationRows > 0 ? MeanLoss(flow, validation, options) : null;
        return new FlowTrainingResult(flow, history, bestEpoch, stoppedEarly, finalValidationLoss);
    }

    private static double ScheduleFactor(LearningRateSchedule schedule, long step, long budget) => schedule switch
    {
        LearningRateSchedule.Cosine => 0.5 * (1 + Math.Cos(Math.PI * step / budget)),
        _ => 1,
    };

    /// <summary>Mean training loss over rows, with momenta drawn from a fixed seed so epochs compare fairly.</summary>
    private static double MeanLoss(HamiltonianFlow flow, Tensor rows, FlowTrainingOptions options)
    {
        int batchSize = options.BatchSize;
        using var generator = new Generator((ulong)options.Seed, flow.Device);
        using var noGrad = no_grad();
        double sum = 0;
        long count = rows.shape[0];
        for (long start = 0; start < count; start += batchSize)
        {
            using var scope = NewDisposeScope();
            Tensor batch = rows.narrow(0, start, Math.Min(batchSize, count - start));
            sum += flow.LogLikelihood(batch, options.ImportanceSamples, generator).sum().to(ScalarType.Float64).item<double>();
        }
        return -sum / count;
    }

    /// <summary>A detached copy of the weights at the best validation loss so far.</summary>
    private sealed class BestWeights : IDisposable
    {
        private Dictionary<string, Tensor>? state;
        private double loss = double.PositiveInfinity;

        public bool IsBetter(double candidate) => double.IsFinite(candidate) && candidate < loss;

        public void Capture(HamiltonianFlow flow, double candidate)
        {
            Dispose();
            using var noGrad = no_grad();
            state = flow.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.detach().clone());
            loss = candidate;
        }

        public void Restore(HamiltonianFlow flow)
        {
            if (state is not null)
                flow.load_state_dict(state);
        }

        public void Dispose()
        {
            if (state is null)
                return;
            foreach (Tensor t in state.Values)
                t.Dispose();
            state = null;
        }
    }
}
