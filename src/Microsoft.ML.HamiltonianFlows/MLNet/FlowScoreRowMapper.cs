using Microsoft.ML.Data;

namespace Microsoft.ML.HamiltonianFlows;

/// <summary>
/// The scoring columns for one row at a time (PredictionEngine, and ML.NET's row-to-row mappers). Views score in blocks
/// through <see cref="FlowScoreDataView"/>; this path scores a single row per torch call, once per row however many of
/// the columns are read.
/// </summary>
internal sealed class FlowScoreRowMapper : IRowMapper
{
    private readonly IFlowScoring parent;
    private readonly int featureIndex;

    internal FlowScoreRowMapper(IFlowScoring parent, DataViewSchema inputSchema)
    {
        this.parent = parent;
        featureIndex = inputSchema[parent.Feature.Name].Index;
    }

    public Func<int, bool> GetDependencies(Func<int, bool> activeOutput) =>
        index => index == featureIndex && Enumerable.Range(0, parent.OutputColumns.Length).Any(activeOutput);

    public DataViewSchema.DetachedColumn[] GetOutputColumns() => parent.OutputColumns;

    public Delegate[] CreateGetters(DataViewRow input, Func<int, bool> activeOutput, out Action disposer)
    {
        disposer = null!;
        int outputs = parent.OutputColumns.Length;
        if (!Enumerable.Range(0, outputs).Any(activeOutput))
            return new Delegate[outputs];
        var read = parent.Feature.MakeReader(input);
        var row = new float[parent.Feature.Dimension];
        var score = new float[1];
        long scoredPosition = -1;
        float LogLikelihood()
        {
            if (input.Position != scoredPosition)
            {
                read(row);
                parent.Model.LogLikelihood(row, score);
                scoredPosition = input.Position;
            }
            return score[0];
        }
        Delegate[] getters = parent.MakeGetters(LogLikelihood);
        for (int i = 0; i < outputs; i++)
            if (!activeOutput(i))
                getters[i] = null!;
        return getters;
    }

    public ITransformer GetTransformer() => parent;

    void ICanSaveModel.Save(ModelSaveContext ctx) => parent.Save(ctx);
}
