using Microsoft.ML.Data;
using Microsoft.ML.HamiltonianFlows.Training;
using Microsoft.ML.Runtime;

namespace Microsoft.ML.HamiltonianFlows;

/// <summary>
/// The feature column of a view as <see cref="StreamedRows"/>: each pass opens a cursor, keyed by the row id
/// (which ML.NET keeps per row whatever the order). The storage-order pass counts the finite rows and reports
/// the others, once.
/// </summary>
internal sealed class DataViewRows : StreamedRows
{
    private readonly IChannel ch;
    private readonly IDataView data;
    private readonly FeatureColumn feature;
    private readonly int poolRows;
    private bool reported;

    public DataViewRows(IChannel ch, IDataView data, FeatureColumn feature, int poolRows)
    {
        this.ch = ch;
        this.data = data;
        this.feature = feature;
        this.poolRows = poolRows;
    }

    public override int Dimension => feature.Dimension;

    public override IEnumerable<StreamedRow> Read(int? shuffleSeed)
    {
        var columns = new[] { data.Schema[feature.Name] };
        // A view that shuffles itself does it best; otherwise a bounded pool shuffles the storage order locally.
        if (shuffleSeed is int seed && !data.CanShuffle)
            return Pooled(ReadCursor(() => data.GetRowCursor(columns), counting: false), new Random(seed));
        return ReadCursor(() => shuffleSeed is int s ? data.GetRowCursor(columns, new Random(s)) : data.GetRowCursor(columns),
            counting: shuffleSeed is null && !reported);
    }

    // The cursor is opened when the rows are first enumerated, and by each enumeration its own, so that one never
    // enumerated holds none and one enumerated twice does not read a disposed cursor.
    private IEnumerable<StreamedRow> ReadCursor(Func<DataViewRowCursor> open, bool counting)
    {
        using (var cursor = open())
        {
            var read = feature.MakeReader(cursor);
            var id = cursor.GetIdGetter();
            DataViewRowId rowId = default;
            var row = new float[feature.Dimension];
            long finite = 0, skipped = 0;
            while (cursor.MoveNext())
            {
                // The engine skips non-finite rows itself; they are only counted here.
                if (read(row))
                    finite++;
                else
                    skipped++;
                id(ref rowId);
                yield return new StreamedRow(rowId.Low ^ (rowId.High * SplitMix64.Increment), row);
            }
            if (counting)
            {
                reported = true;
                FlowFitting.ReportSkipped(ch, feature, finite, skipped);
            }
        }
    }

    /// <summary>
    /// Local shuffle of a stream: each arriving row takes the place of a random row of a full pool, which is
    /// emitted; the pool's rest is emitted in random order at the end.
    /// </summary>
    private IEnumerable<StreamedRow> Pooled(IEnumerable<StreamedRow> rows, Random random)
    {
        var pool = new List<StreamedRow>(poolRows);
        foreach (var row in rows)
        {
            // The cursor reuses its buffer, and the pool holds rows across reads.
            var copy = new StreamedRow(row.Key, (float[])row.Values.Clone());
            if (pool.Count < poolRows)
            {
                pool.Add(copy);
                continue;
            }
            int i = random.Next(poolRows);
            yield return pool[i];
            pool[i] = copy;
        }
        for (int n = pool.Count; n > 0; n--)
        {
            int i = random.Next(n);
            yield return pool[i];
            pool[i] = pool[n - 1];
        }
    }
}
