using Microsoft.ML.HamiltonianFlows.Torch;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.HamiltonianFlows.Training;

/// <summary>
/// Fits a <see cref="HamiltonianFlow"/> to data. First its <see cref="GaussianStage"/>, in closed form: rows with a NaN or
/// infinite value and gross outliers (a feature thousands of standard deviations out, see <see cref="FlowTrainingResult.ExcludedRows"/>)
/// are left out, and a Gaussian with a Ledoit-Wolf shrunk correlation is fitted to the rest (with heavier-tailed
/// marginals where held-out rows of the training sample ask for them, <see cref="TailChoice"/>); with the fixed kinetic
/// energy the untrained flow is that Gaussian. Then the dynamics, by minimising the negative ELBO (or the importance-weighted bound) with AdamW: shuffled
/// minibatches, a budget of steps with a learning-rate schedule, gradient clipping, early stopping on held-out rows with
/// the best validated trained weights kept, and a guard against non-finite losses and gradients. Last, on the same
/// held-out rows, the Gaussian's share of the density (<see cref="HamiltonianFlow.GaussianWeight"/>), which keeps the
/// Gaussian alone where the trained weights do not beat it there, a kernel density on training rows where those rows ask
/// for one (<see cref="HamiltonianFlow.KernelDensity"/>), and the scoring samples K (<see cref="ScoringBudget"/>).
/// Deterministic for a given seed.
/// </summary>
public static partial class FlowTrainer
{
    /// <summary>Builds a flow of the given architecture (weights seeded by <see cref="FlowTrainingOptions.Seed"/>) and trains it.</summary>
    /// <param name="architecture">Shape of the flow.</param>
    /// <param name="data">Training rows, shape [n, d].</param>
    /// <param name="options">Training options.</param>
    /// <param name="progress">Called at each evaluation: at step 0, every <see cref="FlowTrainingOptions.EvaluationInterval"/> steps, at the last step and when <see cref="FlowTrainingOptions.MaxTrainingTime"/> runs out.</param>
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
    /// <param name="progress">Called at each evaluation: at step 0, every <see cref="FlowTrainingOptions.EvaluationInterval"/> steps, at the last step and when <see cref="FlowTrainingOptions.MaxTrainingTime"/> runs out.</param>
    /// <param name="cancellationToken">Checked at every row a pass reads and before every batch.</param>
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
        using var threads = TorchThreads.Use(options.NumberOfThreads);

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
        using var scope = NewDisposeScope();
        Tensor all = flow.Prepare(data).detach();
        if (all.shape[0] == 0)
            throw new ArgumentException("The training data has no rows.", nameof(data));
        Tensor finite = RowsWhere(all, all.isfinite().all(1));
        long finiteRows = finite.shape[0];
        if (finiteRows == 0)
            throw new ArgumentException("The training data has no rows with finite values.", nameof(data));

        Tensor sample = finiteRows > GrossOutlierRule.SampleRows
            ? finite.index_select(0, randperm(finiteRows, generator: generator, device: flow.Device).narrow(0, 0, GrossOutlierRule.SampleRows))
            : finite;
        Tensor sampleOnCpu = sample.cpu();
        var rule = GrossOutlierRule.FromSample(sampleOnCpu);
        Tensor kept = RowsWhere(finite, rule.Keep(finite.cpu()).to(flow.Device));
        long rows = kept.shape[0];

        Tensor clean = NotOutliers(sampleOnCpu, rule);
        var cells = FeatureCells.Detect(clean);
        double tail = options.HeavyTails ? TailChoice.Choose(clean, cells, flow.Gaussian.Covariance, options.Seed) : double.PositiveInfinity;
        // The split is drawn before the stage is fitted (nothing in between draws from the generator): a low-rank stage's
        // directions are chosen on rows that are not held out.
        long validationRows = ValidationSplit.Rows(rows, options);
        Tensor order = randperm(rows, generator: generator, device: flow.Device);
        LowRankBasis? basis = flow.Gaussian.Covariance == CovarianceKind.LowRank
            ? ChooseBasis(flow, TrainingRowsSample(kept, order.narrow(0, validationRows, rows - validationRows), options.Seed), cells, tail, options.Seed)
            : null;
        using var gaussian = new GaussianFit(flow.Dimension, cells, tail, options.Seed, basis);
        foreach (Tensor block in Blocks(kept))
            gaussian.AddMoments(block);
        gaussian.EndMoments();
        gaussian.AddLaterPasses(() => Blocks(kept), flow.Gaussian.Covariance);
        gaussian.SetStage(flow.Gaussian);

