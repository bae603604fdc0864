using Microsoft.ML.Data;
using Microsoft.ML.HamiltonianFlows.Torch;
using Microsoft.ML.HamiltonianFlows.Training;
using Microsoft.ML.Runtime;
using static TorchSharp.torch;

namespace Microsoft.ML.HamiltonianFlows;

/// <summary>
/// Turns an <see cref="IDataView"/> and trainer options into trained model parameters: reads the feature column,
/// skips non-finite rows, maps the ML.NET host's seed, log and cancellation onto <see cref="FlowTrainer"/>.
/// </summary>
internal static class FlowFitting
{
    // Rows a streamed epoch shuffles among when the data cannot shuffle itself (ML.NET's ShuffleRows pool is 1000).
    private const int ShufflePoolRows = 4096;

    /// <summary>
    /// A trained model with the feature column it read, and its held-out rows' log-likelihoods where rows were held out
    /// (<see cref="FlowTrainingResult.HeldOutLogLikelihoods"/>).
    /// </summary>
    internal sealed record Result(HamiltonianFlowModelParameters Model, FeatureColumn Feature, IReadOnlyList<double>? HeldOutLogLikelihoods);

    /// <summary>
    /// Fits the flow of <paramref name="options"/> to the feature column of <paramref name="data"/>; with
    /// <paramref name="heldOutScores"/> the held-out rows' scores are measured too (an anomaly threshold's), and
    /// <paramref name="warnAboutHeldOutRows"/>, where given, is told before training how many of them there will be.
    /// </summary>
    internal static Result Fit(IHost host, IDataView data, HamiltonianFlowOptionsBase options, bool heldOutScores,
        Action<IChannel, long>? warnAboutHeldOutRows = null)
    {
        var feature = FeatureColumn.Bind(data.Schema, options.FeatureColumnName);
        using var ch = host.Start("Training");
        int seed = options.Seed ?? host.Rand.Next();
        var architecture = options.ToArchitecture(feature.Dimension);
        var trainingOptions = options.ToTrainingOptions(seed) with { MeasuresHeldOutScores = heldOutScores, StageFitted = WarnAboutTheData };
        double budgetBytes = options.MemoryBudgetMegabytes * 1024 * 1024;
        // The fit stops on the options' token or on the context's own cancellation.
        using var cancellation = new FitCancellation(host, options.CancellationToken);
        // Counting and reading the rows look at it too (a pass over large data or an expensive pipeline takes minutes).
        // Counting rows reads no column, so it costs little next to an epoch; many views know their count outright.
        long total = data.GetRowCount() ?? CountRows(data, cancellation.Token);
        // Streamed too where the values would not fit in one array, whatever the budget.
        DataViewRows? streamed = total * feature.Dimension * 4.0 > budgetBytes || total * feature.Dimension > Array.MaxLength
            ? new DataViewRows(ch, data, feature, (int)Math.Clamp(budgetBytes / (feature.Dimension * 4.0), 1, ShufflePoolRows))
            : null;
        float[]? rows = null;
        int count = 0;
        if (streamed is null)
        {
            (rows, count) = ReadFiniteRows(ch, data, feature, total, cancellation.Token);
            ch.Info($"Training a Hamiltonian flow on {count} rows of dimension {feature.Dimension} (seed {seed}).");
        }
        else
        {
            ch.Info($"Training a Hamiltonian flow on {total} rows of dimension {feature.Dimension} (seed {seed}), streamed: " +
                    $"they exceed the memory budget of {options.MemoryBudgetMegabytes} MB or one array's size.");
        }

        // What the data say about themselves is reported once the stage is fitted, before training runs its course.
        void WarnAboutTheData(StageReport report)
        {
            var (gaussian, excludedRows, constantFeatures, heldOutScoredRows) = report;
            if (excludedRows > 0)
                ch.Warning($"Left {excludedRows} training rows out of the fit: a value of feature column '{feature.Name}' lies more than " +
                           $"{GrossOutlierRule.Deviations:N0} standard deviations from the other rows'. They are scored as usual.");
            if (constantFeatures.Count > 0)
                ch.Warning($"{constantFeatures.Count} of the {feature.Dimension} values of feature column '{feature.Name}' are constant in the " +
                           $"training rows (0-based: {string.Join(", ", constantFeatures.Take(10))}{(constantFeatures.Count > 10 ? ", ..." : "")}). " +
                           "The model leaves each to its fitted Gaussian, with the typical spread of the varying values (the geometric mean of " +
                           "their standard deviations), so any other value there scores as unlikely on that scale alone, and its samples " +
                           "draw the training value; with one training row or identical rows, every value is constant (spread 1). Values are compared as " +
                           "Single, a Double column's too: Doubles closer than Single's spacing at their size are equal.");
            if (CoarselyRounded(gaussian, constantFeatures) is { Count: > 0 } coarse)
                ch.Warning($"{coarse.Count} of the {feature.Dimension} values of feature column '{feature.Name}' vary little around a large offset: " +
                           $"Single precision rounds them in steps of more than {CoarseRoundingShare * 100:G2}% of their standard deviation (0-based: " +
                           string.Join(", ", coarse.Take(10).Select(c => $"{c.Feature} in steps of {c.Step:G3} with standard deviation {c.Deviation:G3}")) +
                           (coarse.Count > 10 ? ", ..." : "") + "). The flow reads its features as Single, Double columns too, so their variation is " +
                           "partly lost; subtract the offset in front of it to keep it (e.g. NormalizeMeanVariance with fixZero: false, which " +
                           "centres a Double column in Double; its default only rescales). A column already read as Single, as a text " +
                           "loader reads DataKind.Single, has lost it before any transform: load it as DataKind.Double.");
            warnAboutHeldOutRows?.Invoke(ch, heldOutScoredRows);
        }

        // At step 0 no minibatch has been trained on: its training loss is NaN, which would read as a failure.
        Action<FlowTrainingProgress> report = p => ch.Info($"Step {p.Steps}: " +
            (p.Steps == 0 && double.IsNaN(p.TrainingLoss) ? "no training loss yet" : $"training loss {p.TrainingLoss:F4} nats") +
            (p.ValidationLoss is double v ? $", validation loss {v:F4}" : "") +
            $", learning rate {p.LearningRate:G3}, {p.SkippedBatches} skipped batches.");
        FlowTrainingResult result;
        if (streamed is not null)
        {
            result = FlowTrainer.Train(architecture, streamed, trainingOptions, report, cancellation.Token);
        }
        else
        {
            using var trainingRows = tensor(rows!, new long[] { count, feature.Dimension });
            // The tensor holds its own copy: the array need not live through training.
            rows = null;
            result = FlowTrainer.Train(architecture, trainingRows, trainingOptions, report, cancellation.Token);
        }
        ch.Info($"Kept the weights of step {result.BestStep}" + (result.BestStep == 0 ? " (the fitted Gaussian)" : "") +
                (result.StoppedEarly ? "; stopped early." : result.ReachedTimeLimit ? $"; stopped at the time limit ({nameof(options.MaxTrainingTime)})." : "."));
        // The scoring seed is a function of the training seed, so a model trained twice scores identically.
        ulong scoringSeed = (ulong)(uint)seed * SplitMix64.Increment + 1;
        int samples = options.ScoringImportanceSamples ?? result.ScoringSamples ?? FlowDefaults.UnmeasuredScoringImportanceSamples;
        if (options.ScoringImportanceSamples is null)
            ch.Info($"Scoring with {samples} importance samples" + (result.ScoringSamples is null
                ? " (no rows were held out to choose with)."
                : $": on the held-out rows they agree with {ScoringBudget.Reference}."));
        if (result.ScoringSamples is not null)
            ch.Info($"The fitted Gaussian's share of the density, measured on the held-out rows: {result.Flow.GaussianWeight:G3}; " +
                    $"their mean negative log-likelihood {result.DensityValidationLoss:F4}, the fitted Gaussian's alone {result.GaussianValidationLoss:F4}.");
        if (result.Flow.KernelDensity is { } kernels)
            ch.Info($"A kernel density on {kernels.Count} training rows (width {kernels.Width:G3} in whitened units) has a share of {kernels.Weight:G3} " +
                    $"of the density, chosen on the held-out rows; the model holds those rows ({nameof(options.KernelDensityCentres)} = 0 keeps them out).");
        ch.Info(double.IsFinite(result.Flow.Gaussian.Tail)
            ? $"The fitted Gaussian's marginals have tail c = {result.Flow.Gaussian.Tail:G3} (t = c asinh(u / c)), chosen on held-out rows of the training sample."
            : options.HeavyTails
                ? "The fitted Gaussian's marginals are Gaussian: held-out rows of the training sample did not favour a heavier tail."
                : "The fitted Gaussian's marginals are Gaussian (HeavyTails is off).");
        if (result.Flow.Gaussian.Covariance == CovarianceKind.LowRank)
            ch.Info($"The fitted Gaussian's correlation has rank {result.Flow.Gaussian.Rank} plus a constant (of at most {GaussianStage.BasisColumns(feature.Dimension)}), " +
                    "chosen on held-out rows of the training sample" + (result.Flow.Gaussian.Rank == 0 ? ": features independent." : "."));
        return new Result(new HamiltonianFlowModelParameters(host, result.Flow, samples, scoringSeed), feature, result.HeldOutLogLikelihoods);
    }

