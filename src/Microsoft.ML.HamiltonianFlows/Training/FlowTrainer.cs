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
        return Build(architecture, options, device, flow => Fit(flow, data, options, progress, cancellationToken));
    }

    /// <summary>
    /// Builds a flow of the given architecture and trains it on rows read a pass at a time (see <see cref="StreamedRows"/>
    /// for the passes, the skipped rows and the validation split), for data too large to hold as a tensor.
    /// </summary>
    /// <param name="architecture">Shape of the flow; its dimension must be the rows' dimension.</param>
    /// <param name="rows">Training rows.</param>
    /// <param name="options">Training options.</param>
    /// <param name="progress">Called after every epoch.</param>
    /// <param name="cancellationToken">Checked before every batch and while the first pass reads the rows.</param>
    /// <param name="device">Where to train; the CPU when null.</param>
    public static FlowTrainingResult Train(
        FlowArchitecture architecture,
        StreamedRows rows,
        FlowTrainingOptions options,
        Action<FlowTrainingProgress>? progress = null,
        CancellationToken cancellationToken = default,
        Device? device = null)
    {
        ArgumentNullException.ThrowIfNull(architecture);
        ArgumentNullException.ThrowIfNull(rows);
        ArgumentNullException.ThrowIfNull(options);
        if (rows.Dimension != architecture.Dimension)
            throw new ArgumentException($"The rows have dimension {rows.Dimension}; the architecture has {architecture.Dimension}.", nameof(rows));
        return Build(architecture, options, device, flow => Fit(flow, rows, options, progress, cancellationToken));
    }

    private static FlowTrainingResult Build(
        FlowArchitecture architecture, FlowTrainingOptions options, Device? device, Func<HamiltonianFlow, FlowTrainingResult> fit)
    {
        architecture.Validate();
        options.Validate();
        if (options.NumberOfThreads is int threads)
            torch.set_num_threads(threads);

        // Everything after initialisation draws from a private generator.
        var flow = HamiltonianFlow.Create(architecture, options.Seed, device);
        try
        {
            return fit(flow);
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

        return Loop(flow, options, trainRows, _ => Shuffled(train, options.BatchSize, generator, flow.Device),
            validationRows > 0 ? validation : null, generator, progress, cancellationToken);
    }

    private static FlowTrainingResult Fit(
        HamiltonianFlow flow, StreamedRows rows, FlowTrainingOptions options,
        Action<FlowTrainingProgress>? progress, CancellationToken cancellationToken)
    {
        using var generator = new Generator((ulong)options.Seed, flow.Device);
        int d = rows.Dimension;
        // Welford's streaming mean and sum of squared deviations, in double so that millions of float rows lose nothing.
        var mean = new double[d];
        var squares = new double[d];
        long trainRows = 0, validationRows = 0;
        var validationValues = new List<float>();
        foreach (var row in rows.Read(null))
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (!AllFinite(row.Values))
                continue;
            if (IsValidation(row.Key, options))
            {
                validationValues.AddRange(row.Values);
                validationRows++;
                continue;
            }
            trainRows++;
            for (int j = 0; j < d; j++)
            {
                double delta = row.Values[j] - mean[j];
                mean[j] += delta / trainRows;
                squares[j] += delta * (row.Values[j] - mean[j]);
            }
        }
        if (trainRows + validationRows == 0)
            throw new ArgumentException("The training data has no rows with finite values.", nameof(rows));
        if (options.ValidationFraction > 0 && (validationRows < 1 || trainRows < 1))
            throw new ArgumentException(
                $"{nameof(FlowTrainingOptions.ValidationFraction)} {options.ValidationFraction} leaves {validationRows} of {trainRows + validationRows} rows for validation; both splits need at least one row.",
                nameof(options));

        if (flow.Architecture.Standardize)
        {
            // With one row this is NaN, which FitStatistics ignores as Fit does the spread of one row.
            var deviation = squares.Select(q => Math.Sqrt(q / (trainRows - 1))).ToArray();
            flow.Standardizer.FitStatistics(mean, deviation, trainRows, options.MinimumRelativeScale);
        }

        using Tensor? validation = validationRows > 0
            ? tensor(validationValues, new[] { validationRows, d }, flow.Architecture.Precision, flow.Device)
            : null;
        return Loop(flow, options, trainRows, epoch => Streamed(flow, rows, options, epoch),
            validation, generator, progress, cancellationToken);
    }

    /// <summary>The minibatches of an epoch of in-memory rows: a permutation drawn from the training generator.</summary>
    private static IEnumerable<Tensor> Shuffled(Tensor train, int batchSize, Generator generator, Device device)
    {
        long rows = train.shape[0];
        using Tensor shuffle = randperm(rows, generator: generator, device: device);
        for (long start = 0; start < rows; start += batchSize)
        {
            using Tensor indices = shuffle.narrow(0, start, Math.Min(batchSize, rows - start));
            yield return train.index_select(0, indices);
        }
    }

    /// <summary>
    /// The minibatches of an epoch of streamed rows, in the order the source draws from a seed of the training seed and
    /// the epoch, so that reading rows draws nothing from the training generator (the momenta stay a function of the seed and step).
    /// </summary>
    private static IEnumerable<Tensor> Streamed(HamiltonianFlow flow, StreamedRows rows, FlowTrainingOptions options, int epoch)
    {
        int d = rows.Dimension;
        int shuffleSeed = (int)Mix((ulong)(uint)options.Seed * 0x9E3779B97F4A7C15UL + (ulong)epoch);
        var batch = new float[options.BatchSize * d];
        int filled = 0;
        foreach (var row in rows.Read(shuffleSeed))
        {
            if (!AllFinite(row.Values) || IsValidation(row.Key, options))
                continue;
            Array.Copy(row.Values, 0, batch, filled * d, d);
            if (++filled == options.BatchSize)
            {
                yield return tensor(batch, new long[] { filled, d }, flow.Architecture.Precision, flow.Device);
                filled = 0;
            }
        }
        if (filled > 0)
            yield return tensor(batch.AsSpan(0, filled * d).ToArray(), new long[] { filled, d }, flow.Architecture.Precision, flow.Device);
    }

    private static bool AllFinite(float[] values)
    {
        foreach (float v in values)
            if (!float.IsFinite(v))
                return false;
        return true;
    }

    /// <summary>
    /// Whether a streamed row is held out: a hash of its key and the seed, as a fraction of 2^64, below the validation
    /// fraction. It depends on neither the pass nor the order, so every pass agrees on the split.
    /// </summary>
    private static bool IsValidation(ulong key, FlowTrainingOptions options) =>
        options.ValidationFraction > 0
        && (Mix(key ^ ((ulong)(uint)options.Seed << 32)) >> 11) * (1.0 / (1UL << 53)) < options.ValidationFraction;

    /// <summary>SplitMix64's finaliser: spreads nearby keys over all 64 bits.</summary>
    private static ulong Mix(ulong x)
    {
        x += 0x9E3779B97F4A7C15UL;
        x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9UL;
        x = (x ^ (x >> 27)) * 0x94D049BB133111EBUL;
        return x ^ (x >> 31);
    }

    /// <summary>
    /// The training loop both data paths share: <paramref name="epochBatches"/> gives the minibatches of an epoch (each
    /// disposed here once used), <paramref name="trainRows"/> sizes the step budget.
    /// </summary>
    private static FlowTrainingResult Loop(
        HamiltonianFlow flow, FlowTrainingOptions options, long trainRows, Func<int, IEnumerable<Tensor>> epochBatches,
        Tensor? validation, Generator generator, Action<FlowTrainingProgress>? progress, CancellationToken cancellationToken)
    {
        long batchesPerEpoch = (trainRows + options.BatchSize - 1) / options.BatchSize;
        long budget = Math.Min(options.Epochs * batchesPerEpoch, options.MaxSteps ?? long.MaxValue);
        using var optimizer = new GuardedAdam(
            flow.parameters(), options.LearningRate, options.Schedule, options.GradientClipNorm, options.MaxConsecutiveNonFiniteBatches);

        var history = new List<FlowTrainingProgress>();
        var best = new BestWeights();
        long step = 0, updates = 0;
        int bestEpoch = 0, epochsWithoutImprovement = 0;
        bool stoppedEarly = false;

        try
        {
            for (int epoch = 1; epoch <= options.Epochs && step < budget; epoch++)
            {
                double lossSum = 0;
                long lossCount = 0;
                using (var batches = epochBatches(epoch).GetEnumerator())
                {
                    // The budget is checked first so that no batch is read (nor random numbers drawn) past it.
                    while (step < budget && batches.MoveNext())
                    {
                        using Tensor batch = batches.Current;
                        cancellationToken.ThrowIfCancellationRequested();
                        using var scope = NewDisposeScope();
                        double? loss = optimizer.Step(step++, budget,
                            () => -flow.LogLikelihood(batch, options.ImportanceSamples, generator).mean(), null,
                            (failures, rate) =>
                                $"Training diverged: {failures} consecutive batches gave a non-finite loss or gradient " +
                                $"(epoch {epoch}, step {step}, learning rate lowered to {rate:G3}). Lower {nameof(FlowTrainingOptions.LearningRate)}, " +
                                $"set {nameof(FlowTrainingOptions.GradientClipNorm)}, or check the data for extreme values.");
                        if (loss is double value)
                        {
                            updates++;
                            lossSum += value;
                            lossCount++;
                        }
                    }
                }

                double? validationLoss = validation is not null ? MeanLoss(flow, validation, options) : null;
                var report = new FlowTrainingProgress(epoch, step, lossCount > 0 ? lossSum / lossCount : double.NaN, validationLoss, optimizer.LearningRate, optimizer.Skipped);
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
            // Fewer bad batches than the divergence limit can still be all there were: the flow would be untrained, or
            // standardised with the NaN statistics of rows that are all non-finite.
            if (updates == 0)
                throw new InvalidOperationException(
                    $"Training made no update: all {optimizer.Skipped} batches gave a non-finite loss or gradient. Check the data for NaN or " +
                    $"infinite values, or lower {nameof(FlowTrainingOptions.LearningRate)}.");
            best.Restore(flow);
        }
        finally
        {
            best.Dispose();
        }
        double? finalValidationLoss = validation is not null ? MeanLoss(flow, validation, options) : null;
        return new FlowTrainingResult(flow, history, bestEpoch, stoppedEarly, finalValidationLoss);
    }

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
