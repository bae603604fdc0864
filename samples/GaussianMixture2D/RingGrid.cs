using Microsoft.ML.HamiltonianFlows.Torch;
using static TorchSharp.torch;

namespace GaussianMixture2D;

/// <summary>A square grid of cell centres over [-half, half]^2 and the evaluation of flow outputs on it.</summary>
internal sealed class RingGrid
{
    public RingGrid(int cells, double half)
    {
        Cells = cells;
        Half = half;
        Points = new float[2 * cells * cells];
        double h = 2 * half / cells;
        for (int row = 0; row < cells; row++)
        for (int col = 0; col < cells; col++)
        {
            int k = row * cells + col;
            Points[2 * k] = (float)(-half + (col + 0.5) * h);
            Points[2 * k + 1] = (float)(half - (row + 0.5) * h);
        }
    }

    public int Cells { get; }
    public double Half { get; }

    /// <summary>Cell centres, row 0 at the top, as a row-major [cells^2, 2] array.</summary>
    public float[] Points { get; }

    /// <summary>f at every cell centre, laid out as the grid (row 0 at the top).</summary>
    public double[,] Map(Func<double, double, double> f)
    {
        var values = new double[Cells, Cells];
        for (int k = 0; k < Cells * Cells; k++)
            values[k / Cells, k % Cells] = f(Points[2 * k], Points[2 * k + 1]);
        return values;
    }

    /// <summary>f on every cell centre, a chunk at a time so that intermediate tensors stay small.</summary>
    public double[,] Evaluate(HamiltonianFlow flow, Func<HamiltonianFlow, Tensor, Tensor> f)
    {
        const int chunk = 1000;
        using var noGrad = no_grad();
        var map = new double[Cells, Cells];
        int count = Cells * Cells;
        for (int start = 0; start < count; start += chunk)
        {
            using var scope = NewDisposeScope();
            int n = Math.Min(chunk, count - start);
            Tensor x = tensor(Points.AsSpan(2 * start, 2 * n).ToArray(), new long[] { n, 2 });
            double[] values = f(flow, x).to(ScalarType.Float64).data<double>().ToArray();
            for (int k = 0; k < n; k++)
                map[(start + k) / Cells, (start + k) % Cells] = values[k];
        }
        return map;
    }
}