    // A Single's spacing above this share of a feature's standard deviation loses a visible part of its variation (and can
    // make its values look like a lattice's).
    private const double CoarseRoundingShare = 0.01;

    // The varying features whose values Single rounds in steps above CoarseRoundingShare of their standard deviation: the
    // spacing of Single at the feature's mean against the fitted Gaussian's scale. A lattice wider than that spacing is the
    // data's own (counts below 2^24, which Single holds exactly); one as wide as the spacing is Single's rounding.
    private static List<(int Feature, double Step, double Deviation)> CoarselyRounded(GaussianStage gaussian, IReadOnlyList<int> constant)
    {
        double[] mean, scale, cell;
        using (var scope = NewDisposeScope())
        using (var noGrad = no_grad())
        {
            mean = gaussian.Mean.to(ScalarType.Float64).cpu().data<double>().ToArray();
            scale = gaussian.Scale.to(ScalarType.Float64).cpu().data<double>().ToArray();
            cell = gaussian.CellWidth.to(ScalarType.Float64).cpu().data<double>().ToArray();
        }
        var constantSet = new HashSet<int>(constant);
        var coarse = new List<(int, double, double)>();
        for (int j = 0; j < mean.Length; j++)
        {
            float magnitude = Math.Abs((float)mean[j]);
            double step = MathF.BitIncrement(magnitude) - (double)magnitude;
            if (!constantSet.Contains(j) && step > CoarseRoundingShare * scale[j] && !(cell[j] > step))
                coarse.Add((j, step, scale[j]));
        }
        return coarse;
    }

