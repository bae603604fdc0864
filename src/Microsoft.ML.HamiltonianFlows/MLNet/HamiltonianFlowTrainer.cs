using Microsoft.ML.Data;
using Microsoft.ML.HamiltonianFlows.Torch;
using Microsoft.ML.HamiltonianFlows.Training;
using Microsoft.ML.Runtime;

namespace Microsoft.ML.HamiltonianFlows;

/// <summary>
/// Fits a Neural Hamiltonian Flow density model to a feature column and returns a
/// <see cref="HamiltonianFlowTransformer"/> that adds each row's log-likelihood. Create it with
/// <c>mlContext.Transforms.HamiltonianFlow(...)</c>.
/// </summary>
/// <remarks>
/// Rows whose features contain NaN or infinite values are skipped during training (the count is logged), and so are
/// gross outliers (a feature thousands of standard deviations from the others, see <see cref="FlowTrainer"/>);
/// steps and losses are logged through the <see cref="MLContext.Log"/> channel, and cancelling the context's
/// execution (ML.NET keeps that call internal in 5.0.1; tools such as AutoML use it) stops training between batches.
/// </remarks>
public sealed class HamiltonianFlowTrainer : IEstimator<HamiltonianFlowTransformer>
{
    /// <summary>Options of <see cref="HamiltonianFlowTrainer"/>: the shared flow options and the output column.</summary>
    public sealed class Options : HamiltonianFlowOptionsBase
    {
        /// <summary>Output column of <see cref="HamiltonianFlowTransformer"/>: the log-likelihood (Single, nats). Default "LogLikelihood".</summary>
        public string OutputColumnName { get; set; } = FlowDefaults.LogLikelihoodColumnName;

        internal override void Validate()
        {
            if (string.IsNullOrEmpty(OutputColumnName))
                throw new ArgumentException($"{nameof(OutputColumnName)} must be set.", nameof(OutputColumnName));
            base.Validate();
        }
    }

    private readonly IHost host;
    private readonly Options options;

    internal HamiltonianFlowTrainer(IHostEnvironment env, Options options)
    {
        Contracts.CheckValue(env, nameof(env));
        host = env.Register(nameof(HamiltonianFlowTrainer));
        host.CheckValue(options, nameof(options));
        MLNetVersionGuard.EnsureSupported();
        this.options = options.ValidatedCopy<Options>();
    }

    /// <summary>Trains the flow on the feature column of <paramref name="input"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The feature column is missing or of an unsupported type.</exception>
    /// <exception cref="ArgumentException">No row has finite features (the engine throws the same for a tensor).</exception>
    public HamiltonianFlowTransformer Fit(IDataView input)
    {
        host.CheckValue(input, nameof(input));
        var fitted = FlowFitting.Fit(host, input, options, heldOutScores: false);
        return new HamiltonianFlowTransformer(host, fitted.Model, fitted.Feature, options.OutputColumnName);
    }

    /// <summary>The input schema with the Single log-likelihood column added.</summary>
    public SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        host.CheckValue(inputSchema, nameof(inputSchema));
        FeatureColumn.Check(inputSchema, options.FeatureColumnName);
        var columns = inputSchema.ToDictionary(c => c.Name);
        columns[options.OutputColumnName] = new SchemaShape.Column(
            options.OutputColumnName, SchemaShape.Column.VectorKind.Scalar, NumberDataViewType.Single, false);
        return new SchemaShape(columns.Values);
    }
}
