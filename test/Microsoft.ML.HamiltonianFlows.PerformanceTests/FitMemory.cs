using System.Diagnostics;
using Microsoft.ML.Data;

namespace Microsoft.ML.HamiltonianFlows.PerformanceTests;

/// <summary>
/// The peak memory of an ML.NET fit that reads its rows into memory: <c>--fit-memory ROWS DIMENSION</c> fits the density
/// trainer with <c>MaxSteps = 0</c> (the Gaussian stage and the choices made on held-out rows, no training step) to a view
/// that generates its rows as it is read, so the source itself holds none, and the memory budget is set just above the
/// rows' size so that they are read into memory. Reports the process's peak resident memory beside the rows' size.
/// </summary>
internal static class FitMemory
{
    private sealed class Row
    {
        public float[] Features { get; set; } = Array.Empty<float>();
    }

    // Rows made afresh on every enumeration, from the row's index: the same rows for every cursor.
    private static IEnumerable<Row> Rows(long count, int dimension)
    {
        for (long i = 0; i < count; i++)
        {
            var random = new Random((int)(i * 2654435761 % int.MaxValue));
            var values = new float[dimension];
            double shared = random.NextDouble();
            for (int j = 0; j < dimension; j++)
                values[j] = (float)(shared + 0.5 * random.NextDouble());
            yield return new Row { Features = values };
        }
    }

    public static void Run(long rows, int dimension, Func<long> peakResidentMegabytes)
    {
        var ml = new MLContext(seed: 1);
        var schema = SchemaDefinition.Create(typeof(Row));
        schema[nameof(Row.Features)].ColumnType = new VectorDataViewType(NumberDataViewType.Single, dimension);
        IDataView data = ml.Data.LoadFromEnumerable(Rows(rows, dimension), schema);
        double dataMegabytes = rows * dimension * 4.0 / (1024 * 1024);
        long before = peakResidentMegabytes();
        var clock = Stopwatch.StartNew();
        using var model = ml.Transforms.HamiltonianFlow(new HamiltonianFlowTrainer.Options
        {
            MaxSteps = 0, MemoryBudgetMegabytes = dataMegabytes * 1.01 + 1, Seed = 1,
        }).Fit(data);
        Console.WriteLine($"{rows:N0} x {dimension} rows ({dataMegabytes:N0} MB of Singles) fitted in memory in {clock.Elapsed.TotalSeconds:F1} s; " +
            $"peak RSS {peakResidentMegabytes():N0} MB ({before:N0} MB before the fit)");
    }
}
