namespace AnomalyBenchmark;

/// <summary>
/// How far a difference in test AUROC between two detectors scored on the same rows can be told from the test file's own
/// sampling noise: a paired, stratified bootstrap. Each resample draws the normal rows and the anomalies with replacement
/// (their counts kept, as pROC's stratified bootstrap does), scores both detectors' AUROC on that same draw, and keeps the
/// difference; the interval is the 2.5th and 97.5th percentiles of the differences. A bar met or missed by less than
/// this interval's half-width is within what another test file of the same size would move.
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
    /// The 95% interval of AUROC(model) minus AUROC(reference) over <paramref name="resamples"/> paired, stratified
    /// resamples of the rows (each row's two scores and whether it is an anomaly), from a seeded draw. Rows either detector
    /// scored NaN are left out, as the evaluator leaves them out.
    /// </summary>
    public static (double Low, double High) DifferenceInterval(
        IReadOnlyList<(double Model, double Reference, bool Anomalous)> rows, int seed, int resamples = 2000) =>
        MeanDifferenceInterval(new[] { rows }, seed, resamples);

    /// <summary>
    /// The same for the mean over several test sets (Fashion-MNIST's ten normal classes) of the AUROC differences: each
    /// resample redraws every set, and the interval is that of the mean difference.
    /// </summary>
    public static (double Low, double High) MeanDifferenceInterval(
        IReadOnlyList<IReadOnlyList<(double Model, double Reference, bool Anomalous)>> sets, int seed, int resamples = 2000)
    {
        var random = new Random(seed);
        var groups = sets.Select(rows => new Group(rows)).ToArray();
        var differences = new double[resamples];
        for (int b = 0; b < resamples; b++)
            differences[b] = groups.Average(group => group.ResampledDifference(random));
        Array.Sort(differences);
        return (Percentile(differences, 0.025), Percentile(differences, 0.975));
    }

    // One test set's rows split by class, with buffers for a resample of each.
    private sealed class Group
    {
        private readonly (double Model, double Reference, bool Anomalous)[] normal, anomalous;
        private readonly double[] modelNormal, referenceNormal, modelAnomalous, referenceAnomalous;

        public Group(IReadOnlyList<(double Model, double Reference, bool Anomalous)> rows)
        {
            var scored = rows.Where(r => !double.IsNaN(r.Model) && !double.IsNaN(r.Reference)).ToArray();
            normal = scored.Where(r => !r.Anomalous).ToArray();
            anomalous = scored.Where(r => r.Anomalous).ToArray();
            modelNormal = new double[normal.Length];
            referenceNormal = new double[normal.Length];
            modelAnomalous = new double[anomalous.Length];
            referenceAnomalous = new double[anomalous.Length];
        }

        public double ResampledDifference(Random random)
        {
            Draw(normal, modelNormal, referenceNormal, random);
            Draw(anomalous, modelAnomalous, referenceAnomalous, random);
            return Auroc(modelNormal, modelAnomalous) - Auroc(referenceNormal, referenceAnomalous);
        }
    }

    private static void Draw((double Model, double Reference, bool Anomalous)[] rows, double[] model, double[] reference, Random random)
    {
        for (int i = 0; i < rows.Length; i++)
        {
            var row = rows[random.Next(rows.Length)];
            model[i] = row.Model;
            reference[i] = row.Reference;
        }
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
