using static TorchSharp.torch;

namespace Microsoft.ML.HamiltonianFlows.Torch;

/// <summary>
/// Which features take values on a lattice origin + k width (integers, counts, pixel levels, decimals recorded to a fixed
/// number of places, the same after any affine rescaling such as NormalizeMinMax), found from training rows: the smallest
/// gap between a feature's distinct values is the width when every value is a whole number of widths from the smallest.
/// The values are Singles, whose rounding moves a rescaled or offset lattice off its exact multiples; where the exact test
/// fails, the width is fitted to all the values and each may be off its lattice point by Single's rounding (LatticeWidth).
/// Continuous features have width 0.
/// </summary>
internal sealed record FeatureCells(double[] Width, double[] Origin)
{
    // How far from a whole number of widths a value may be, in widths, beside Single's rounding.
    private const double Tolerance = 1e-3;

    // Single's relative spacing, 2^-23: a value read as Single lies within half of it (relative) of the value it stands for,
    // and a rescaling computed in Single (x / 9 * 0.5 + 2) adds a few such roundings.
    private const double SingleEpsilon = 1.0 / (1 << 23);

    // The most a lattice's width may be rounded by Single, relative: beyond it Single's own grid could pass for a lattice.
    private const double ResolvableRounding = 0.01;

    /// <summary>No lattice feature.</summary>
    public static FeatureCells None(int dimension) => new(new double[dimension], new double[dimension]);

    /// <summary>
    /// Float64 rows [n, d] with each lattice value spread over its cell, x + width (u - 1/2), by uniforms u drawn from
    /// <paramref name="generator"/> (drawn for every feature, so that the generator advances alike with or without cells).
    /// </summary>
    public Tensor Dequantized(Tensor x, Generator? generator) =>
        GaussianStage.SpreadOverCells(x, tensor(Width), rand(x.shape, dtype: ScalarType.Float64, generator: generator));

    /// <summary>The cells of each feature of sample rows [m, d] (finite values).</summary>
    public static FeatureCells Detect(Tensor sample)
    {
        int m = (int)sample.shape[0], d = (int)sample.shape[1];
        double[] columns;
        using (var scope = NewDisposeScope())
            columns = sample.to(ScalarType.Float64).t().contiguous().data<double>().ToArray();
        var width = new double[d];
        var origin = new double[d];
        for (int j = 0; j < d; j++)
        {
            // Sorted in place and made distinct by one pass (LINQ's Distinct and Order took seconds for 784 features).
            Span<double> values = columns.AsSpan(j * m, m);
            values.Sort();
            int count = 1;
            for (int i = 1; i < m; i++)
                if (values[i] != values[count - 1])
                    values[count++] = values[i];
            if (count < 2)
                continue;
            ReadOnlySpan<double> distinct = values[..count];
            double gap = double.PositiveInfinity;
            for (int i = 1; i < count; i++)
                gap = Math.Min(gap, distinct[i] - distinct[i - 1]);
            if (LatticeWidth(distinct, gap) is double lattice)
            {
                width[j] = lattice;
                origin[j] = distinct[0];
            }
        }
        return new FeatureCells(width, origin);
    }

    // The width of the lattice the sorted distinct values lie on, or null. Exactly: every value a whole number of smallest
    // gaps from the smallest value. Otherwise, as Single rounds them: the gap is itself rounded, and k gaps from the origin
    // its error is k times larger (values 213.9 to 216.3 in steps of 0.1, or 0..1,000 divided by 1,000, fail the exact test
    // in Single), so the width is fitted by least squares to the values' whole numbers of widths, over a reach from the
    // origin that grows fourfold at a time: each value's number of widths is counted with a width already fitted to the
    // values nearer the origin (counted with the smallest gap alone it is off by one a few thousand gaps out). Each value
    // may then lie off its lattice point by the tolerance plus the rounding of Singles of the largest magnitude present.
    private static double? LatticeWidth(ReadOnlySpan<double> distinct, double gap)
    {
        double origin = distinct[0], span = distinct[^1] - origin;
        bool exact = true;
        foreach (double v in distinct)
            exact &= Math.Abs((v - origin) / gap - Math.Round((v - origin) / gap)) < Tolerance;
        if (exact)
            return gap;
        double rounding = 2 * SingleEpsilon * Math.Max(Math.Abs(origin), Math.Abs(distinct[^1]));
        if (rounding > ResolvableRounding * gap)
            return null;
        double width = gap;
        // The second value lies within the first reach, so at least one whole width is counted and the sum of squares is positive.
        for (double reach = Math.Max(8 * gap, distinct[1] - origin); ; reach *= 4)
        {
            double products = 0, squares = 0;
            foreach (double v in distinct)
            {
                if (v - origin > reach)
                    break;
                double k = Math.Round((v - origin) / width);
                products += k * (v - origin);
                squares += k * k;
            }
            width = products / squares;
            if (reach >= span)
                break;
        }
        foreach (double v in distinct)
            if (Math.Abs(v - origin - Math.Round((v - origin) / width) * width) > Tolerance * width + rounding)
                return null;
        return width;
    }
}
