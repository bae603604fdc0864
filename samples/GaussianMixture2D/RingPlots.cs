using Microsoft.ML.HamiltonianFlows.Torch;
using ScottPlot;
using static TorchSharp.torch;

namespace GaussianMixture2D;

/// <summary>The figures of the 2D experiment, as PNG files.</summary>
internal static class RingPlots
{
    private const double Half = 6.5;
    private const int PanelSize = 420, ScatterPoints = 3000;
    private const double EnergyClip = 12;
    private const int DensitySamples = 16;

    public static void Write(string folder, GaussianRing ring, double entropy, float[] train, VariantResult fixedKinetic, VariantResult neuralKinetic, RunSettings settings)
    {
        WriteSamples(Path.Combine(folder, "samples.png"), train, fixedKinetic, neuralKinetic, settings.Seed);
        var grid = Grid(settings.GridCells);
        double[,] target = Map(grid, settings.GridCells, (x, y) => -ring.LogDensity(x, y));

        // The interpretability claim: V(q) should look like -log p up to a constant. Each map is shifted to min 0
        // and clipped, so that the far corners do not wash out the wells.
        WriteHeatmaps(Path.Combine(folder, "potential.png"), $"energy - min, clipped at {EnergyClip}", settings.GridCells, new[]
        {
            ("-log p of the target", Shift(target)),
            ($"V(q), {fixedKinetic.Name}", Shift(Evaluate(fixedKinetic.Flow, grid, settings.GridCells, (f, x) => f.PotentialEnergy(x)))),
            ($"V(q), {neuralKinetic.Name}", Shift(Evaluate(neuralKinetic.Flow, grid, settings.GridCells, (f, x) => f.PotentialEnergy(x)))),
        });

        // Importance-weighted estimates on single grid points are noisy, with rare large weights: the colour scale is
        // capped at 1.5 times the target's peak so that one such point does not wash out the map.
        double cap = 1.5 * Exp(Negate(target)).Cast<double>().Max();
        WriteHeatmaps(Path.Combine(folder, "density.png"), $"density, capped at {cap:F3}", settings.GridCells, new[]
        {
            ("target density", Exp(Negate(target))),
            ($"model density, {fixedKinetic.Name}", Apply(Exp(LogLikelihood(fixedKinetic.Flow, grid, settings)), d => Math.Min(d, cap))),
            ($"model density, {neuralKinetic.Name}", Apply(Exp(LogLikelihood(neuralKinetic.Flow, grid, settings)), d => Math.Min(d, cap))),
        });

        WriteTrainingCurves(Path.Combine(folder, "training.png"), entropy, fixedKinetic, neuralKinetic);
    }

    private static void WriteSamples(string path, float[] train, VariantResult fixedKinetic, VariantResult neuralKinetic, int seed)
    {
        using var generator = new Generator((ulong)seed + 11);
        float[] Draw(HamiltonianFlow flow)
        {
            using var noGrad = no_grad();
            using var q = flow.Sample(ScatterPoints, generator).Q;
            return q.data<float>().ToArray();
        }

        var panels = new[]
        {
            ("training data", train.AsSpan(0, Math.Min(train.Length, 2 * ScatterPoints)).ToArray()),
            ($"samples, {fixedKinetic.Name}", Draw(fixedKinetic.Flow)),
            ($"samples, {neuralKinetic.Name}", Draw(neuralKinetic.Flow)),
        };
        var figure = new Multiplot();
        figure.AddPlots(panels.Length);
        for (int i = 0; i < panels.Length; i++)
        {
            var (title, points) = panels[i];
            Plot plot = figure.GetPlot(i);
            var xs = Enumerable.Range(0, points.Length / 2).Select(k => (double)points[2 * k]).ToArray();
            var ys = Enumerable.Range(0, points.Length / 2).Select(k => (double)points[2 * k + 1]).ToArray();
            var scatter = plot.Add.ScatterPoints(xs, ys);
            scatter.MarkerSize = 2;
            plot.Title(title);
            plot.Axes.SetLimits(-Half, Half, -Half, Half);
        }
        figure.Layout = new ScottPlot.MultiplotLayouts.Columns();
        figure.SavePng(path, PanelSize * panels.Length, PanelSize);
    }

