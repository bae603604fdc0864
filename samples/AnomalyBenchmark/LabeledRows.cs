using Microsoft.ML;
using Microsoft.ML.Data;

namespace AnomalyBenchmark;

/// <summary>One row of a set as ML.NET sees it.</summary>
internal sealed class LabeledRow
{
    public float Label { get; set; }

    public float[] Features { get; set; } = Array.Empty<float>();
}

/// <summary>Rows in memory, for the checks that add rows to a training file.</summary>
internal static class LabeledRows
{
    public static List<LabeledRow> Read(MLContext ml, IDataView view) =>
        ml.Data.CreateEnumerable<LabeledRow>(view, reuseRowObject: false).ToList();

    /// <summary>The rows with only the given features, in that order.</summary>
    public static List<LabeledRow> Select(IEnumerable<LabeledRow> rows, int[] features) =>
        rows.Select(r => new LabeledRow { Label = r.Label, Features = features.Select(j => r.Features[j]).ToArray() }).ToList();

    public static IDataView ToDataView(MLContext ml, IEnumerable<LabeledRow> rows, int dimension)
    {
        var schema = SchemaDefinition.Create(typeof(LabeledRow));
        schema[nameof(LabeledRow.Features)].ColumnType = new VectorDataViewType(NumberDataViewType.Single, dimension);
        return ml.Data.LoadFromEnumerable(rows, schema);
    }
}
