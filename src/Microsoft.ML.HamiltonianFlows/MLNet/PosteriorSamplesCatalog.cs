using Microsoft.ML.Data;
using Microsoft.ML.HamiltonianFlows.Inference;
using Microsoft.ML.Runtime;

namespace Microsoft.ML;

/// <summary>Posterior draws of a <see cref="PosteriorFlow"/> as ML.NET data.</summary>
public static class PosteriorSamplesCatalog
{
    /// <summary>
    /// A view with one row per draw: one Single column per parameter, named by <paramref name="parameterNames"/>; a
    /// known-size Single vector column <paramref name="vectorColumnName"/> holding all of them; and the draw's log
    /// importance weight as the Double column <paramref name="logWeightColumnName"/>.
    /// </summary>
    /// <param name="catalog">The data operations catalog.</param>
    /// <param name="samples">Draws from <see cref="PosteriorFlow.Sample"/>.</param>
    /// <param name="parameterNames">One distinct column name per parameter; null names them Parameter0, Parameter1, ...</param>
    /// <param name="vectorColumnName">Name of the vector column.</param>
    /// <param name="logWeightColumnName">Name of the log-weight column.</param>
    public static IDataView LoadFromPosteriorSamples(this DataOperationsCatalog catalog, PosteriorSamples samples,
        IReadOnlyList<string>? parameterNames = null, string vectorColumnName = "Parameters", string logWeightColumnName = "LogWeight")
    {
        IHostEnvironment env = CatalogUtils.GetEnvironment(catalog);
        env.CheckValue(samples, nameof(samples));
        int d = samples.Dimension, n = samples.Count;
        var names = parameterNames ?? Enumerable.Range(0, d).Select(j => $"Parameter{j}").ToArray();
        env.CheckParam(names.Count == d, nameof(parameterNames), $"needs one name per parameter ({d}), got {names.Count}");
        var all = names.Append(vectorColumnName).Append(logWeightColumnName).ToList();
        string? repeated = all.GroupBy(name => name).FirstOrDefault(g => g.Count() > 1)?.Key;
        // Named after the argument that repeats a name: one of the two column names where it is either, else the parameters'.
        string argument = repeated == vectorColumnName ? nameof(vectorColumnName)
            : repeated == logWeightColumnName ? nameof(logWeightColumnName) : nameof(parameterNames);
        env.CheckParam(repeated is null, argument, $"column name '{repeated}' is used twice");

        var builder = new ArrayDataViewBuilder(env);
        for (int j = 0; j < d; j++)
        {
            var column = new float[n];
            for (int i = 0; i < n; i++)
                column[i] = (float)samples.Values[i * d + j];
            builder.AddColumn(names[j], NumberDataViewType.Single, column);
        }
        var rows = new float[n][];
        for (int i = 0; i < n; i++)
            rows[i] = samples.Values.AsSpan(i * d, d).ToArray().Select(v => (float)v).ToArray();
        builder.AddColumn(vectorColumnName, NumberDataViewType.Single, rows);
        builder.AddColumn(logWeightColumnName, NumberDataViewType.Double, samples.LogWeights.ToArray());
        return builder.GetDataView(n);
    }
}