        Tensor train = kept.index_select(0, order.narrow(0, validationRows, rows - validationRows));
        Tensor? validation = validationRows > 0 ? kept.index_select(0, order.narrow(0, 0, validationRows)) : null;
        long trainRows = train.shape[0];
        // With rows to hold out asked for and none to spare (a single row), the Gaussian is all the data support.
        long budget = options.ValidationFraction > 0 && validationRows == 0 ? 0 : options.MaxSteps ?? FlowDefaults.MaxStepsFor(trainRows);
        int batchSize = (int)Math.Min(options.BatchSize, trainRows);

        // The kernel density's candidate centres: the first rows of the training part, a uniform sample since its order is drawn.
        Tensor? centres = options.KernelDensityCentres > 0 ? train.narrow(0, 0, Math.Min(options.KernelDensityCentres, trainRows)) : null;
        Func<StageRefits>? refits = validation is null || !options.MeasuresHeldOutScores ? null
            : () => StageRefits.Fit(flow.Gaussian, validation, Math.Min(validationRows, ScoringBudget.MaxRows), () => Blocks(train), flow.Device, cells, tail, basis, options.Seed);
        return Loop(flow, options, budget, _ => Shuffled(train, batchSize, generator, flow.Device),
            validation, centres, generator, progress, cancellationToken, trainRows, finiteRows - rows, gaussian.ConstantFeatures, refits);
    }

    // A low-rank stage's basis, chosen on a sample of the rows that are not held out (RankChoice). Chosen on held-out rows
    // too, its directions would fit them as the refits that score the held-out rows (StageRefits, which keep the
    // basis) cannot see: with 150 rows of 1,100 features an anomaly threshold at Contamination 0.1 flagged 57% of new
    // normal rows.
    private static LowRankBasis ChooseBasis(HamiltonianFlow flow, Tensor trainingSample, FeatureCells cells, double tail, int seed) =>
        RankChoice.Choose(trainingSample, cells, tail, seed, GaussianStage.BasisColumns(flow.Dimension));

    // At most GrossOutlierRule.SampleRows of the rows at these indices of `rows`, in storage order (a uniform choice, from a
    // generator of its own, where there are more), on the CPU.
    private static Tensor TrainingRowsSample(Tensor rows, Tensor indices, int seed)
    {
        Tensor chosen = indices;
        if (indices.shape[0] > GrossOutlierRule.SampleRows)
        {
            using var generator = new Generator((ulong)(uint)seed);
            chosen = indices.index_select(0, randperm(indices.shape[0], generator: generator).to(indices.device).narrow(0, 0, GrossOutlierRule.SampleRows));
        }
        return rows.index_select(0, chosen.sort().Values).cpu();
    }

    // The rows a [n] mask keeps; the rows themselves when it keeps all, the usual case: no copy of the data.
    private static Tensor RowsWhere(Tensor rows, Tensor keep) =>
        keep.all().item<bool>() ? rows : rows.index_select(0, keep.nonzero().squeeze(1));

    // The sample rows that are not gross outliers: lattices are found among them (an outlier is rarely on one).
    private static Tensor NotOutliers(Tensor sample, GrossOutlierRule rule)
    {
        using Tensor keep = rule.Keep(sample);
        using Tensor indices = keep.nonzero().squeeze(1);
        return sample.index_select(0, indices);
    }

    // Rows per block of the Gaussian's float64 passes: bounded memory for any number of rows, and each block's float64
    // temporaries near 4 MB (2^19 values): above glibc's mmap threshold every temporary is mapped afresh and its pages
    // faulted in (ScoringBlock). A low-rank fit of 30,000 x 2,048 rows spent 35 s in its refits' passes with blocks of
    // 8,192 rows (134 MB each in float64), 1.4 s with blocks of 256.
    private static int GaussianBlockRows(long dimension) => (int)Math.Clamp((1 << 19) / Math.Max(1, dimension), 1, 8192);

    private static IEnumerable<Tensor> Blocks(Tensor rows)
    {
        int size = GaussianBlockRows(rows.shape[1]);
        for (long start = 0; start < rows.shape[0]; start += size)
            yield return rows.narrow(0, start, Math.Min(size, rows.shape[0] - start));
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
    /// The training loop both data paths share: <paramref name="epochBatches"/> gives the minibatches of an epoch (each
    /// disposed here once used), for as many epochs as the <paramref name="budget"/> of steps takes (or until
    /// <see cref="FlowTrainingOptions.MaxTrainingTime"/>). The held-out loss is evaluated at step 0 (the fitted Gaussian),
    /// every <see cref="FlowTrainingOptions.EvaluationInterval"/> steps and at the step that reaches the time limit; the
    /// weights of the best trained evaluation are restored at the end (step 0's when no trained step was evaluated with a
    /// finite loss).
    /// </summary>
    /// <remarks>
    /// Step 0 counts for early stopping (an improvement is a loss below every earlier evaluation's, the Gaussian's
    /// included) but is not kept in place of trained weights: the Gaussian's share, fitted next on the same rows, keeps
    /// the Gaussian alone (alpha = 1) where the trained weights lose there, and a mixture where they lose on some rows and
    /// win on others, so the density is never worse on those rows than the Gaussian either way. Keeping step 0 outright
    /// instead threw away what training learned whenever the few held-out rows of a small fit favoured the Gaussian:
    /// measured on the training files only (`AnomalyBenchmark validate --fit-rows 30` and `60`, seeds 1 to 4, and the
    /// unseen tables' training files), the fits that had kept their Gaussian gained up to 11 nats per held-out row and
    /// lost at most 0.43 (docs/anomaly-benchmark.md, seventh session).
    /// </remarks>
    private static FlowTrainingResult Loop(
        HamiltonianFlow flow, FlowTrainingOptions options, long budget, Func<int, IEnumerable<Tensor>> epochBatches,
        Tensor? validation, Tensor? centres, Generator generator, Action<FlowTrainingProgress>? progress, CancellationToken cancellationToken,
        long trainRows, long excludedRows, IReadOnlyList<int> constantFeatures, Func<StageRefits>? fitRefits)
    {
        using var optimizer = new GuardedAdam(
            flow.parameters(), options.LearningRate ?? FlowDefaults.LearningRateFor(flow.Dimension - constantFeatures.Count), options.WeightDecay, options.Schedule, options.GradientClipNorm,
            options.MaxConsecutiveNonFiniteBatches);

        options.StageFitted?.Invoke(new StageReport(flow.Gaussian, excludedRows, constantFeatures,
            fitRefits is null || validation is null ? 0 : Math.Min(validation.shape[0], ScoringBudget.MaxRows)));
        var history = new List<FlowTrainingProgress>();
        var kept = new BestWeights();
        var stopping = new EarlyStopping(options.EarlyStoppingPatience, budget);
        long step = 0, updates = 0, bestStep = 0;
        double bestLoss = double.PositiveInfinity;
        bool stoppedEarly = false, reachedTimeLimit = false;
        var clock = System.Diagnostics.Stopwatch.StartNew();
        double lossSum = 0;
        long lossCount = 0;

        // Reports the losses since the last evaluation; returns false when early stopping ends training.
        bool Evaluate()
        {
            double[]? rowLosses = validation is not null ? RowLosses(flow, validation, options) : null;
            double? validationLoss = rowLosses?.Average();
            var report = new FlowTrainingProgress(step, lossCount > 0 ? lossSum / lossCount : double.NaN, validationLoss,
                optimizer.LearningRate, optimizer.Skipped);
            lossSum = 0;
            lossCount = 0;
            history.Add(report);
            progress?.Invoke(report);
            if (rowLosses is null)
            {
                bestStep = step;
                return true;
            }
            double loss = validationLoss!.Value;
            bool improved = double.IsFinite(loss) && loss < bestLoss;
            if (improved)
                bestLoss = loss;
            if (kept.Offer(step, loss))
            {
                kept.Capture(flow, step, loss);
                bestStep = step;
            }
            return stopping.Continue(step, improved);
        }

        try
        {
            bool running = Evaluate();
            for (int epoch = 1; running && step < budget; epoch++)
            {
                bool anyBatch = false;
                using var batches = epochBatches(epoch).GetEnumerator();
                // The budget is checked first so that no batch is read (nor random numbers drawn) past it.
                while (running && step < budget && batches.MoveNext())
                {
                    anyBatch = true;
                    using Tensor batch = batches.Current;
                    cancellationToken.ThrowIfCancellationRequested();
                    using (var scope = NewDisposeScope())
                    {
                        double? loss = optimizer.Step(step++, budget,
                            () => -flow.LogLikelihood(batch, options.TrainingImportanceSamples, generator).mean(), null,
                            (failures, rate) =>
                                $"Training diverged: {failures} consecutive batches gave a non-finite loss or gradient " +
                                $"(step {step}, learning rate lowered to {rate:G3}). Lower {nameof(FlowTrainingOptions.LearningRate)}, " +
                                $"set {nameof(FlowTrainingOptions.GradientClipNorm)}, or check the data for extreme values.",
                            LearningRateScheduleExtensions.TimeShare(clock.Elapsed, options.MaxTrainingTime));
                        if (loss is double value)
                        {
                            updates++;
                            lossSum += value;
                            lossCount++;
                        }
                    }
                    bool outOfTime = clock.Elapsed >= options.MaxTrainingTime;
                    if (step % options.EvaluationInterval == 0 || step == budget || outOfTime)
                    {
                        bool improving = Evaluate();
                        // Patience that runs out at the budget's last step did not stop anything early.
                        stoppedEarly = !improving && step < budget;
                        reachedTimeLimit = improving && outOfTime && step < budget;
                        running = improving && !outOfTime;
                    }
                }
                if (!anyBatch)
                    break;
            }
            // Fewer bad batches than the divergence limit can still be all there were: the flow would be untrained.
            if (budget > 0 && updates == 0)
                throw new InvalidOperationException(
                    $"Training made no update: all {optimizer.Skipped} batches gave a non-finite loss or gradient. Check the data for " +
                    $"extreme values, or lower {nameof(FlowTrainingOptions.LearningRate)}.");
            kept.Restore(flow);
        }
        finally
        {
            kept.Dispose();
        }
        var result = new FlowTrainingResult
        {
            Flow = flow, History = history, BestStep = bestStep, StoppedEarly = stoppedEarly, ReachedTimeLimit = reachedTimeLimit,
            TrainingRows = trainRows, ExcludedRows = excludedRows, ConstantFeatures = constantFeatures,
        };
        if (validation is null)
            return result;
        // The loss early stopping compared, of the weights kept; then the Gaussian's share, the kernel density (centres from
        // the training rows) and the scoring K, measured on the same held-out rows; their scores with the stage refitted
        // without them stand for new rows'.
        double validationLoss = RowLosses(flow, validation, options).Average();
        var measured = ScoringBudget.Measure(flow, validation, options.Seed, centres);
        // The refits are fitted now, not before training: the stage is not trained, and they hold up to five more of it.
        using StageRefits? refits = fitRefits?.Invoke();
        return result with
        {
            ValidationLoss = validationLoss, ScoringSamples = measured.Samples, DensityValidationLoss = -measured.LogLikelihood,
            GaussianValidationLoss = -measured.GaussianLogLikelihood,
            HeldOutLogLikelihoods = refits?.HeldOutLogLikelihoods(flow, validation, measured.Samples, centres, options.Seed),
        };
    }

    /// <summary>Per-row losses of held-out rows, with momenta drawn from a fixed seed so evaluations compare fairly.</summary>
    private static double[] RowLosses(HamiltonianFlow flow, Tensor rows, FlowTrainingOptions options)
    {
        int batchSize = options.BatchSize;
        using var generator = new Generator((ulong)options.Seed, flow.Device);
        using var noGrad = no_grad();
        long count = rows.shape[0];
        var losses = new double[count];
        for (long start = 0; start < count; start += batchSize)
        {
            using var scope = NewDisposeScope();
            Tensor batch = rows.narrow(0, start, Math.Min(batchSize, count - start));
            double[] values = (-flow.LogLikelihood(batch, options.TrainingImportanceSamples, generator)).to(ScalarType.Float64).cpu().data<double>().ToArray();
            values.CopyTo(losses, start);
        }
        return losses;
    }

    /// <summary>
    /// A detached copy of the weights to keep: step 0's (the fitted Gaussian, whatever its loss) until a trained evaluation
    /// with a finite loss comes, then those of the trained evaluation with the lowest mean held-out loss so far.
    /// </summary>
    /// <remarks>
    /// A one-standard-error rule (a later step must beat the best by one standard error of the per-row differences) was
    /// tried: it kept vehicle at its Gaussian, losing the 4.3 nats per row a plain comparison gains there.
    /// </remarks>
    private sealed class BestWeights : IDisposable
    {
        private Dictionary<string, Tensor>? state;
        private double loss = double.PositiveInfinity;
        private long step = -1;

        /// <summary>Whether the evaluation at <paramref name="candidateStep"/> with mean loss <paramref name="candidateLoss"/> replaces the kept weights.</summary>
        public bool Offer(long candidateStep, double candidateLoss) =>
            step < 0 || (candidateStep > 0 && double.IsFinite(candidateLoss) && (step == 0 || candidateLoss < loss));

        public void Capture(HamiltonianFlow flow, long candidateStep, double candidateLoss)
        {
            Dispose();
            using var noGrad = no_grad();
            state = flow.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.detach().clone());
            loss = candidateLoss;
            step = candidateStep;
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
