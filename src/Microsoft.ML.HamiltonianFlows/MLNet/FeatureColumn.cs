using Microsoft.ML.HamiltonianFlows.Training;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;

namespace Microsoft.ML.HamiltonianFlows;

/// <summary>
/// The feature column a flow reads: its name, how its values are stored and the dimension d of the flow.
/// Accepts a known-size vector of Single or Double, or a Single scalar (d = 1).
/// </summary>
internal sealed record FeatureColumn(string Name, FeatureColumn.Storage Kind, int Dimension)
{
    /// <summary>How the column stores a row (the values are written to model files: never renumber).</summary>
    internal enum Storage
    {
        SingleVector = 1,
        DoubleVector = 2,
        SingleScalar = 3,
    }

    private const string Expected = "a known-size vector of Single or Double, or a Single scalar";

    /// <summary>The column's type as ML.NET describes it.</summary>
    internal DataViewType Type => Kind switch
    {
        Storage.SingleVector => new VectorDataViewType(NumberDataViewType.Single, Dimension),
        Storage.DoubleVector => new VectorDataViewType(NumberDataViewType.Double, Dimension),
        _ => NumberDataViewType.Single,
    };

    /// <summary>Finds <paramref name="name"/> in <paramref name="schema"/> and checks its type (and its dimension when given).</summary>
    /// <exception cref="ArgumentOutOfRangeException">The column is missing, of another type, or of another size.</exception>
    internal static FeatureColumn Bind(DataViewSchema schema, string name, int? dimension = null)
    {
        var column = schema.GetColumnOrNull(name)
            ?? throw new ArgumentOutOfRangeException(nameof(schema),
                $"Feature column '{name}' not found in the input schema{Available(schema.Where(c => !c.IsHidden).Select(c => c.Name), fitted: dimension is not null)}.");
        var feature = FromType(name, column.Type);
        if (dimension is int d && feature.Dimension != d)
            throw new ArgumentOutOfRangeException(nameof(schema),
                $"Feature column '{name}' has type {column.Type} ({feature.Dimension} values per row); the model was trained on {d}.");
        return feature;
    }

    /// <summary>Writes the description a saved transformer keeps: name, storage, dimension.</summary>
    internal void Write(BinaryWriter writer)
    {
        writer.Write(Name);
        writer.Write((int)Kind);
        writer.Write(Dimension);
    }

    /// <summary>Reads what <see cref="Write"/> wrote, refusing a description no column can have.</summary>
    internal static FeatureColumn Read(IExceptionContext env, BinaryReader reader)
    {
        string name = reader.ReadString();
        var storage = (Storage)reader.ReadInt32();
        int dimension = reader.ReadInt32();
        env.CheckDecode(Enum.IsDefined(storage) && dimension >= 1 && (storage != Storage.SingleScalar || dimension == 1),
            $"Invalid feature column description: storage {storage}, dimension {dimension}.");
        return new FeatureColumn(name, storage, dimension);
    }

    /// <summary>The estimator-time check of <see cref="Bind"/>, on a schema shape.</summary>
    internal static void Check(SchemaShape schema, string name)
    {
        if (!schema.TryFindColumn(name, out var column))
            throw new ArgumentOutOfRangeException(nameof(schema),
                $"Feature column '{name}' not found in the input schema{Available(schema.Select(c => c.Name), fitted: false)}.");
        bool single = column.ItemType == NumberDataViewType.Single;
        bool ok = column.Kind switch
        {
            SchemaShape.Column.VectorKind.Vector => single || column.ItemType == NumberDataViewType.Double,
            SchemaShape.Column.VectorKind.Scalar => single,
            _ => false,
        };
        if (!ok)
            throw new ArgumentOutOfRangeException(nameof(schema),
                $"Feature column '{name}' has type {Describe(column)}; expected {Expected}.{Hint(column.Kind == SchemaShape.Column.VectorKind.VariableVector, column.Kind == SchemaShape.Column.VectorKind.Scalar, column.ItemType)}");
    }

    // The input's columns, so that a misspelt name or the default "Features" on a view without it is quick to mend. A fitted
    // model reads the column it was trained on; a trainer reads the one its options name.
    private static string Available(IEnumerable<string> names, bool fitted)
    {
        var list = names.Distinct().ToList();
        return list.Count == 0 ? "" : $" (its columns: {string.Join(", ", list.Take(20))}{(list.Count > 20 ? ", ..." : "")}; " +
            (fitted ? "a fitted model reads the column it was trained on, so the input must hold it under that name)"
                    : "the trainer's featureColumnName or Options.FeatureColumnName names the one to read)");
    }