    // The finite rows of the feature column, read into one array of the counted rows. A list grown by doubling, then
    // copied, held up to three copies of the data at once, and four with the tensor made from it.
    private static (float[] Rows, int Count) ReadFiniteRows(IChannel ch, IDataView data, FeatureColumn feature, long total, CancellationToken cancellationToken)
    {
        int d = feature.Dimension;
        var rows = new float[total * d];
        int count = 0;
        long skipped = 0;
        using (var cursor = data.GetRowCursor(new[] { data.Schema[feature.Name] }))
        {
            var read = feature.MakeReader(cursor);
            while (cursor.MoveNext())
            {
                cancellationToken.ThrowIfCancellationRequested();
                // A view that returns more rows than it counted (breaking IDataView's contract) still has them all read, up
                // to what one array holds.
                if ((long)(count + 1) * d > rows.Length)
                {
                    long grown = Math.Min((long)Math.Max(count + 1, count * 3L / 2) * d, Array.MaxLength / d * d);
                    if (grown <= rows.Length)
                        throw new InvalidOperationException(
                            $"Feature column '{feature.Name}' returned more rows than one array holds after the view counted {total}; " +
                            "a view must return the rows it counts.");
                    Array.Resize(ref rows, (int)grown);
                }
                // A non-finite row's values are overwritten by the next row's.
                if (read(rows.AsSpan(count * d, d)))
                    count++;
                else
                    skipped++;
            }
        }
        ReportSkipped(ch, feature, count, skipped);
        // Shorter only where rows were skipped (or the view returned fewer than it counted).
        if (count * d < rows.Length)
            Array.Resize(ref rows, count * d);
        return (rows, count);
    }

    internal static void ReportSkipped(IChannel ch, FeatureColumn feature, long count, long skipped)
    {
        if (skipped > 0)
            ch.Warning($"Skipped {skipped} training rows whose feature column '{feature.Name}' has NaN or infinite values. The model has " +
                       "no notion of a missing value, and scores such rows NaN; to fit and score them, fill the gaps in front of it " +
                       "(e.g. ReplaceMissingValues, or an indicator column beside the filled values).");
        // ArgumentException, as the engine throws for a tensor without a usable row: one fault, one exception type.
        if (count == 0)
            throw new ArgumentException(skipped > 0
                ? $"No training rows left: all {skipped} rows of feature column '{feature.Name}' have NaN or infinite values."
                : $"The training data is empty: feature column '{feature.Name}' has no rows.", "input");
    }

    private static long CountRows(IDataView data, CancellationToken cancellationToken)
    {
        long count = 0;
        using var cursor = data.GetRowCursor(Array.Empty<DataViewSchema.Column>());
        while (cursor.MoveNext())
        {
            cancellationToken.ThrowIfCancellationRequested();
            count++;
        }
        return count;
    }
}