    private static void WriteHeatmaps(string path, string label, int cells, (string Title, double[,] Values)[] panels)
    {
        var figure = new Multiplot();
        figure.AddPlots(panels.Length);
        for (int i = 0; i < panels.Length; i++)
        {
            Plot plot = figure.GetPlot(i);
            var heatmap = plot.Add.Heatmap(panels[i].Values);
            heatmap.Colormap = new ScottPlot.Colormaps.Viridis();
            heatmap.Extent = new CoordinateRect(-Half, Half, -Half, Half);
            plot.Add.ColorBar(heatmap).Label = label;
            plot.Title(panels[i].Title);
            plot.Axes.SetLimits(-Half, Half, -Half, Half);
        }
        figure.Layout = new ScottPlot.MultiplotLayouts.Columns();
        figure.SavePng(path, (PanelSize + 60) * panels.Length, PanelSize);
    }

    private static void WriteTrainingCurves(string path, double entropy, params VariantResult[] results)
    {
        var plot = new Plot();
        foreach (var r in results)
        {
            var line = plot.Add.Scatter(r.History.Select(h => (double)h.Steps).ToArray(), r.History.Select(h => h.TrainingLoss).ToArray());
            line.LegendText = $"{r.Name} (training loss)";
            line.MarkerSize = 0;
        }
        var floor = plot.Add.HorizontalLine(entropy);
        floor.LegendText = "exact entropy";
        floor.LinePattern = LinePattern.Dashed;
        plot.XLabel("optimiser step");
        plot.YLabel("nats per point");
        plot.Axes.SetLimitsY(entropy - 0.3, entropy + 2);
        plot.ShowLegend(Alignment.UpperRight);
        plot.SavePng(path, 720, 420);
    }

    /// <summary>Cell centres of a cells x cells grid over [-Half, Half]^2, row 0 at the top, as [cells^2, 2].</summary>
    private static float[] Grid(int cells)
    {
        var points = new float[2 * cells * cells];
        double h = 2 * Half / cells;
        for (int row = 0; row < cells; row++)
        for (int col = 0; col < cells; col++)
        {
            int k = row * cells + col;
            points[2 * k] = (float)(-Half + (col + 0.5) * h);
            points[2 * k + 1] = (float)(Half - (row + 0.5) * h);
        }
        return points;
    }

    private static double[,] Map(float[] grid, int cells, Func<double, double, double> f)
    {
        var values = new double[cells, cells];
        for (int k = 0; k < cells * cells; k++)
            values[k / cells, k % cells] = f(grid[2 * k], grid[2 * k + 1]);
        return values;
    }

    /// <summary>f on every grid point, a chunk at a time so that intermediate tensors stay small.</summary>
    private static double[,] Evaluate(HamiltonianFlow flow, float[] grid, int cells, Func<HamiltonianFlow, Tensor, Tensor> f)
    {
        const int chunk = 1000;
        using var noGrad = no_grad();
        var map = new double[cells, cells];
        int count = cells * cells;
        for (int start = 0; start < count; start += chunk)
        {
            using var scope = NewDisposeScope();
            int n = Math.Min(chunk, count - start);
            Tensor x = tensor(grid.AsSpan(2 * start, 2 * n).ToArray(), new long[] { n, 2 });
            double[] values = f(flow, x).to(ScalarType.Float64).data<double>().ToArray();
            for (int k = 0; k < n; k++)
                map[(start + k) / cells, (start + k) % cells] = values[k];
        }
        return map;
    }

    private static double[,] LogLikelihood(HamiltonianFlow flow, float[] grid, RunSettings settings)
    {
        using var generator = new Generator((ulong)settings.Seed + 13);
        return Evaluate(flow, grid, settings.GridCells, (f, x) => f.LogLikelihood(x, DensitySamples, generator));
    }

    private static double[,] Shift(double[,] v)
    {
        double min = v.Cast<double>().Min();
        return Apply(v, x => Math.Min(x - min, EnergyClip));
    }

    private static double[,] Negate(double[,] v) => Apply(v, x => -x);
    private static double[,] Exp(double[,] v) => Apply(v, Math.Exp);

    private static double[,] Apply(double[,] v, Func<double, double> f)
    {
        var r = new double[v.GetLength(0), v.GetLength(1)];
        for (int i = 0; i < v.GetLength(0); i++)
        for (int j = 0; j < v.GetLength(1); j++)
            r[i, j] = f(v[i, j]);
        return r;
    }
}
