using Microsoft.ML.Data;
using Microsoft.ML.Runtime;
using Xunit;

namespace Microsoft.ML.HamiltonianFlows.Tests;

/// <summary>
/// A cursor holds its view's resources (a file, a loader's threads) until disposed: the library's views must dispose
/// every cursor they open, also when opening another one fails, and open none they do not read.
/// </summary>
[Collection(TorchGlobalGeneratorCollection.Name)]
public class CursorLifetimeTests
{
    /// <summary>A view that counts the cursors opened on it and those disposed, and can refuse to open its n-th cursor.</summary>
    private sealed class CountingView(IDataView inner, int? refuseCursor = null) : IDataView
    {
        public int Opened { get; private set; }
        public int Disposed { get; internal set; }

        public bool CanShuffle => inner.CanShuffle;
        public DataViewSchema Schema => inner.Schema;
        public long? GetRowCount() => inner.GetRowCount();

        public DataViewRowCursor GetRowCursor(IEnumerable<DataViewSchema.Column> columnsNeeded, Random? rand = null)
        {
            if (Opened + 1 == refuseCursor)
                throw new InvalidOperationException($"cursor {refuseCursor} refused");
            Opened++;
            return new CountingCursor(this, inner.GetRowCursor(columnsNeeded, rand));
        }

        public DataViewRowCursor[] GetRowCursorSet(IEnumerable<DataViewSchema.Column> columnsNeeded, int n, Random? rand = null) =>
            new[] { GetRowCursor(columnsNeeded, rand) };
    }

    private sealed class CountingCursor(CountingView view, DataViewRowCursor inner) : DataViewRowCursor
    {
        private bool disposed;
        public override DataViewSchema Schema => inner.Schema;
        public override long Position => inner.Position;
        public override long Batch => inner.Batch;
        public override bool MoveNext() => inner.MoveNext();
        public override ValueGetter<DataViewRowId> GetIdGetter() => inner.GetIdGetter();
        public override bool IsColumnActive(DataViewSchema.Column column) => inner.IsColumnActive(column);
        public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column) => inner.GetGetter<TValue>(column);

