using Microsoft.ML.HamiltonianFlows.Torch;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.HamiltonianFlows.Training;

// The streamed path of FlowTrainer: data too large to hold as a tensor, read a pass at a time. Pass 1 counts the finite
// rows and samples them for the gross-outlier rule, the lattice detection and the tail choice, passes 2 to 4 fit the
// Gaussian (its moments, those of its tails where it has them, its correlation; pass 2 keeps the validation rows chosen by
// ValidationSplit), and each epoch reads the rows again in an order drawn from the seed.
public static partial class FlowTrainer
{
    private static FlowTrainingResult Fit(
        HamiltonianFlow flow, StreamedRows rows, FlowTrainingOptions options,
        Action<FlowTrainingProgress>? progress, CancellationToken cancellationToken)
    {
        using var generator = new Generator((ulong)options.Seed, flow.Device);
        int d = rows.Dimension;

        // Pass 1, storage order: the finite rows are counted, and a uniform sample of them (reservoir sampling, seeded)
        // sets the gross-outlier rule.
        var reservoir = new List<float[]>();
        var reservoirKeys = new List<ulong>();
        var random = new Random(options.Seed);
        long finiteRows = 0;
        foreach (var row in rows.Read(null))
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (!FiniteValues.AllFinite(row.Values))
                continue;
            finiteRows++;
            if (reservoir.Count < GrossOutlierRule.SampleRows)
            {
                reservoir.Add((float[])row.Values.Clone());
                reservoirKeys.Add(row.Key);
            }
            else if (random.NextInt64(finiteRows) is long slot && slot < GrossOutlierRule.SampleRows)
            {
                reservoir[(int)slot] = (float[])row.Values.Clone();
                reservoirKeys[(int)slot] = row.Key;
            }
        }
        if (finiteRows == 0)
            throw new ArgumentException("The training data has no rows with finite values.", nameof(rows));
        // The held-out fraction, lowered so that about MaxValidationRows rows are held out of large data.
        double validationFraction = Math.Min(options.ValidationFraction, options.MaxValidationRows / (double)finiteRows);
        GrossOutlierRule rule;
        FeatureCells cells;
        double tail;
        LowRankBasis? basis = null;
        using (var sample = tensor(reservoir.SelectMany(r => r).ToArray(), new long[] { reservoir.Count, d }))
        {
            rule = GrossOutlierRule.FromSample(sample);
            using var kept = NotOutliers(sample, rule);
            cells = FeatureCells.Detect(kept);
            tail = options.HeavyTails ? TailChoice.Choose(kept, cells, flow.Gaussian.Covariance, options.Seed) : double.PositiveInfinity;
            if (flow.Gaussian.Covariance == CovarianceKind.LowRank)
            {
                // The sample's rows that will not be held out (the in-memory trainer's ChooseBasis says why).
                long[] training = Enumerable.Range(0, reservoir.Count)
                    .Where(i => !ValidationSplit.Contains(reservoirKeys[i], validationFraction, options.Seed)).Select(i => (long)i).ToArray();
                using var trainingSample = sample.index_select(0, tensor(training));
                using var keptTraining = NotOutliers(trainingSample, rule);
                basis = ChooseBasis(flow, keptTraining, cells, tail, options.Seed);
            }
        }
        reservoir.Clear();
        reservoirKeys.Clear();
        bool Kept(StreamedRow row) => FiniteValues.AllFinite(row.Values) && !rule.IsOutlier(row.Values);

        // Passes 2 to 4: the Gaussian's moments, those of its tails (a finite tail only), then its correlation, over the
        // kept rows a block at a time; pass 2 also keeps the validation rows.
        using var gaussian = new GaussianFit(d, cells, tail, options.Seed, basis);
        var validationValues = new List<float>();
        // The kernel density's candidate centres: a uniform sample of the training rows (reservoir sampling, seeded).
        var centreValues = new List<float[]>();
        var centreRandom = new Random(options.Seed);
        long validationRows = 0, keptRows = 0;
        foreach (Tensor block in Blocks(rows, Kept, d, cancellationToken, row =>
                 {
                     keptRows++;
                     if (!ValidationSplit.Contains(row.Key, validationFraction, options.Seed))
                     {
                         long trained = keptRows - validationRows;
                         if (centreValues.Count < options.KernelDensityCentres)
                             centreValues.Add((float[])row.Values.Clone());
                         else if (options.KernelDensityCentres > 0 && centreRandom.NextInt64(trained) is long slot && slot < options.KernelDensityCentres)
                             centreValues[(int)slot] = (float[])row.Values.Clone();
                         return;
                     }
                     validationValues.AddRange(row.Values);
                     validationRows++;
                 }))
            using (block)
                gaussian.AddMoments(block);
        gaussian.EndMoments();
        gaussian.AddLaterPasses(() => Blocks(rows, Kept, d, cancellationToken, null), flow.Gaussian.Covariance);
        gaussian.SetStage(flow.Gaussian);

