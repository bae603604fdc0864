using System.Text.Json;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace AnomalyBenchmark;

/// <summary>
/// One of the five UCI sets of data/ (README.md there): NAME.train.csv holds normal rows only, NAME.test.csv held-out
/// normal rows and anomalies; column 0 is Label (Single, 1 = anomaly), the rest are the features.
/// </summary>
internal sealed record TabularSet(string Name, int Dimension, IReadOnlyDictionary<string, double> PeerAuroc)
{
    public static readonly string[] Names = { "ionosphere", "pima", "vehicle", "satellite", "shuttle" };

    /// <summary>The classic detectors' test AUROC on the same splits (scikit-learn, data/peers.json), by method.</summary>
    public static IReadOnlyList<TabularSet> Load(string dataFolder, IEnumerable<string> names)
    {
        using var peers = JsonDocument.Parse(File.ReadAllText(Path.Combine(dataFolder, "peers.json")));
        return names.Select(name =>
        {
            if (!peers.RootElement.TryGetProperty(name, out var set))
                throw new ArgumentException($"Unknown set '{name}'; the sets are {string.Join(", ", Names)}.");
            var auroc = set.GetProperty("auroc").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetDouble());
            return new TabularSet(name, set.GetProperty("dim").GetInt32(), auroc);
        }).ToList();
    }

    public IDataView Train(MLContext ml, string dataFolder) => Read(ml, Path.Combine(dataFolder, $"{Name}.train.csv"));

    public IDataView Test(MLContext ml, string dataFolder) => Read(ml, Path.Combine(dataFolder, $"{Name}.test.csv"));

    private IDataView Read(MLContext ml, string path) =>
        ml.Data.LoadFromTextFile(path, new[]
        {
            new TextLoader.Column("Label", DataKind.Single, 0),
            new TextLoader.Column("Features", DataKind.Single, 1, Dimension),
        }, separatorChar: ',');
}
