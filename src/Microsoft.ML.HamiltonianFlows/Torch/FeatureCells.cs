using static TorchSharp.torch;

namespace Microsoft.ML.HamiltonianFlows.Torch;

/// <summary>
/// Which features take values on a lattice origin + k width (integers, counts, pixel levels, the same after any affine
/// rescaling such as NormalizeMinMax), found from training rows: the smallest gap between a feature's distinct values is
/// the width when every value is a whole number of widths from the smallest. Continuous features have width 0.
/// </summary>
internal sealed record FeatureCells(double[] Width, double[] Origin)
{
    // How far from a whole number of widths a value may be (float32 rounding of rescaled integers is far below it).
    private const double Tolerance = 1e-3;

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
            bool onLattice = true;
            foreach (double v in distinct)
                onLattice &= Math.Abs((v - distinct[0]) / gap - Math.Round((v - distinct[0]) / gap)) < Tolerance;
            if (onLattice)
            {
                width[j] = gap;
                origin[j] = distinct[0];
            }
        }
        return new FeatureCells(width, origin);
    }
}
