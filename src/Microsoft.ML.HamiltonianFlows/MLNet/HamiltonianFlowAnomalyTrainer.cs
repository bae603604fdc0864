using Microsoft.ML.Data;
using Microsoft.ML.HamiltonianFlows.Training;
using Microsoft.ML.Runtime;
using Microsoft.ML.Trainers;

namespace Microsoft.ML.HamiltonianFlows;

/// <summary>
/// Anomaly detection with a Neural Hamiltonian Flow: returns a <see cref="HamiltonianFlowAnomalyTransformer"/>, whose
/// Score is the negative log-likelihood (Single, nats, higher = more anomalous) and whose PredictedLabel is Score above
/// a threshold set at fit time to the (1 - <see cref="Options.Contamination"/>) quantile of the training scores. Create
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
        /// the (1 - Contamination) quantile of the training rows' scores. Default 0.05.
        /// </summary>
        public double Contamination { get; set; } = FlowDefaults.Contamination;

        internal override void Validate()
        {
            if (!(Contamination > 0 && Contamination < 1))
                throw new ArgumentOutOfRangeException(nameof(Contamination), Contamination, $"{nameof(Contamination)} must be in (0, 1).");
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
        options.Validate();
        this.options = options;
    }

    /// <summary>What this trainer needs from its input: no normalization, no caching.</summary>
    public TrainerInfo Info => TrainerInfo;

    /// <summary>Trains the flow and sets the threshold from the training rows' scores.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The feature column is missing or of a type the flow does not read.</exception>
    /// <exception cref="ArgumentException">No row has finite features (the engine throws the same for a tensor).</exception>
    public HamiltonianFlowAnomalyTransformer Fit(IDataView input)
    {
        host.CheckValue(input, nameof(input));
        var fitted = FlowFitting.Fit(host, input, options);
        var detector = new HamiltonianFlowAnomalyTransformer(host, fitted.Model, fitted.Feature, float.PositiveInfinity);
        float threshold = Threshold(detector, input);
        using (var ch = host.Start("Threshold"))
            ch.Info($"Anomaly threshold {threshold:G6} nats: the {1 - options.Contamination:P1} quantile of the training scores.");
        return detector.WithThreshold(threshold);
    }

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

    // PredictedLabel is Score > threshold, so that about a fraction Contamination of the training rows lies above it.
    // The training rows are scored as any view is, through the detector itself; rows with a non-finite feature have a
    // NaN score and no place in the quantile.
    private float Threshold(HamiltonianFlowAnomalyTransformer unthresholded, IDataView input)
    {
        IDataView scored = unthresholded.Transform(input);
        var scoreColumn = scored.Schema[DefaultColumnNames.Score];
        var scores = new List<float>();
        using (var cursor = scored.GetRowCursor(new[] { scoreColumn }))
        {
            var getter = cursor.GetGetter<float>(scoreColumn);
            float score = 0;
            while (cursor.MoveNext())
            {
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
