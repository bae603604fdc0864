using static TorchSharp.torch;

namespace SupernovaCosmology;

/// <summary>
/// The exact posterior on a fine grid of cell centres over the prior box (the problem is 2D): the midpoint rule gives
/// log Z = log sum_cells pi(theta_c) dA, and the normalised cell masses give means, covariance and contours.
/// </summary>
internal sealed class GridPosterior
{
    public GridPosterior(Func<Tensor, Tensor> logDensity, int columns, int rows)
    {
        Columns = columns;
        Rows = rows;
        CellWidth = SupernovaPosterior.MaxMatter / columns;
        CellHeight = SupernovaPosterior.MaxLambda / rows;
        LogDensity = Evaluate(Enumerable.Range(0, rows * columns).ToArray(), logDensity);
        double max = LogDensity.Max();
        double sum = LogDensity.Sum(v => Math.Exp(v - max));
        LogEvidence = max + Math.Log(sum) + Math.Log(CellWidth * CellHeight);
        Mass = LogDensity.Select(v => Math.Exp(v - max) / sum).ToArray();

        Mean = new double[2];
        for (int c = 0; c < Mass.Length; c++)
        {
            var (x, y) = Centre(c);
            Mean[0] += Mass[c] * x;
            Mean[1] += Mass[c] * y;
        }
        Covariance = new double[2, 2];
        for (int c = 0; c < Mass.Length; c++)
        {
            var (x, y) = Centre(c);
            double[] d = { x - Mean[0], y - Mean[1] };
            for (int i = 0; i < 2; i++)
                for (int j = 0; j < 2; j++)
                    Covariance[i, j] += Mass[c] * d[i] * d[j];
        }
    }

    public int Columns { get; }
    public int Rows { get; }
    public double CellWidth { get; }
    public double CellHeight { get; }

    /// <summary>log pi at each cell centre, row-major (row 0 at Omega_Lambda's low end).</summary>
    public double[] LogDensity { get; }

    /// <summary>Each cell's share of the posterior mass.</summary>
    public double[] Mass { get; }

    public double LogEvidence { get; }
    public double[] Mean { get; }
    public double[,] Covariance { get; }
    public double[] StandardDeviation => new[] { Math.Sqrt(Covariance[0, 0]), Math.Sqrt(Covariance[1, 1]) };

    /// <summary>f at the centres of the given cells, a chunk at a time and without gradients, so that the tensors stay small.</summary>
    public double[] Evaluate(int[] cells, Func<Tensor, Tensor> f)
    {
        const int chunk = 1024;
        var values = new double[cells.Length];
        using var noGrad = no_grad();
        for (int start = 0; start < cells.Length; start += chunk)
        {
            using var scope = NewDisposeScope();
            int count = Math.Min(chunk, cells.Length - start);
            var points = new double[2 * count];
            for (int k = 0; k < count; k++)
                (points[2 * k], points[2 * k + 1]) = Centre(cells[start + k]);
            f(tensor(points, new long[] { count, 2 })).data<double>().CopyTo(values.AsSpan(start, count));
        }
        return values;
    }

    /// <summary>(Omega_m, Omega_Lambda) at the centre of cell c.</summary>
    public (double X, double Y) Centre(int c) => ((c % Columns + 0.5) * CellWidth, (c / Columns + 0.5) * CellHeight);

    /// <summary>The density level enclosing the highest-density region of the given mass (0.683 for 1 sigma, 0.954 for 2).</summary>
    public double LogLevel(double mass)
    {
        var order = Enumerable.Range(0, Mass.Length).OrderByDescending(c => Mass[c]).ToArray();
        double cumulative = 0;
        foreach (int c in order)
            if ((cumulative += Mass[c]) >= mass)
                return LogDensity[c];
        return LogDensity[order[^1]];
    }

    /// <summary>The cells carrying the given share of the mass, heaviest first.</summary>
    public int[] HeaviestCells(double mass)
    {
        var order = Enumerable.Range(0, Mass.Length).OrderByDescending(c => Mass[c]).ToArray();
        double cumulative = 0;
        int count = 0;
        while (count < order.Length && cumulative < mass)
            cumulative += Mass[order[count++]];
        return order.Take(count).ToArray();
    }
}
