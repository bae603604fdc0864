using Microsoft.ML.Data;
using Microsoft.ML.HamiltonianFlows.Training;
using Microsoft.ML.Runtime;
using Microsoft.ML.Trainers;

namespace Microsoft.ML.HamiltonianFlows;

/// <summary>
/// Anomaly detection with a Neural Hamiltonian Flow: returns a <see cref="HamiltonianFlowAnomalyTransformer"/>, whose
/// Score is the negative log-likelihood (Single, nats, higher = more anomalous) and whose PredictedLabel is Score above
/// a threshold set at fit time so that a fraction <see cref="Options.Contamination"/> of new rows like the training rows
/// lie above it: the (1 - Contamination) quantile of the scores of the training rows held out for validation. Create
/// it with <c>mlContext.AnomalyDetection.Trainers.HamiltonianFlow(...)</c>. A trainer as ML.NET's anomaly detectors
/// are (RandomizedPca's), with its own options; it returns this library's transformer, which scores rows in blocks,
/// because ML.NET's <c>AnomalyPredictionTransformer</c> is sealed and asks its model one row at a time.
/// </summary>
public sealed class HamiltonianFlowAnomalyTrainer : ITrainerEstimator<HamiltonianFlowAnomalyTransformer, HamiltonianFlowModelParameters>
{
    /// <summary>Options of <see cref="HamiltonianFlowAnomalyTrainer"/>: the shared flow options and the contamination.</summary>
    public sealed class Options : HamiltonianFlowOptionsBase
    {
        /// <summary>
        /// Expected fraction of anomalies among the training rows, in (0, 1): PredictedLabel is true for a Score above
        /// the (1 - Contamination) quantile of the scores of the training rows held out for validation (rows the flow was
        /// not fitted to, which score as new rows do), or of all training rows where none was held out
        /// (<see cref="HamiltonianFlowOptionsBase.ValidationFraction"/> = 0). With fewer than 1 / Contamination - 1
        /// held-out rows the threshold is their largest score, and more new rows than that lie above it. The held-out rows
        /// are scored with the importance samples the fit measured; a <see cref="HamiltonianFlowOptionsBase.ScoringImportanceSamples"/>
        /// set lower estimates new rows' log-likelihoods a little lower, so a few more are flagged. Default 0.05.
        /// </summary>
        public double Contamination { get; set; } = FlowDefaults.Contamination;

        internal override void Validate()
        {
            if (!(Contamination > 0 && Contamination < 1))
                throw new ArgumentException($"{nameof(Contamination)} must be in (0, 1), got {Contamination}.", nameof(Contamination));
            base.Validate();
        }
    }

    // No normalizer needed in front (the flow fits its own Gaussian), no cache (the rows are read once, or streamed).
    private static readonly TrainerInfo TrainerInfo = new(normalization: false, caching: false);

    private readonly IHost host;
    private readonly Options options;

    internal HamiltonianFlowAnomalyTrainer(IHostEnvironment env, Options options)
    {
        Contracts.CheckValue(env, nameof(env));
        host = env.Register(nameof(HamiltonianFlowAnomalyTrainer));
        host.CheckValue(options, nameof(options));
        MLNetVersionGuard.EnsureSupported();
        this.options = options.ValidatedCopy<Options>();
    }

    /// <summary>What this trainer needs from its input: no normalization, no caching.</summary>
    public TrainerInfo Info => TrainerInfo;

    /// <summary>Trains the flow and sets the threshold from the held-out training rows' scores (all training rows' where none was held out).</summary>
    /// <exception cref="ArgumentOutOfRangeException">The feature column is missing or of a type the flow does not read.</exception>
    /// <exception cref="ArgumentException">No row has finite features (the engine throws the same for a tensor).</exception>
    public HamiltonianFlowAnomalyTransformer Fit(IDataView input)
    {
        host.CheckValue(input, nameof(input));
        var fitted = FlowFitting.Fit(host, input, options, heldOutScores: true, WarnAboutTooFewHeldOutRows);
        var detector = new HamiltonianFlowAnomalyTransformer(host, fitted.Model, fitted.Feature, float.PositiveInfinity);
        var heldOut = fitted.HeldOutLogLikelihoods?.Select(l => -l).Where(s => !double.IsNaN(s)).ToList();
        float threshold;
        try
        {
            threshold = heldOut is { Count: > 0 } ? HeldOutThreshold(heldOut) : TrainingThreshold(detector, input);
        }
        catch
        {
            // Cancelled while scoring the training rows: the model made so far is released, not left to the finaliser.
            detector.Dispose();
            throw;
        }
        using (var ch = host.Start("Threshold"))
        {
            ch.Info($"Anomaly threshold {threshold:G6} nats: the {1 - options.Contamination:P1} quantile of the scores of " +
                    (heldOut is { Count: > 0 } ? $"the {heldOut.Count} held-out training rows." : "the training rows (no held-out row was scored)."));
        }
        return detector.WithThreshold(threshold);
    }