        // The hash split draws each row apart, so a few rows can all be held out (k rows with probability about 0.2^k: one row
        // at 9 seeds of 60). Then none is held out and the fit is the Gaussian of them all, as an in-memory fit of one row is
        // (in memory at most all rows but one are held out).
        bool allHeldOut = validationRows == keptRows;
        double trainingSplit = allHeldOut ? 0 : validationFraction;
        if (allHeldOut)
        {
            validationRows = 0;
            validationValues.Clear();
        }
        long trainRows = keptRows - validationRows;
        using Tensor? validation = validationRows > 0 ? HeldOutInDrawnOrder(validationValues, validationRows, d, flow, options.Seed) : null;
        using Tensor? centres = centreValues.Count > 0
            ? tensor(centreValues.SelectMany(r => r).ToArray(), new long[] { centreValues.Count, d }, flow.Architecture.Precision, flow.Device)
            : null;
        int batchSize = (int)Math.Min(options.BatchSize, trainRows);
        bool Trains(StreamedRow row) => Kept(row) && !ValidationSplit.Contains(row.Key, trainingSplit, options.Seed);
        // With held-out rows, the stage again without each fold of them, to score them as new rows (StageRefits: one to
        // three passes for all the folds together, as for the stage itself).
        Func<StageRefits>? refits = validation is null || !options.MeasuresHeldOutScores ? null
            : () => StageRefits.Fit(flow.Gaussian, validation, Math.Min(validationRows, ScoringBudget.MaxRows), () => Blocks(rows, Trains, d, cancellationToken, null), CPU, cells, tail, basis, options.Seed);
        // As in memory: with rows to hold out asked for and none held out (the hash split of a few rows), the Gaussian is
        // all the fit can vouch for.
        long budget = options.ValidationFraction > 0 && validationRows == 0 ? 0 : options.MaxSteps ?? FlowDefaults.MaxStepsFor(trainRows);
        return Loop(flow, options, budget,
            epoch => Streamed(flow, rows, Trains, batchSize, options.Seed, epoch, cancellationToken),
            validation, centres, generator, progress, cancellationToken, trainRows, finiteRows - keptRows, gaussian.ConstantFeatures, refits);
    }

    // The held-out rows [n, d] in an order drawn from the seed, not the storage order they were read in: the shares, K and
    // the threshold's scores are measured on the first ScoringBudget.MaxRows of them, which in storage order would be the
    // file's first part (sorted files: one class, one period), where the in-memory split's are a uniform sample.
    private static Tensor HeldOutInDrawnOrder(List<float> values, long n, int d, HamiltonianFlow flow, int seed)
    {
        using var rowsInStorageOrder = tensor(values, new[] { n, d }, flow.Architecture.Precision, flow.Device);
        using var generator = new Generator((ulong)(uint)seed);
        using var order = randperm(n, generator: generator);
        return rowsInStorageOrder.index_select(0, order.to(flow.Device));
    }

    private static IEnumerable<Tensor> Blocks(StreamedRows rows, Func<StreamedRow, bool> kept, int d, CancellationToken cancellationToken, Action<StreamedRow>? onKept) =>
        Batches(rows.Read(null), kept, onKept, GaussianBlockRows(d), d, ScalarType.Float32, CPU, cancellationToken);

    /// <summary>
    /// The rows <paramref name="take"/> accepts, <paramref name="size"/> to a tensor (the last one smaller); each row is
    /// copied before the source moves on, since a source may reuse its buffer.
    /// </summary>
    private static IEnumerable<Tensor> Batches(
        IEnumerable<StreamedRow> rows, Func<StreamedRow, bool> take, Action<StreamedRow>? onTaken, int size, int d, ScalarType precision, Device device,
        CancellationToken cancellationToken)
    {
        var batch = new float[size * d];
        int filled = 0;
        foreach (var row in rows)
        {
            // At every row: the passes that fit the Gaussian and its refits read all of them between two batches.
            cancellationToken.ThrowIfCancellationRequested();
            if (!take(row))
                continue;
            onTaken?.Invoke(row);
            Array.Copy(row.Values, 0, batch, filled * d, d);
            if (++filled == size)
            {
                yield return tensor(batch, new long[] { filled, d }, precision, device);
                filled = 0;
            }
        }
        if (filled > 0)
            yield return tensor(batch.AsSpan(0, filled * d).ToArray(), new long[] { filled, d }, precision, device);
    }

    /// <summary>
    /// The minibatches of an epoch of streamed rows, in the order the source draws from a seed of the training seed and
    /// the epoch, so that reading rows draws nothing from the training generator (the momenta stay a function of the seed and step).
    /// </summary>
    private static IEnumerable<Tensor> Streamed(
        HamiltonianFlow flow, StreamedRows rows, Func<StreamedRow, bool> trains, int batchSize, int seed, int epoch, CancellationToken cancellationToken)
    {
        int shuffleSeed = (int)SplitMix64.Hash((ulong)(uint)seed * SplitMix64.Increment + (ulong)epoch);
        return Batches(rows.Read(shuffleSeed), trains, null, batchSize, rows.Dimension, flow.Architecture.Precision, flow.Device, cancellationToken);
    }
}
