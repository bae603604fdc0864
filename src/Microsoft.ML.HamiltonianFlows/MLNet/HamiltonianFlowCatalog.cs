using Microsoft.ML.Data;
using Microsoft.ML.HamiltonianFlows;
using Microsoft.ML.HamiltonianFlows.Training;
using Microsoft.ML.Runtime;

namespace Microsoft.ML;

/// <summary>Entry points of Neural Hamiltonian Flows in ML.NET's catalogs.</summary>
public static class HamiltonianFlowCatalog
{
    /// <summary>
    /// Fits a Neural Hamiltonian Flow density model to <paramref name="featureColumnName"/> and adds each row's
    /// log-likelihood (Single, nats, in the units of the feature column) as <paramref name="outputColumnName"/>.
    /// </summary>
    /// <param name="catalog">The transforms catalog.</param>
    /// <param name="outputColumnName">Name of the log-likelihood column.</param>
    /// <param name="featureColumnName">A known-size vector of Single or Double, or a Single scalar.</param>
    /// <param name="maxSteps">Optimiser steps at most; null chooses them by the number of training rows (<see cref="HamiltonianFlowOptionsBase.MaxSteps"/>).</param>
    /// <param name="hiddenLayers">Hidden widths of the networks; null keeps the default (<see cref="HamiltonianFlowOptionsBase.HiddenLayers"/>).</param>
    /// <param name="leapfrogSteps">Leapfrog steps per Hamiltonian (<see cref="HamiltonianFlowOptionsBase.LeapfrogSteps"/>).</param>
    /// <param name="seed">Seed; null derives one from the <see cref="MLContext"/>'s seed.</param>
    public static HamiltonianFlowTrainer HamiltonianFlow(this TransformsCatalog catalog,
        string outputColumnName = FlowDefaults.LogLikelihoodColumnName, string featureColumnName = FlowDefaults.FeatureColumnName,
        long? maxSteps = null, int[]? hiddenLayers = null, int leapfrogSteps = FlowDefaults.LeapfrogSteps, int? seed = null) =>
        catalog.HamiltonianFlow(Configure(new HamiltonianFlowTrainer.Options { OutputColumnName = outputColumnName },
            featureColumnName, maxSteps, hiddenLayers, leapfrogSteps, seed));

    /// <summary>Fits a Neural Hamiltonian Flow density model with all options given.</summary>
    /// <param name="catalog">The transforms catalog.</param>
    /// <param name="options">The trainer's options.</param>
    public static HamiltonianFlowTrainer HamiltonianFlow(this TransformsCatalog catalog, HamiltonianFlowTrainer.Options options) =>
        new(CatalogUtils.GetEnvironment(catalog), options);

    /// <summary>
    /// Anomaly detection by density: Score is the negative log-likelihood under a Neural Hamiltonian Flow fitted to
    /// the training rows, PredictedLabel is Score above the (1 - <paramref name="contamination"/>) quantile of the
    /// scores of the training rows held out for validation.
    /// </summary>
    /// <param name="catalog">The anomaly detection trainers catalog.</param>
    /// <param name="featureColumnName">A known-size vector of Single or Double, or a Single scalar.</param>
    /// <param name="contamination">Expected fraction of anomalies, in (0, 1); sets the threshold (<see cref="HamiltonianFlowAnomalyTrainer.Options.Contamination"/>).</param>
    /// <param name="maxSteps">Optimiser steps at most; null chooses them by the number of training rows (<see cref="HamiltonianFlowOptionsBase.MaxSteps"/>).</param>
    /// <param name="hiddenLayers">Hidden widths of the networks; null keeps the default (<see cref="HamiltonianFlowOptionsBase.HiddenLayers"/>).</param>
    /// <param name="leapfrogSteps">Leapfrog steps per Hamiltonian (<see cref="HamiltonianFlowOptionsBase.LeapfrogSteps"/>).</param>
    /// <param name="seed">Seed; null derives one from the <see cref="MLContext"/>'s seed.</param>
    public static HamiltonianFlowAnomalyTrainer HamiltonianFlow(this AnomalyDetectionCatalog.AnomalyDetectionTrainers catalog,
        string featureColumnName = FlowDefaults.FeatureColumnName, double contamination = FlowDefaults.Contamination,
        long? maxSteps = null, int[]? hiddenLayers = null, int leapfrogSteps = FlowDefaults.LeapfrogSteps, int? seed = null) =>
        catalog.HamiltonianFlow(Configure(new HamiltonianFlowAnomalyTrainer.Options { Contamination = contamination },
            featureColumnName, maxSteps, hiddenLayers, leapfrogSteps, seed));

    /// <summary>Anomaly detection by density with all options given.</summary>
    /// <param name="catalog">The anomaly detection trainers catalog.</param>
    /// <param name="options">The detector's options.</param>
    public static HamiltonianFlowAnomalyTrainer HamiltonianFlow(this AnomalyDetectionCatalog.AnomalyDetectionTrainers catalog,
        HamiltonianFlowAnomalyTrainer.Options options) =>
        new(CatalogUtils.GetEnvironment(catalog), options);

    /// <summary>
    /// The detector with another threshold on the score (nats): ML.NET's <c>ChangeModelThreshold</c> for this library's
    /// detector. The result shares the detector's flow.
    /// </summary>
    public static HamiltonianFlowAnomalyTransformer ChangeModelThreshold(this AnomalyDetectionCatalog catalog,
        HamiltonianFlowAnomalyTransformer model, float threshold)
    {
        Contracts.CheckValue(catalog, nameof(catalog));
        Contracts.CheckValue(model, nameof(model));
        return model.WithThreshold(threshold);
    }

    private static TOptions Configure<TOptions>(TOptions options, string featureColumnName, long? maxSteps, int[]? hiddenLayers,
        int leapfrogSteps, int? seed) where TOptions : HamiltonianFlowOptionsBase
    {
        options.FeatureColumnName = featureColumnName;
        options.MaxSteps = maxSteps;
        if (hiddenLayers is not null)
            options.HiddenLayers = hiddenLayers;
        options.LeapfrogSteps = leapfrogSteps;
        options.Seed = seed;
        return options;
    }
}
