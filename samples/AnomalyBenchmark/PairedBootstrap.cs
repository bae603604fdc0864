using System.Globalization;

namespace AnomalyBenchmark;

/// <summary>
/// How far a difference in test AUROC between two detectors scored on the same rows can be told from the test file's own
/// sampling noise: a paired, stratified bootstrap. Each resample draws the rows of every stratum with replacement (their
/// counts kept, as pROC's stratified bootstrap does with the two classes), scores both detectors' AUROC on that same draw,
/// and keeps the difference; the interval is the 2.5th and 97.5th percentiles of the differences. A difference whose
/// interval holds 0 could change sign on another test file of the same size. (For a fixed bar, such as a published
/// AUROC, the noise of the one detector's AUROC applies instead, which this interval does not give.)
/// </summary>
internal static class PairedBootstrap
{
    /// <summary>
    /// AUROC of scores where a higher score is more anomalous: the probability that an anomaly outscores a normal row, ties
    /// counted as one half (the Mann-Whitney statistic from mid-ranks).
    /// </summary>
    public static double Auroc(IReadOnlyList<double> normal, IReadOnlyList<double> anomalous)
    {
        int n0 = normal.Count, n1 = anomalous.Count;
        var all = new (double Score, bool Anomalous)[n0 + n1];
        for (int i = 0; i < n0; i++)
            all[i] = (normal[i], false);
        for (int i = 0; i < n1; i++)
            all[n0 + i] = (anomalous[i], true);
        Array.Sort(all, (a, b) => a.Score.CompareTo(b.Score));
        double anomalousRankSum = 0;
        for (int start = 0; start < all.Length;)
        {
            int end = start;
            while (end + 1 < all.Length && all[end + 1].Score == all[start].Score)
                end++;
            double midRank = (start + end) / 2.0 + 1;
            for (int i = start; i <= end; i++)
                if (all[i].Anomalous)
                    anomalousRankSum += midRank;
            start = end + 1;
        }
        return (anomalousRankSum - n1 * (n1 + 1) / 2.0) / ((double)n0 * n1);
    }

    /// <summary>
    /// The 95% interval of AUROC(model) minus AUROC(reference) over <paramref name="resamples"/> paired resamples of one
    /// test file's rows (each row's two scores and whether it is an anomaly), stratified by class, from a seeded draw.
    /// </summary>
    public static (double Low, double High) DifferenceInterval(
        IReadOnlyList<(double Model, double Reference, bool Anomalous)> rows, int seed, int resamples = 2000) =>
        Intervals(rows.Select(r => r.Anomalous ? 1 : 0).ToArray(), new[] { rows }, seed, resamples).PerSet[0];

    /// <summary>
    /// The intervals of several tasks that score the same test rows (Fashion-MNIST's ten one-class tasks on one set of
    /// test images, each class in turn normal): each task's difference and the mean of the differences over the tasks.
    /// Each resample draws one set of rows for all the tasks, stratified by <paramref name="strata"/> (the images' own
    /// classes), so the correlation between tasks that comes from sharing rows is kept; every task's split into normal
    /// rows and anomalies must be constant within a stratum, so every task keeps its counts of both.
    /// </summary>
    public static ((double Low, double High)[] PerSet, (double Low, double High) Mean) Intervals(
        int[] strata, IReadOnlyList<IReadOnlyList<(double Model, double Reference, bool Anomalous)>> sets, int seed, int resamples = 2000)
    {
        int[][] members = strata.Select((stratum, row) => (stratum, row)).GroupBy(p => p.stratum).Select(g => g.Select(p => p.row).ToArray()).ToArray();
        foreach (var rows in sets)
        {
            if (rows.Count != strata.Length)
                throw new ArgumentException($"A task scored {rows.Count} rows, not the {strata.Length} of the strata.", nameof(sets));
            foreach (int i in Enumerable.Range(0, rows.Count).Where(i => double.IsNaN(rows[i].Model) || double.IsNaN(rows[i].Reference)))
                throw new ArgumentException($"Row {i} has a NaN score: the bootstrap needs every row scored by both detectors.", nameof(sets));
            foreach (int[] stratum in members)
                if (stratum.Any(i => rows[i].Anomalous != rows[stratum[0]].Anomalous))
                    throw new ArgumentException($"Stratum {strata[stratum[0]]} holds normal rows and anomalies of the same task.", nameof(strata));
        }
        var random = new Random(seed);
        var draw = new int[strata.Length];
        var differences = new double[sets.Count][];
        var means = new double[resamples];
        for (int s = 0; s < sets.Count; s++)
            differences[s] = new double[resamples];
        for (int b = 0; b < resamples; b++)
        {
            int next = 0;
            foreach (int[] stratum in members)
                for (int i = 0; i < stratum.Length; i++)
                    draw[next++] = stratum[random.Next(stratum.Length)];
            for (int s = 0; s < sets.Count; s++)
            {
                differences[s][b] = Difference(sets[s], draw);
                means[b] += differences[s][b] / sets.Count;
            }
        }
        return (differences.Select(Interval).ToArray(), Interval(means));
    }

    /// <summary>A difference and its interval as the benchmarks' tables print them: "| +0.0123" and "[-0.0010, +0.0250]".</summary>
    public static string Columns(double difference, (double Low, double High) interval) =>
        string.Create(CultureInfo.InvariantCulture, $"{"| " + difference.ToString(Signed, CultureInfo.InvariantCulture),10}{$"[{interval.Low.ToString(Signed, CultureInfo.InvariantCulture)}, {interval.High.ToString(Signed, CultureInfo.InvariantCulture)}]",19}");

    // The third section formats values that round to zero, which the negative section would print as "-+0.0000".
    private const string Signed = "+0.0000;-0.0000;+0.0000";

    // AUROC(model) - AUROC(reference) on the drawn rows of one task.
    private static double Difference(IReadOnlyList<(double Model, double Reference, bool Anomalous)> rows, int[] draw)
    {
        var drawn = draw.Select(i => rows[i]).ToArray();
        var normal = drawn.Where(r => !r.Anomalous).ToArray();
        var anomalous = drawn.Where(r => r.Anomalous).ToArray();
        return Auroc(normal.Select(r => r.Model).ToArray(), anomalous.Select(r => r.Model).ToArray())
             - Auroc(normal.Select(r => r.Reference).ToArray(), anomalous.Select(r => r.Reference).ToArray());
    }

    private static (double Low, double High) Interval(double[] differences)
    {
        var sorted = differences.Order().ToArray();
        return (Percentile(sorted, 0.025), Percentile(sorted, 0.975));
    }

    // Linear interpolation between the order statistics around q (numpy's default).
    private static double Percentile(double[] sorted, double q)
    {
        double position = q * (sorted.Length - 1);
        int below = (int)Math.Floor(position);
        int above = Math.Min(below + 1, sorted.Length - 1);
        return sorted[below] + (position - below) * (sorted[above] - sorted[below]);
    }
}
