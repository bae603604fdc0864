using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.HamiltonianFlows;
using Microsoft.ML.Runtime;

[assembly: LoadableClass(typeof(HamiltonianFlowAnomalyTransformer), null, typeof(SignatureLoadModel),
    "Hamiltonian flow anomaly transformer", HamiltonianFlowAnomalyTransformer.LoaderSignature)]

namespace Microsoft.ML.HamiltonianFlows;

/// <summary>
/// The fitted anomaly detector: adds <c>Score</c>, the row's negative log-likelihood under the flow in nats, and
/// <c>PredictedLabel</c>, true where the score exceeds <see cref="Threshold"/>. A row with a NaN or infinite feature has
/// no likelihood: its Score is NaN and its PredictedLabel true, so that it is never called normal without a look. Its output is what
/// <c>mlContext.AnomalyDetection.Evaluate</c> reads; it saves and loads with <c>mlContext.Model</c> and serves a
/// PredictionEngine.
/// </summary>
/// <remarks>
/// ML.NET's <c>AnomalyPredictionTransformer</c> is sealed and asks its model for one row at a time; this transformer
/// scores a view in blocks of rows per torch call, as the density transformer does (the same code).
/// Use <see cref="WithThreshold(float)"/>, or <c>mlContext.AnomalyDetection.ChangeModelThreshold</c>, to move the threshold.
/// </remarks>
public sealed class HamiltonianFlowAnomalyTransformer : ISingleFeaturePredictionTransformer<HamiltonianFlowModelParameters>, IFlowScoring, IDisposable
{
    internal const string LoaderSignature = "HamiltonianFlowAnomaly";

    internal static readonly ModelVersion Version = new(
        ModelSignature: "HFLOWADT", VerWrittenCur: 0x00010001, VerReadableCur: 0x00010001, VerWeCanReadBack: 0x00010001,
        LoaderSignature: LoaderSignature);

    private readonly IHost host;
    private readonly FeatureColumn feature;
    private readonly DataViewSchema.DetachedColumn[] outputColumns;

    internal HamiltonianFlowAnomalyTransformer(IHostEnvironment env, HamiltonianFlowModelParameters model, FeatureColumn feature, float threshold)
    {
        host = env.Register(nameof(HamiltonianFlowAnomalyTransformer));
        Model = model;
        this.feature = feature;
        Threshold = threshold;
        outputColumns = new[]
        {
            new DataViewSchema.DetachedColumn(DefaultColumnNames.Score, NumberDataViewType.Single),
            new DataViewSchema.DetachedColumn(DefaultColumnNames.PredictedLabel, BooleanDataViewType.Instance),
        };
    }

    private static HamiltonianFlowAnomalyTransformer Create(IHostEnvironment env, ModelLoadContext ctx)
    {
        Contracts.CheckValue(env, nameof(env));
        env.CheckValue(ctx, nameof(ctx));
        MLNetVersionGuard.EnsureSupported();
        Version.CheckAtModel(ctx);
        // *** Binary format ***
        // string: feature column name
        // int: feature storage (FeatureColumn.Storage)
        // int: dimension d
        // float: threshold on the score, in nats
        // model Model: HamiltonianFlowModelParameters
        var feature = FeatureColumn.Read(env, ctx.Reader);
        float threshold = ctx.Reader.ReadSingle();
        env.CheckDecode(!float.IsNaN(threshold), "The threshold is NaN.");
        return new HamiltonianFlowAnomalyTransformer(env, FlowScoring.LoadModel(env, ctx, feature), feature, threshold);
    }

    /// <summary>The fitted flow. Disposing the transformer disposes it, also for a transformer made by <see cref="WithThreshold(float)"/>, which shares it.</summary>
    public HamiltonianFlowModelParameters Model { get; }

    /// <summary>Rows whose score (negative log-likelihood, nats) exceeds this are predicted anomalies.</summary>
    public float Threshold { get; }

    /// <inheritdoc/>
    public string FeatureColumnName => feature.Name;

    /// <inheritdoc/>
    public DataViewType FeatureColumnType => feature.Type;

    /// <inheritdoc/>
    public bool IsRowToRowMapper => true;

    /// <summary>The same detector with another threshold; it shares this one's flow.</summary>
    public HamiltonianFlowAnomalyTransformer WithThreshold(float threshold)
    {
        host.CheckParam(!float.IsNaN(threshold), nameof(threshold), "must not be NaN");
        return new HamiltonianFlowAnomalyTransformer(host, Model, feature, threshold);
    }

    /// <inheritdoc/>
    public DataViewSchema GetOutputSchema(DataViewSchema inputSchema)
    {
        host.CheckValue(inputSchema, nameof(inputSchema));
        return FlowScoring.OutputSchema(this, inputSchema);
    }

    /// <inheritdoc/>
    public IDataView Transform(IDataView input)
    {
        host.CheckValue(input, nameof(input));
        return FlowScoring.Transform(this, input);
    }

    /// <inheritdoc/>
    public IRowToRowMapper GetRowToRowMapper(DataViewSchema inputSchema)
    {
        host.CheckValue(inputSchema, nameof(inputSchema));
        return FlowScoring.RowToRowMapper(this, host, inputSchema);
    }

    FeatureColumn IFlowScoring.Feature => feature;

    DataViewSchema.DetachedColumn[] IFlowScoring.OutputColumns => outputColumns;

    Delegate[] IFlowScoring.MakeGetters(Func<float> logLikelihood)
    {
        float threshold = Threshold;
        return new Delegate[]
        {
            (ValueGetter<float>)((ref float score) => score = -logLikelihood()),
            // Not "score > threshold": a NaN score (a row with a non-finite feature) fails every comparison.
            (ValueGetter<bool>)((ref bool anomaly) => anomaly = !(-logLikelihood() <= threshold)),
        };
    }

    void ICanSaveModel.Save(ModelSaveContext ctx)
    {
        host.CheckValue(ctx, nameof(ctx));
        ctx.CheckAtModel();
        ctx.SetVersionInfo(Version.ToVersionInfo());
        feature.Write(ctx.Writer);
        ctx.Writer.Write(Threshold);
        ctx.SaveModel(Model, FlowScoring.ModelDirectory);
    }

    /// <summary>Disposes the flow.</summary>
    public void Dispose() => Model.Dispose();
}
