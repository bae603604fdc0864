using Microsoft.ML.HamiltonianFlows.Torch;
using ScottPlot;
using static TorchSharp.torch;

namespace GaussianMixture2D;

/// <summary>The figures of the 2D experiment, as PNG files.</summary>
internal static class RingPlots
{
    /// <summary>Half-width of the plotted square in data units: the ring (radius 4) plus 5 standard deviations.</summary>
    public const double Half = 6.5;
    private const int PanelSize = 420, ScatterPoints = 3000;
    private const double EnergyClip = 12;
    private const int DensitySamples = 16;

    public static void Write(string folder, GaussianRing ring, double entropy, float[] train, VariantResult fixedKinetic, VariantResult neuralKinetic, RunSettings settings)
    {
        WriteSamples(Path.Combine(folder, "samples.png"), train, fixedKinetic, neuralKinetic, settings.Seed);
        var grid = new RingGrid(settings.GridCells, Half);
        double[,] target = grid.Map((x, y) => -ring.LogDensity(x, y));

        // The interpretability claim: V(q) should look like -log p up to a constant. Each map is shifted to min 0
        // and clipped, so that the far corners do not wash out the wells.
        WriteHeatmaps(Path.Combine(folder, "potential.png"), $"energy - min, clipped at {EnergyClip}", grid, new[]
        {
            ("-log p of the target", Shift(target)),
            ($"V(q), {fixedKinetic.Name}", Shift(grid.Evaluate(fixedKinetic.Flow, (f, x) => f.PotentialEnergyAt(x)))),
            ($"V(q), {neuralKinetic.Name}", Shift(grid.Evaluate(neuralKinetic.Flow, (f, x) => f.PotentialEnergyAt(x)))),
        });

        // Importance-weighted estimates on single grid points are noisy, with rare large weights: the colour scale is
        // capped at 1.5 times the target's peak so that one such point does not wash out the map.
        double cap = 1.5 * Exp(Negate(target)).Cast<double>().Max();
        WriteHeatmaps(Path.Combine(folder, "density.png"), $"density, capped at {cap:F3}", grid, new[]
        {
            ("target density", Exp(Negate(target))),
            ($"model density, {fixedKinetic.Name}", Apply(Exp(LogLikelihood(fixedKinetic.Flow, grid, settings)), d => Math.Min(d, cap))),
            ($"model density, {neuralKinetic.Name}", Apply(Exp(LogLikelihood(neuralKinetic.Flow, grid, settings)), d => Math.Min(d, cap))),
        });

        // The original NHF learns K(p) as well; next to the fixed p^2/2 it shows what the dynamics use instead.
        var momentumGrid = new RingGrid(settings.GridCells, EnergyReadout.MomentumHalf);
        WriteHeatmaps(Path.Combine(folder, "kinetic.png"), $"energy - min, clipped at {EnergyClip}", momentumGrid, new[]
        {
            ("p^2/2, fixed kinetic", Shift(momentumGrid.Map(EnergyReadout.QuadraticKinetic))),
            ($"K(p), {neuralKinetic.Name}", Shift(momentumGrid.Evaluate(neuralKinetic.Flow, (f, p) => f.KineticEnergyAt(p)))),
        }, new ScottPlot.Range(0, EnergyClip)); // one colour scale, so that the panels compare directly

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

    private static void WriteHeatmaps(string path, string label, RingGrid grid, (string Title, double[,] Values)[] panels, ScottPlot.Range? colourRange = null)
    {
        var figure = new Multiplot();
        figure.AddPlots(panels.Length);
        for (int i = 0; i < panels.Length; i++)
        {
            Plot plot = figure.GetPlot(i);
            var heatmap = plot.Add.Heatmap(panels[i].Values);
            heatmap.Colormap = new ScottPlot.Colormaps.Viridis();
            if (colourRange is { } range)
                heatmap.ManualRange = range;
            heatmap.Extent = new CoordinateRect(-grid.Half, grid.Half, -grid.Half, grid.Half);
            plot.Add.ColorBar(heatmap).Label = label;
            plot.Title(panels[i].Title);
            plot.Axes.SetLimits(-grid.Half, grid.Half, -grid.Half, grid.Half);
        }
        figure.Layout = new ScottPlot.MultiplotLayouts.Columns();
        figure.SavePng(path, (PanelSize + 60) * panels.Length, PanelSize);
    }

    private static void WriteTrainingCurves(string path, double entropy, params VariantResult[] results)
    {
        var plot = new Plot();
        foreach (var r in results)
        {
            // Step 0 (the fitted Gaussian, before any batch) has no training loss.
            var trained = r.History.Where(h => h.Steps > 0).ToList();
            var line = plot.Add.Scatter(trained.Select(h => (double)h.Steps).ToArray(), trained.Select(h => h.TrainingLoss).ToArray());
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

    private static double[,] LogLikelihood(HamiltonianFlow flow, RingGrid grid, RunSettings settings)
    {
        using var generator = new Generator((ulong)settings.Seed + 13);
        return grid.Evaluate(flow, (f, x) => f.LogLikelihood(x, DensitySamples, generator));
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
