using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.HamiltonianFlows;
using Microsoft.ML.Runtime;

[assembly: LoadableClass(typeof(HamiltonianFlowTransformer), null, typeof(SignatureLoadModel),
    "Hamiltonian flow transformer", HamiltonianFlowTransformer.LoaderSignature)]

namespace Microsoft.ML.HamiltonianFlows;

/// <summary>
/// Adds the log-likelihood of each row's features under a trained Neural Hamiltonian Flow: a Single column, in
/// nats and in the units of the feature column, NaN for a row whose features are not all finite. Also draws new
/// points from the model and reads its potential energy.
/// </summary>
/// <remarks>
/// <c>Transform</c> scores rows in blocks, one torch call per block, and returns them in input order. The
/// importance-weighted estimate is deterministic per row (see <see cref="HamiltonianFlowModelParameters"/>), so a
/// <c>PredictionEngine</c> and a saved and reloaded model give the same value for the same row, up to float rounding
/// between a row scored alone and in a block.
/// </remarks>
public sealed class HamiltonianFlowTransformer : IFlowScoring, IDisposable
{
    internal const string LoaderSignature = "HamiltonianFlowXf";

    // 0x00020001 with HamiltonianFlowModelParameters': the transformer's own fields are unchanged, but it holds a flow with
    // a fitted Gaussian stage, so an earlier release's file (0x00010001) fails at its outermost part, naming both versions.
    internal static readonly ModelVersion Version = new(
        ModelSignature: "HFLOWXFM", VerWrittenCur: 0x00020001, VerReadableCur: 0x00020001, VerWeCanReadBack: 0x00020001,
        LoaderSignature: LoaderSignature);

    private readonly IHost host;
    private readonly FeatureColumn feature;
    private readonly DataViewSchema.DetachedColumn[] outputColumns;

    internal HamiltonianFlowTransformer(IHostEnvironment env, HamiltonianFlowModelParameters model, FeatureColumn feature, string outputColumnName)
    {
        host = env.Register(nameof(HamiltonianFlowTransformer));
        Model = model;
        this.feature = feature;
        OutputColumnName = outputColumnName;
        outputColumns = new[] { new DataViewSchema.DetachedColumn(outputColumnName, NumberDataViewType.Single) };
    }

    private static HamiltonianFlowTransformer Create(IHostEnvironment env, ModelLoadContext ctx)
    {
        Contracts.CheckValue(env, nameof(env));
        env.CheckValue(ctx, nameof(ctx));
        MLNetVersionGuard.EnsureSupported();
        Version.CheckAtModel(ctx);
        // *** Binary format ***
        // string: feature column name
        // int: feature storage (FeatureColumn.Storage)
        // int: dimension d
        // string: output column name
        // model Model: HamiltonianFlowModelParameters
        var feature = FeatureColumn.Read(env, ctx.Reader);
        string output = ctx.Reader.ReadString();
        return new HamiltonianFlowTransformer(env, FlowScoring.LoadModel(env, ctx, feature), feature, output);
    }

    /// <summary>The trained density model.</summary>
    public HamiltonianFlowModelParameters Model { get; }

    /// <summary>Name of the feature column the model reads.</summary>
    public string FeatureColumnName => feature.Name;

    /// <summary>Name of the log-likelihood column added.</summary>
    public string OutputColumnName { get; }

    /// <summary>True: the transformer maps each row on its own, so it works in a <c>PredictionEngine</c>.</summary>
    public bool IsRowToRowMapper => true;

    /// <summary>The input schema with the Single log-likelihood column added.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The feature column is missing, of another type or of another size.</exception>
    public DataViewSchema GetOutputSchema(DataViewSchema inputSchema)
    {
        host.CheckValue(inputSchema, nameof(inputSchema));
        return FlowScoring.OutputSchema(this, inputSchema);
    }

    /// <summary>Adds the log-likelihood column to <paramref name="input"/> (lazily, scored in blocks).</summary>
    public IDataView Transform(IDataView input)
    {
        host.CheckValue(input, nameof(input));
        return FlowScoring.Transform(this, input);
    }

    /// <summary>A mapper scoring one row at a time, as a <c>PredictionEngine</c> needs.</summary>
    public IRowToRowMapper GetRowToRowMapper(DataViewSchema inputSchema)
    {
        host.CheckValue(inputSchema, nameof(inputSchema));
        return FlowScoring.RowToRowMapper(this, host, inputSchema);
    }

    /// <summary>
    /// Draws <paramref name="count"/> points from the model: a view with one column named like the feature column,
    /// a vector of d Singles. The same seed gives the same points; null draws a seed from the <see cref="MLContext"/>.
    /// </summary>
    public IDataView Sample(int count, int? seed = null)
    {
        host.CheckParam(count >= 0, nameof(count), "must not be negative");
        int d = feature.Dimension;
        host.CheckParam((long)count * d <= Array.MaxLength, nameof(count),
            $"asks for {count} draws of {d} values, more than one array holds; draw in parts, each with its own seed");
        if (count == 0)
        {
            // No draw and no seed taken from the context; but a disposed model fails for every count alike.
            Model.ThrowIfDisposed();
            // The builder reads a vector's size from its rows: with none it would declare a vector of unknown size.
            var schema = new DataViewSchema.Builder();
            schema.AddColumn(feature.Name, new VectorDataViewType(NumberDataViewType.Single, d));
            return new EmptyDataView(host, schema.ToSchema());
        }
        float[] values = Model.Sample(count, (ulong)(uint)(seed ?? host.Rand.Next()));
        var rows = new float[count][];
        for (int i = 0; i < count; i++)
            rows[i] = values.AsSpan(i * d, d).ToArray();
        var builder = new ArrayDataViewBuilder(host);
        builder.AddColumn(feature.Name, NumberDataViewType.Single, rows);
        return builder.GetDataView(count);
    }

    /// <summary>The potential energy V(q) at each point of <paramref name="points"/>; see <see cref="HamiltonianFlowModelParameters.Potential"/>.</summary>
    public float[] Potential(ReadOnlySpan<float> points) => Model.Potential(points);

    /// <summary>The feature column the flow reads: name, storage and dimension.</summary>
    FeatureColumn IFlowScoring.Feature => feature;

    DataViewSchema.DetachedColumn[] IFlowScoring.OutputColumns => outputColumns;

    Delegate[] IFlowScoring.MakeGetters(Func<float> logLikelihood) =>
        new Delegate[] { (ValueGetter<float>)((ref float value) => value = logLikelihood()) };

    void ICanSaveModel.Save(ModelSaveContext ctx)
    {
        host.CheckValue(ctx, nameof(ctx));
        ctx.CheckAtModel();
        ctx.SetVersionInfo(Version.ToVersionInfo());
        feature.Write(ctx.Writer);
        ctx.Writer.Write(OutputColumnName);
        ctx.SaveModel(Model, FlowScoring.ModelDirectory);
    }

    /// <summary>Releases the flow's native tensors.</summary>
    public void Dispose() => Model.Dispose();
}
