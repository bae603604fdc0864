using Microsoft.ML.Data;
using Microsoft.ML.Runtime;

namespace Microsoft.ML.HamiltonianFlows;

/// <summary>
/// A transformer that adds columns computed from each row's log-likelihood under a flow: the density transformer's
/// LogLikelihood, the anomaly detector's Score and PredictedLabel. Both score through <see cref="FlowScoreDataView"/>
/// (blocks of rows per torch call) and <see cref="FlowScoreRowMapper"/> (one row, for PredictionEngine): one scoring path.
/// </summary>
internal interface IFlowScoring : ITransformer
{
    HamiltonianFlowModelParameters Model { get; }

    FeatureColumn Feature { get; }

    /// <summary>The columns added, in order.</summary>
    DataViewSchema.DetachedColumn[] OutputColumns { get; }

    /// <summary>Getters of the added columns, in order, each reading the current row's log-likelihood from <paramref name="logLikelihood"/>.</summary>
    Delegate[] MakeGetters(Func<float> logLikelihood);
}

/// <summary>What the scoring transformers share: their output schema, Transform and row mapper.</summary>
internal static class FlowScoring
{
    public static DataViewSchema OutputSchema(IFlowScoring scoring, DataViewSchema inputSchema)
    {
        FeatureColumn.Bind(inputSchema, scoring.Feature.Name, scoring.Feature.Dimension);
        var builder = new DataViewSchema.Builder();
        builder.AddColumns(inputSchema);
        foreach (var column in scoring.OutputColumns)
            builder.AddColumn(column.Name, column.Type, column.Annotations);
        return builder.ToSchema();
    }

    /// <summary>The sub-model folder a saved scoring transformer keeps its flow in.</summary>
    public const string ModelDirectory = "Model";

    /// <summary>Loads the flow of a saved scoring transformer and checks it fits <paramref name="feature"/>.</summary>
    public static HamiltonianFlowModelParameters LoadModel(IHostEnvironment env, ModelLoadContext ctx, FeatureColumn feature)
    {
        ctx.LoadModel<HamiltonianFlowModelParameters, SignatureLoadModel>(env, out var model, ModelDirectory);
        env.CheckDecode(model.Dimension == feature.Dimension, $"The flow has dimension {model.Dimension}, the feature column {feature.Dimension}.");
        return model;
    }

    public static IDataView Transform(IFlowScoring scoring, IDataView input) =>
        new FlowScoreDataView(scoring, input, OutputSchema(scoring, input.Schema));

    public static IRowToRowMapper RowToRowMapper(IFlowScoring scoring, IHost host, DataViewSchema inputSchema)
    {
        FlowScoreRowMapper Make(DataViewSchema schema)
        {
            FeatureColumn.Bind(schema, scoring.Feature.Name, scoring.Feature.Dimension);
            return new FlowScoreRowMapper(scoring, schema);
        }
        return new RowToRowMapperTransform(host, new EmptyDataView(host, inputSchema), Make(inputSchema), Make);
    }
}
