using System.Globalization;
using Microsoft.ML;
using Microsoft.ML.Data;

// Usage: ModelLoadCheck <model.zip> <data.idv> <output.txt> <column>...
// Writes one line per row: the bits of each named column (Single as hex, Boolean as 0/1), tab separated.
if (args.Length < 4)
{
    Console.Error.WriteLine("Usage: ModelLoadCheck <model.zip> <data.idv> <output.txt> <column>...");
    return 2;
}
var ml = new MLContext(seed: 123);
ITransformer model = ml.Model.Load(args[0], out _);
IDataView scored = model.Transform(ml.Data.LoadFromBinary(args[1]));
var columns = args[3..].Select(name => scored.Schema[name]).ToArray();
using var writer = new StreamWriter(args[2]);
using var cursor = scored.GetRowCursor(columns);
var readers = columns.Select(Reader).ToArray();
while (cursor.MoveNext())
    writer.WriteLine(string.Join('\t', readers.Select(read => read())));
return 0;

Func<string> Reader(DataViewSchema.Column column)
{
    if (column.Type == BooleanDataViewType.Instance)
    {
        var getter = cursor.GetGetter<bool>(column);
        return () => { bool v = false; getter(ref v); return v ? "1" : "0"; };
    }
    var single = cursor.GetGetter<float>(column);
    return () => { float v = 0; single(ref v); return BitConverter.SingleToUInt32Bits(v).ToString("X8", CultureInfo.InvariantCulture); };
}
