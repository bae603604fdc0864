using Microsoft.ML.Data;

namespace Microsoft.ML.HamiltonianFlows;

/// <summary>
/// Scores one row at a time for <see cref="HamiltonianFlowTransformer.GetRowToRowMapper"/> (a
/// <c>PredictionEngine</c> sees a single row); the values equal those of the blocked <c>Transform</c> because each
/// row's momenta depend on the row alone.
/// </summary>
internal sealed class LogLikelihoodRowMapper : IRowMapper
{
    private readonly HamiltonianFlowTransformer parent;
    private readonly int featureIndex;

    internal LogLikelihoodRowMapper(HamiltonianFlowTransformer parent, DataViewSchema inputSchema)
    {
        this.parent = parent;
        featureIndex = inputSchema[parent.FeatureColumnName].Index;
    }

    public Func<int, bool> GetDependencies(Func<int, bool> activeOutput) =>
        index => activeOutput(0) && index == featureIndex;

    public DataViewSchema.DetachedColumn[] GetOutputColumns() =>
        new[] { new DataViewSchema.DetachedColumn(parent.OutputColumnName, NumberDataViewType.Single) };

    public Delegate[] CreateGetters(DataViewRow input, Func<int, bool> activeOutput, out Action disposer)
    {
        disposer = null!;
        if (!activeOutput(0))
            return new Delegate[1];
        var read = parent.MakeFeatureReader(input);
        var row = new float[parent.Dimension];
        var score = new float[1];
        ValueGetter<float> getter = (ref float value) =>
        {
            read(row);
            parent.Model.LogLikelihood(row, score);
            value = score[0];
        };
        return new Delegate[] { getter };
    }

    public ITransformer GetTransformer() => parent;

    void ICanSaveModel.Save(ModelSaveContext ctx) => ((ICanSaveModel)parent).Save(ctx);
}