        protected override void Dispose(bool disposing)
        {
            if (!disposed && disposing)
            {
                inner.Dispose();
                view.Disposed++;
            }
            disposed = true;
            base.Dispose(disposing);
        }
    }

    /// <summary>A view whose cursor number <paramref name="shortCursor"/> (1-based, in opening order) ends after <paramref name="rows"/> rows.</summary>
    private sealed class ShortCursorView(IDataView inner, int shortCursor, int rows) : IDataView
    {
        private int opened;
        public bool CanShuffle => false;
        public DataViewSchema Schema => inner.Schema;
        public long? GetRowCount() => null;

        public DataViewRowCursor GetRowCursor(IEnumerable<DataViewSchema.Column> columnsNeeded, Random? rand = null)
        {
            var cursor = inner.GetRowCursor(columnsNeeded);
            return ++opened == shortCursor ? new ShortCursor(cursor, rows) : cursor;
        }

        public DataViewRowCursor[] GetRowCursorSet(IEnumerable<DataViewSchema.Column> columnsNeeded, int n, Random? rand = null) =>
            new[] { GetRowCursor(columnsNeeded, rand) };
    }

    private sealed class ShortCursor(DataViewRowCursor inner, int rows) : DataViewRowCursor
    {
        public override DataViewSchema Schema => inner.Schema;
        public override long Position => inner.Position;
        public override long Batch => inner.Batch;
        public override bool MoveNext() => inner.Position + 1 < rows && inner.MoveNext();
        public override ValueGetter<DataViewRowId> GetIdGetter() => inner.GetIdGetter();
        public override bool IsColumnActive(DataViewSchema.Column column) => inner.IsColumnActive(column);
        public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column) => inner.GetGetter<TValue>(column);

        protected override void Dispose(bool disposing)
        {
            if (disposing)
                inner.Dispose();
            base.Dispose(disposing);
        }
    }

    /// <summary>An enumerable whose every enumeration continues one shared enumerator: it can be enumerated once in all.</summary>
    private sealed class EnumeratedOnce<T>(IEnumerable<T> items) : IEnumerable<T>
    {
        private readonly IEnumerator<T> shared = items.GetEnumerator();

        public IEnumerator<T> GetEnumerator()
        {
            while (shared.MoveNext())
                yield return shared.Current;
        }

        System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
    }

    private static int ReadScores(IDataView scored)
    {
        using var cursor = scored.GetRowCursor(scored.Schema);
        var score = cursor.GetGetter<float>(scored.Schema["LogLikelihood"]);
        float value = 0;
        int count = 0;
        while (cursor.MoveNext())
        {
            score(ref value);
            count++;
        }
        return count;
    }

    [Theory]
    [InlineData(1, "fewer rows to a second cursor")] // the look-ahead, opened first, ends early
    [InlineData(2, "more rows to a second cursor")] // the rows' own cursor ends early: its rows were served in full before
    public void ScoringFailsWhereTheInputGivesItsTwoCursorsDifferentRows(int shortCursor, string message)
    {
        var ml = new MLContext(seed: 1);
        using var model = ml.Transforms.HamiltonianFlow(HamiltonianFlowTransformerTests.SmallOptions()).Fit(Points(ml, 200));
        var error = Assert.Throws<InvalidOperationException>(() => ReadScores(model.Transform(new ShortCursorView(Points(ml, 20), shortCursor, rows: 10))));
        Assert.Contains(message, error.Message);
        Assert.Contains("AppendCacheCheckpoint", error.Message);
        // Ending together is no fault.
        Assert.Equal(20, ReadScores(model.Transform(new ShortCursorView(Points(ml, 20), shortCursor, rows: 20))));
    }

    [Fact]
    public void AnInputThatCanBeEnumeratedOnceFailsToScoreInsteadOfLosingRows()
    {
        var ml = new MLContext(seed: 1);
        using var model = ml.Transforms.HamiltonianFlow(HamiltonianFlowTransformerTests.SmallOptions()).Fit(Points(ml, 200));
        var points = Enumerable.Range(0, 64).Select(i => new HamiltonianFlowTransformerTests.Point { Features = new[] { (float)Math.Sin(i), (float)Math.Cos(3 * i) } });
        // The look-ahead cursor took 63 of the 64 rows: one row came out, with another row's score, and no error.
        var error = Assert.Throws<InvalidOperationException>(() => ReadScores(model.Transform(ml.Data.LoadFromEnumerable(new EnumeratedOnce<HamiltonianFlowTransformerTests.Point>(points)))));
        Assert.Contains("ToList", error.Message);
        Assert.Equal(64, ReadScores(model.Transform(ml.Data.LoadFromEnumerable(points.ToList()))));
    }

    /// <summary>A view that says it holds <paramref name="count"/> rows, whatever its cursors return.</summary>
    private sealed class MiscountedView(IDataView inner, long count) : IDataView
    {
        public bool CanShuffle => inner.CanShuffle;
        public DataViewSchema Schema => inner.Schema;
        public long? GetRowCount() => count;
        public DataViewRowCursor GetRowCursor(IEnumerable<DataViewSchema.Column> columnsNeeded, Random? rand = null) => inner.GetRowCursor(columnsNeeded, rand);
        public DataViewRowCursor[] GetRowCursorSet(IEnumerable<DataViewSchema.Column> columnsNeeded, int n, Random? rand = null) =>
            inner.GetRowCursorSet(columnsNeeded, n, rand);
    }

    [Fact]
    public void AFitReadsEveryRowWhateverCountTheViewGives()
    {
        var ml = new MLContext(seed: 1);
        var options = HamiltonianFlowTransformerTests.SmallOptions();
        options.MaxSteps = 0;
        // The rows are read into an array of the counted rows: fewer than counted fit as the rows there are, and more than
        // counted are all read too (the array grows), as a view that counts right fits.
        using var exact = ml.Transforms.HamiltonianFlow(options).Fit(Points(ml, 200));
        float[] expected = exact.Transform(Points(ml, 20)).GetColumn<float>("LogLikelihood").ToArray();
        foreach (long counted in new long[] { 250, 150, 1 })
        {
            using var miscounted = ml.Transforms.HamiltonianFlow(options).Fit(new MiscountedView(Points(ml, 200), counted));
            Assert.Equal(expected, miscounted.Transform(Points(ml, 20)).GetColumn<float>("LogLikelihood"));
        }
    }

    private static IDataView Points(MLContext ml, int count) =>
        ml.Data.LoadFromEnumerable(Enumerable.Range(0, count).Select(i => new HamiltonianFlowTransformerTests.Point
        {
            Features = new[] { (float)Math.Sin(i), (float)Math.Cos(3 * i) },
        }));

    [Fact]
    public void StreamedRowsOpenACursorOnlyWhenEnumeratedAndEachEnumerationReadsEveryRow()
    {
        var ml = new MLContext(seed: 1);
        var view = new CountingView(Points(ml, 50));
        using var channel = ((IHostEnvironment)ml).Start("test");
        var rows = new DataViewRows(channel, view, FeatureColumn.Bind(view.Schema, "Features"), poolRows: 16);

        foreach (int? shuffle in new int?[] { null, 7 })
        {
            int before = view.Opened;
            var stream = rows.Read(shuffle);
            Assert.Equal(before, view.Opened);

            var first = stream.Select(r => (r.Key, r.Values[0], r.Values[1])).ToList();
            var second = stream.Select(r => (r.Key, r.Values[0], r.Values[1])).ToList();
            Assert.Equal(50, first.Count);
            Assert.Equal(first.OrderBy(r => r.Key), second.OrderBy(r => r.Key));
            Assert.Equal(before + 2, view.Opened);
            Assert.Equal(view.Opened, view.Disposed);
        }
    }

    [Fact]
    public void AScoringCursorWhoseInputCursorFailsToOpenDisposesTheCursorItOpenedFirst()
    {
        var ml = new MLContext(seed: 1);
        using var model = ml.Transforms.HamiltonianFlow(HamiltonianFlowTransformerTests.SmallOptions()).Fit(Points(ml, 200));

        // The score column needs a look-ahead cursor on the features, opened first; the rows' own cursor is the second.
        var view = new CountingView(Points(ml, 20), refuseCursor: 2);
        var scored = model.Transform(view);
        var error = Assert.Throws<InvalidOperationException>(() => scored.GetRowCursor(scored.Schema));
        Assert.Equal("cursor 2 refused", error.Message);
        Assert.Equal(1, view.Opened);
        Assert.Equal(1, view.Disposed);

        // With both cursors open, reading the rows and disposing the cursor disposes both.
        var working = new CountingView(Points(ml, 20));
        var scores = model.Transform(working);
        using (var cursor = scores.GetRowCursor(scores.Schema))
        {
            var score = cursor.GetGetter<float>(scores.Schema["LogLikelihood"]);
            float value = 0;
            int count = 0;
            while (cursor.MoveNext())
            {
                score(ref value);
                Assert.True(float.IsFinite(value));
                count++;
            }
            Assert.Equal(20, count);
        }
        Assert.Equal(2, working.Opened);
        Assert.Equal(2, working.Disposed);
    }
}
