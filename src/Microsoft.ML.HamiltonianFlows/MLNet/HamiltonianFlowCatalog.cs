using Microsoft.ML.Data;
using Microsoft.ML.HamiltonianFlows;
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
    /// <param name="maxSteps">Optimiser steps at most; null keeps the default of <see cref="HamiltonianFlowTrainer.Options.MaxSteps"/>.</param>
    /// <param name="hiddenLayers">Hidden widths of the networks; null keeps the default of <see cref="HamiltonianFlowTrainer.Options.HiddenLayers"/>.</param>
    /// <param name="leapfrogSteps">Leapfrog steps; null keeps the default of <see cref="HamiltonianFlowTrainer.Options.LeapfrogSteps"/>.</param>
    /// <param name="seed">Seed; null derives one from the <see cref="MLContext"/>'s seed.</param>
    public static HamiltonianFlowTrainer HamiltonianFlow(this TransformsCatalog catalog,
        string outputColumnName = "LogLikelihood", string featureColumnName = "Features",
        long? maxSteps = null, int[]? hiddenLayers = null, int? leapfrogSteps = null, int? seed = null) =>
        catalog.HamiltonianFlow(MakeOptions(featureColumnName, maxSteps, hiddenLayers, leapfrogSteps, seed, outputColumnName));

    /// <summary>Fits a Neural Hamiltonian Flow density model with all options given.</summary>
    /// <param name="catalog">The transforms catalog.</param>
    /// <param name="options">The trainer's options.</param>
    public static HamiltonianFlowTrainer HamiltonianFlow(this TransformsCatalog catalog, HamiltonianFlowTrainer.Options options) =>
        new(CatalogUtils.GetEnvironment(catalog), options);

    /// <summary>
    /// Anomaly detection by density: Score is the negative log-likelihood under a Neural Hamiltonian Flow fitted to
    /// the training rows, PredictedLabel is Score above the (1 - <paramref name="contamination"/>) quantile of the
    /// training scores.
    /// </summary>
    /// <param name="catalog">The anomaly detection trainers catalog.</param>
    /// <param name="featureColumnName">A known-size vector of Single.</param>
    /// <param name="contamination">Expected fraction of anomalies, in (0, 1); sets the threshold.</param>
    /// <param name="maxSteps">Optimiser steps at most; null keeps the default of <see cref="HamiltonianFlowTrainer.Options.MaxSteps"/>.</param>
    /// <param name="hiddenLayers">Hidden widths of the networks; null keeps the default of <see cref="HamiltonianFlowTrainer.Options.HiddenLayers"/>.</param>
    /// <param name="leapfrogSteps">Leapfrog steps; null keeps the default of <see cref="HamiltonianFlowTrainer.Options.LeapfrogSteps"/>.</param>
    /// <param name="seed">Seed; null derives one from the <see cref="MLContext"/>'s seed.</param>
    public static HamiltonianFlowAnomalyTrainer HamiltonianFlow(this AnomalyDetectionCatalog.AnomalyDetectionTrainers catalog,
        string featureColumnName = "Features", double contamination = 0.05,
        long? maxSteps = null, int[]? hiddenLayers = null, int? leapfrogSteps = null, int? seed = null) =>
        catalog.HamiltonianFlow(MakeOptions(featureColumnName, maxSteps, hiddenLayers, leapfrogSteps, seed), contamination);

    /// <summary>Anomaly detection by density with all options given.</summary>
    /// <param name="catalog">The anomaly detection trainers catalog.</param>
    /// <param name="options">The flow's options (the output column name is not used: the outputs are Score and PredictedLabel).</param>
    /// <param name="contamination">Expected fraction of anomalies, in (0, 1); sets the threshold.</param>
    public static HamiltonianFlowAnomalyTrainer HamiltonianFlow(this AnomalyDetectionCatalog.AnomalyDetectionTrainers catalog,
        HamiltonianFlowTrainer.Options options, double contamination = 0.05) =>
        new(CatalogUtils.GetEnvironment(catalog), options, contamination);

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

    private static HamiltonianFlowTrainer.Options MakeOptions(
        string featureColumnName, long? maxSteps, int[]? hiddenLayers, int? leapfrogSteps, int? seed, string? outputColumnName = null)
    {
        var options = new HamiltonianFlowTrainer.Options { FeatureColumnName = featureColumnName, Seed = seed };
        if (outputColumnName is not null)
            options.OutputColumnName = outputColumnName;
        if (maxSteps is long steps)
            options.MaxSteps = steps;
        if (hiddenLayers is not null)
            options.HiddenLayers = hiddenLayers;
        if (leapfrogSteps is int l)
            options.LeapfrogSteps = l;
        return options;
    }
}