    // Said once the split is drawn, before training: the count is known then, and a user who reads it can stop the fit.
    // At the scoring cap (ScoringBudget.MaxRows) more rows cannot help: only a larger Contamination can.
    private void WarnAboutTooFewHeldOutRows(IChannel ch, long heldOut)
    {
        if (heldOut <= 0 || !TooFewForTheQuantile(heldOut))
            return;
        bool capped = heldOut >= ScoringBudget.MaxRows;
        string rows = capped
            ? $"The threshold is set from {heldOut} held-out training rows (the most it scores)"
            : $"Only {heldOut} training rows are held out";
        string remedy = capped
            ? $"more rows do not change that, as at most {ScoringBudget.MaxRows} are scored: a {nameof(Options.Contamination)} of at least {1.0 / (heldOut + 1):G2} can be met."
            : $"more training rows or a larger {nameof(Options.ValidationFraction)} bring it down to {nameof(Options.Contamination)}.";
        ch.Warning($"{rows}, fewer than the {RowsForTheQuantile:G6} a {nameof(Options.Contamination)} of {options.Contamination:G3} needs: the threshold " +
                   $"will be their largest score, which a new normal row exceeds with probability 1 / {heldOut + 1} = {1.0 / (heldOut + 1):G2} on " +
                   $"average, not {options.Contamination:G3}; {remedy}");
    }

    // The flow fits its training rows more closely than new rows of their law, so their scores would put the threshold
    // too low: on the one-class benchmark's tabular sets it flagged 24% to 39% of the normal test rows, not 5%
    // (docs/anomaly-benchmark.md). The held-out rows only chose the flow's step, shares and kernel width, and they are scored
    // with the Gaussian stage refitted without them in place of the stage that was fitted to them too (StageRefits), so
    // they are a sample of new rows' scores. Of n of them the threshold is the ceil((1 - c)(n + 1))-th smallest (the largest
    // where n is too small for that): a new row exchangeable with them lies above it with probability at most c, the
    // split-conformal quantile (Vovk, Gammerman and Shafer, Algorithmic Learning in a Random World, 2005).
    private float HeldOutThreshold(List<double> scores)
    {
        scores.Sort();
        return (float)scores[(int)Math.Clamp(QuantileRank(scores.Count), 1, scores.Count) - 1];
    }

    // The conformal rank ceil((1 - c)(n + 1)) of n held-out scores, as a double (at a tiny c it passes any int). It is at
    // most n from n >= 1 / c - 1 rows on (19 at c = 0.05); below that the threshold is the largest score and the fit warns.
    private double QuantileRank(long rows) => Math.Ceiling((1 - options.Contamination) * (rows + 1));

    private bool TooFewForTheQuantile(long rows) => QuantileRank(rows) > rows;

    private double RowsForTheQuantile => Math.Ceiling(1 / options.Contamination - 1);

    /// <summary>The input schema with Score (Single) and PredictedLabel (Boolean) added.</summary>
    public SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        host.CheckValue(inputSchema, nameof(inputSchema));
        FeatureColumn.Check(inputSchema, options.FeatureColumnName);
        var columns = inputSchema.ToDictionary(c => c.Name);
        columns[DefaultColumnNames.Score] = new SchemaShape.Column(
            DefaultColumnNames.Score, SchemaShape.Column.VectorKind.Scalar, NumberDataViewType.Single, false);
        columns[DefaultColumnNames.PredictedLabel] = new SchemaShape.Column(
            DefaultColumnNames.PredictedLabel, SchemaShape.Column.VectorKind.Scalar, BooleanDataViewType.Instance, false);
        return new SchemaShape(columns.Values);
    }

    // Where no row was held out: PredictedLabel is Score > threshold, so that about a fraction Contamination of the
    // training rows lies above it. The training rows are scored as any view is, through the detector itself; rows with a
    // non-finite feature have a NaN score and no place in the quantile.
    private float TrainingThreshold(HamiltonianFlowAnomalyTransformer unthresholded, IDataView input)
    {
        IDataView scored = unthresholded.Transform(input);
        var scoreColumn = scored.Schema[DefaultColumnNames.Score];
        var scores = new List<float>();
        // A pass over every training row: it stops on the options' token and on the context's cancellation, as the fit does.
        using var cancellation = new FitCancellation(host, options.CancellationToken);
        using (var cursor = scored.GetRowCursor(new[] { scoreColumn }))
        {
            var getter = cursor.GetGetter<float>(scoreColumn);
            float score = 0;
            while (cursor.MoveNext())
            {
                cancellation.Token.ThrowIfCancellationRequested();
                getter(ref score);
                if (!float.IsNaN(score))
                    scores.Add(score);
            }
        }
        host.Check(scores.Count > 0, "No training row has a score.");
        scores.Sort();
        int index = Math.Clamp((int)Math.Ceiling((1 - options.Contamination) * scores.Count) - 1, 0, scores.Count - 1);
        return scores[index];
    }
}