    // What turns the column into one the flow reads: its item type made Single or Double, then its size declared.
    private static string Hint(bool variableSize, bool scalar, DataViewType itemType)
    {
        string convert = itemType switch
        {
            // Only a vector may hold Doubles: a scalar one is made a vector of one, or converted.
            NumberDataViewType n when n == NumberDataViewType.Double && scalar =>
                " Make it a vector of one Double with mlContext.Transforms.Concatenate, or convert it: mlContext.Transforms.Conversion.ConvertType(..., outputKind: DataKind.Single).",
            NumberDataViewType n when n == NumberDataViewType.Single || n == NumberDataViewType.Double => "",
            TextDataViewType => " Text needs turning into numbers first, e.g. mlContext.Transforms.Text.FeaturizeText or Categorical.OneHotEncoding.",
            KeyDataViewType => " A key needs mapping first: mlContext.Transforms.Conversion.MapKeyToValue, MapKeyToVector or Categorical.OneHotEncoding.",
            NumberDataViewType or BooleanDataViewType => " Convert it first: mlContext.Transforms.Conversion.ConvertType(..., outputKind: DataKind.Single).",
            _ => "",
        };
        return convert + (variableSize
            ? " Declare its size: [VectorType(d)] on the property of a class loaded with LoadFromEnumerable, or a column range in a text loader."
            : "");
    }

    private static FeatureColumn FromType(string name, DataViewType type)
    {
        if (type is VectorDataViewType { IsKnownSize: true, Size: > 0 } vector)
        {
            if (vector.ItemType == NumberDataViewType.Single)
                return new FeatureColumn(name, Storage.SingleVector, vector.Size);
            if (vector.ItemType == NumberDataViewType.Double)
                return new FeatureColumn(name, Storage.DoubleVector, vector.Size);
        }
        else if (type == NumberDataViewType.Single)
        {
            return new FeatureColumn(name, Storage.SingleScalar, 1);
        }
        throw new ArgumentOutOfRangeException(nameof(type), $"Feature column '{name}' has type {type}; expected {Expected}." +
            Hint(type is VectorDataViewType { IsKnownSize: false }, type is not VectorDataViewType, type.GetItemType()));
    }

    private static string Describe(SchemaShape.Column column) => column.Kind switch
    {
        SchemaShape.Column.VectorKind.VariableVector => $"Vector<{column.ItemType}> of variable size",
        SchemaShape.Column.VectorKind.Vector => $"Vector<{column.ItemType}>",
        _ => $"{column.ItemType}",
    };

    // A vector column's type promises its size, but a view can break the promise (LoadFromEnumerable passes on an array of
    // any length under [VectorType(d)]): a longer row would fail deep in VBuffer.CopyTo without a name, a shorter one would
    // leave the previous row's values in the rest of the span.
    // The position is the row's index for a cursor, the count of earlier rows for a prediction engine's input.
    private void CheckLength(DataViewRow row, DataViewType type, int length)
    {
        if (length != Dimension)
            throw new InvalidOperationException(
                $"Feature column '{Name}' holds {length} values at row position {row.Position}, but its type {type} declares {Dimension}.");
    }

    // A finite Double beyond Single's range becomes the largest Single of its sign, not infinity: the row is finite, and
    // is scored as the very unlikely row it is (a Single row there scores so), not NaN as a row with a missing value
    // is; in training the gross-outlier rule sets it aside. NaN and infinities stay what they are.
    private static float ToSingle(double value) =>
        double.IsFinite(value) ? (float)Math.Clamp(value, -float.MaxValue, float.MaxValue) : (float)value;

    /// <summary>
    /// Returns a function that copies the current row of <paramref name="row"/> into a span of length d (as Single)
    /// and says whether every value is finite; it throws <see cref="InvalidOperationException"/>, naming the column and
    /// row, where a vector row holds another number of values than the column's type declares.
    /// </summary>
    internal Func<Span<float>, bool> MakeReader(DataViewRow row)
    {
        var column = row.Schema[Name];
        // Read as the row's column stores its values, which may differ from the training column's storage (Double rows
        // for a flow trained on Single ones): binding checked the size, not the item type.
        switch (FromType(Name, column.Type).Kind)
        {
            case Storage.SingleVector:
            {
                var getter = row.GetGetter<VBuffer<float>>(column);
                VBuffer<float> buffer = default;
                return destination =>
                {
                    getter(ref buffer);
                    CheckLength(row, column.Type, buffer.Length);
                    buffer.CopyTo(destination);
                    return FiniteValues.AllFinite(destination);
                };
            }
            case Storage.DoubleVector:
            {
                var getter = row.GetGetter<VBuffer<double>>(column);
                VBuffer<double> buffer = default;
                var values = new double[Dimension];
                return destination =>
                {
                    getter(ref buffer);
                    CheckLength(row, column.Type, buffer.Length);
                    buffer.CopyTo(values);
                    for (int i = 0; i < values.Length; i++)
                        destination[i] = ToSingle(values[i]);
                    return FiniteValues.AllFinite(destination);
                };
            }
            default:
            {
                var getter = row.GetGetter<float>(column);
                float value = 0;
                return destination =>
                {
                    getter(ref value);
                    destination[0] = value;
                    return float.IsFinite(value);
                };
            }
        }
    }
}
