using static TorchSharp.torch;

namespace Microsoft.ML.HamiltonianFlows.Training;

/// <summary>
/// Which training rows are too extreme to fit: a row is a gross outlier when one of its features lies more than
/// <see cref="Deviations"/> standard deviations from that feature's mean, both taken over the rows that are not gross
/// outliers themselves. One such row would otherwise set the Gaussian's scale of its feature (a single value at 1e6
/// standard deviations makes the variance its own) and dominate every gradient. Such rows are left out of the fit and
/// the training, and scored as usual: as very unlikely.
/// </summary>
/// <remarks>
/// The statistics come from a sample of rows (all of them up to <see cref="SampleRows"/>). Per feature, the most extreme
/// value is removed while it lies more than <see cref="Deviations"/> standard deviations from the mean of the values
/// left without it, at most <see cref="MaxExcludedFraction"/> of the sample: a threshold relative to the other values,
/// so one outlier cannot hide itself by inflating the spread. A feature whose other values are all equal removes
/// nothing (a rare value of a flag is data). Real features come nowhere near the threshold: the largest such distance on
/// the five tabular benchmark sets' training rows is far below it (docs/anomaly-benchmark.md).
/// </remarks>
internal sealed class GrossOutlierRule
{
    /// <summary>Distance from the other rows' mean, in their standard deviations, beyond which a value is a gross outlier.</summary>
    public const double Deviations = 1000;

    /// <summary>Rows the statistics are computed from, at most.</summary>
    public const int SampleRows = 20_000;

    /// <summary>Largest fraction of the sample that can be set aside, per feature.</summary>
    public const double MaxExcludedFraction = 0.05;

    private readonly double[] low, high;

    private GrossOutlierRule(double[] low, double[] high)
    {
        this.low = low;
        this.high = high;
    }

    /// <summary>The rule from sample rows [m, d] (finite values).</summary>
    public static GrossOutlierRule FromSample(Tensor sample)
    {
        int d = (int)sample.shape[1];
        int m = (int)sample.shape[0];
        var low = new double[d];
        var high = new double[d];
        double[] columns;
        using (var scope = NewDisposeScope())
            columns = sample.to(ScalarType.Float64).t().contiguous().data<double>().ToArray();
        int maxExcluded = (int)(m * MaxExcludedFraction);
        for (int j = 0; j < d; j++)
        {
            var values = new double[m];
            Array.Copy(columns, (long)j * m, values, 0, m);
            Array.Sort(values);
            int lo = 0, hi = m - 1;
            for (int excluded = 0; excluded < maxExcluded && hi - lo >= 2; excluded++)
            {
                double fromLow = Distance(values, lo + 1, hi, values[lo]);
                double fromHigh = Distance(values, lo, hi - 1, values[hi]);
                if (Math.Max(fromLow, fromHigh) <= Deviations)
                    break;
                if (fromHigh >= fromLow)
                    hi--;
                else
                    lo++;
            }
            var (mean, sd) = MeanAndDeviation(values, lo, hi);
            // A constant feature (sd 0) gets no bounds: every value is allowed.
            low[j] = sd > 0 ? mean - Deviations * sd : double.NegativeInfinity;
            high[j] = sd > 0 ? mean + Deviations * sd : double.PositiveInfinity;
        }
        return new GrossOutlierRule(low, high);
    }

    /// <summary>Whether a row of finite values is a gross outlier.</summary>
    public bool IsOutlier(ReadOnlySpan<float> row)
    {
        for (int j = 0; j < row.Length; j++)
            if (row[j] < low[j] || row[j] > high[j])
                return true;
        return false;
    }

    /// <summary>A [n] boolean mask of the rows [n, d] that are not gross outliers.</summary>
    public Tensor Keep(Tensor rows)
    {
        using var scope = NewDisposeScope();
        Tensor x = rows.to(ScalarType.Float64);
        Tensor inside = (x >= tensor(low)).logical_and(x <= tensor(high)).all(1);
        return inside.MoveToOuterDisposeScope();
    }

    // |value - mean| / sd of values[from..to], or 0 when they have no spread (a flag's rare value stays).
    private static double Distance(double[] values, int from, int to, double value)
    {
        var (mean, sd) = MeanAndDeviation(values, from, to);
        return sd > 0 ? Math.Abs(value - mean) / sd : 0;
    }

    private static (double Mean, double Deviation) MeanAndDeviation(double[] values, int from, int to)
    {
        double sum = 0;
        for (int i = from; i <= to; i++)
            sum += values[i];
        double mean = sum / (to - from + 1);
        double squares = 0;
        for (int i = from; i <= to; i++)
            squares += (values[i] - mean) * (values[i] - mean);
        return (mean, Math.Sqrt(squares / (to - from + 1)));
    }
}
