using Microsoft.ML.Data;
using Microsoft.ML.Runtime;

namespace Microsoft.ML.HamiltonianFlows;

/// <summary>
/// Anomaly detection with a Neural Hamiltonian Flow: returns ML.NET's
/// <see cref="AnomalyPredictionTransformer{TModel}"/>, whose Score is the negative log-likelihood (Single, nats,
/// higher = more anomalous) and whose PredictedLabel is Score above a threshold set at fit time to the
/// (1 - contamination) quantile of the training scores. Create it with
/// <c>mlContext.AnomalyDetection.Trainers.HamiltonianFlow(...)</c>.
/// </summary>
public sealed class HamiltonianFlowAnomalyTrainer : IEstimator<AnomalyPredictionTransformer<HamiltonianFlowModelParameters>>
{
    private readonly IHost host;
    private readonly HamiltonianFlowTrainer.Options options;
    private readonly double contamination;

    internal HamiltonianFlowAnomalyTrainer(IHostEnvironment env, HamiltonianFlowTrainer.Options options, double contamination)
    {
        Contracts.CheckValue(env, nameof(env));
        host = env.Register(nameof(HamiltonianFlowAnomalyTrainer));
        host.CheckValue(options, nameof(options));
        MLNetVersionGuard.EnsureSupported();
        options.Validate();
        if (!(contamination > 0 && contamination < 1))
            throw new ArgumentOutOfRangeException(nameof(contamination), contamination, "The contamination must be in (0, 1).");
        this.options = options;
        this.contamination = contamination;
    }

    /// <summary>Trains the flow and sets the threshold from the training rows' scores.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The feature column is missing or not a known-size Single vector.</exception>
    /// <exception cref="InvalidOperationException">No row has finite features.</exception>
    public AnomalyPredictionTransformer<HamiltonianFlowModelParameters> Fit(IDataView input)
    {
        host.CheckValue(input, nameof(input));
        RequireSingleVector(FeatureColumn.Bind(input.Schema, options.FeatureColumnName));
        var fitted = FlowFitting.Fit(host, input, options);
        float threshold = Threshold(fitted, input);
        using (var ch = host.Start("Threshold"))
            ch.Info($"Anomaly threshold {threshold:G6} nats: the {1 - contamination:P1} quantile of the training scores.");
        return new AnomalyPredictionTransformer<HamiltonianFlowModelParameters>(
            host, fitted.Model, input.Schema, options.FeatureColumnName, threshold, DefaultColumnNames.Score);
    }

    /// <summary>The input schema with Score (Single) and PredictedLabel (Boolean) added.</summary>
    public SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        host.CheckValue(inputSchema, nameof(inputSchema));
        FeatureColumn.Check(inputSchema, options.FeatureColumnName);
        inputSchema.TryFindColumn(options.FeatureColumnName, out var column);
        if (column.Kind != SchemaShape.Column.VectorKind.Vector || column.ItemType != NumberDataViewType.Single)
            throw new ArgumentOutOfRangeException(nameof(inputSchema),
                $"Feature column '{options.FeatureColumnName}' has item type {column.ItemType}; the anomaly detector needs a known-size vector of Single.");
        var columns = inputSchema.ToDictionary(c => c.Name);
        columns[DefaultColumnNames.Score] = new SchemaShape.Column(
            DefaultColumnNames.Score, SchemaShape.Column.VectorKind.Scalar, NumberDataViewType.Single, false);
        columns[DefaultColumnNames.PredictedLabel] = new SchemaShape.Column(
            DefaultColumnNames.PredictedLabel, SchemaShape.Column.VectorKind.Scalar, BooleanDataViewType.Instance, false);
        return new SchemaShape(columns.Values);
    }

    private static void RequireSingleVector(FeatureColumn feature)
    {
        if (feature.Kind != FeatureColumn.Storage.SingleVector)
            throw new ArgumentOutOfRangeException(nameof(feature),
                $"Feature column '{feature.Name}' has type {feature.Type}; the anomaly detector needs a known-size vector of Single.");
    }

    // Scores are negative log-likelihoods; PredictedLabel is Score > threshold, so about a fraction
    // `contamination` of the training rows lies above it.
    private float Threshold(FlowFitting.Result fitted, IDataView input)
    {
        int d = fitted.Feature.Dimension;
        var scores = new float[fitted.Count];
        if (fitted.Rows is { } rows)
        {
            int blockRows = LogLikelihoodDataView.BlockRows(d, fitted.Model.ImportanceSamples);
            for (int start = 0; start < scores.Length; start += blockRows)
            {
                int n = Math.Min(blockRows, scores.Length - start);
                fitted.Model.LogLikelihood(rows.AsSpan(start * d, n * d), scores.AsSpan(start, n));
            }
        }
        else
        {
            ScoreStreamed(fitted, input, scores);
        }
        for (int i = 0; i < scores.Length; i++)
            scores[i] = -scores[i];
        Array.Sort(scores);
        int index = Math.Clamp((int)Math.Ceiling((1 - contamination) * scores.Length) - 1, 0, scores.Length - 1);
        return scores[index];
    }

    /// <summary>Log-likelihoods of the finite rows of a view too large to read at once, a block at a time.</summary>
    private static void ScoreStreamed(FlowFitting.Result fitted, IDataView input, float[] scores)
    {
        int d = fitted.Feature.Dimension;
        int blockRows = LogLikelihoodDataView.BlockRows(d, fitted.Model.ImportanceSamples);
        var block = new float[blockRows * d];
        int filled = 0, scored = 0;
        using var cursor = input.GetRowCursor(new[] { input.Schema[fitted.Feature.Name] });
        var read = fitted.Feature.MakeReader(cursor);
        while (cursor.MoveNext())
        {
            if (!read(block.AsSpan(filled * d, d)))
                continue;
            if (++filled == blockRows)
            {
                fitted.Model.LogLikelihood(block, scores.AsSpan(scored, filled));
                scored += filled;
                filled = 0;
            }
        }
        fitted.Model.LogLikelihood(block.AsSpan(0, filled * d), scores.AsSpan(scored, filled));
    }
}
