using ScottPlot;

namespace GaussianMixture2D;

/// <summary>The robustness sweep's figures: excess NLL and the potential's match to -log p against each knob.</summary>
internal static class SweepPlots
{
    private const int PanelWidth = 520, PanelHeight = 380;

    public static void Write(string folder, IReadOnlyList<SweepKnob> knobs, IReadOnlyList<RobustnessSweep.Row> rows)
    {
        WriteFigure(Path.Combine(folder, "sweep-excess-nll.png"), knobs, rows, r => r.ExcessNll, "test NLL - exact NLL (nats)");
        WriteFigure(Path.Combine(folder, "sweep-potential-correlation.png"), knobs, rows, r => r.PotentialCorrelation, "corr(V, -log p), p-weighted");
    }

    // One panel per knob; the values sit at equal spacing (they are doublings), each seed is a dot and the line
    // joins the means, so the spread across seeds is visible as is.
    private static void WriteFigure(string path, IReadOnlyList<SweepKnob> knobs, IReadOnlyList<RobustnessSweep.Row> rows, Func<RobustnessSweep.Row, double> measure, string yLabel)
    {
        var palette = new ScottPlot.Palettes.Category10();
        var figure = new Multiplot();
        figure.AddPlots(knobs.Count);
        for (int k = 0; k < knobs.Count; k++)
        {
            SweepKnob knob = knobs[k];
            Plot plot = figure.GetPlot(k);
            var variants = rows.Select(r => r.Variant).Distinct().ToList();
            for (int v = 0; v < variants.Count; v++)
            {
                double offset = (v - (variants.Count - 1) / 2.0) * 0.08;
                var points = rows.Where(r => r.Knob == knob.Name && r.Variant == variants[v] && double.IsFinite(measure(r))).ToList();
                Color color = palette.GetColor(v);
                var seeds = plot.Add.ScatterPoints(
                    points.Select(r => Array.IndexOf(knob.Values, r.Value) + offset).ToArray(), points.Select(measure).ToArray());
                seeds.Color = color;
                seeds.MarkerSize = 6;
                var means = knob.Values.Select((value, i) => (X: i + offset, Ys: points.Where(r => r.Value == value).Select(measure).ToList()))
                    .Where(m => m.Ys.Count > 0).ToList();
                var line = plot.Add.Scatter(means.Select(m => m.X).ToArray(), means.Select(m => m.Ys.Average()).ToArray());
                line.Color = color;
                line.MarkerSize = 0;
                line.LegendText = $"{variants[v]} (mean; dots: seeds)";
            }
            plot.Axes.Bottom.SetTicks(Enumerable.Range(0, knob.Values.Length).Select(i => (double)i).ToArray(),
                knob.Values.Select(x => x.ToString("G3", System.Globalization.CultureInfo.InvariantCulture)).ToArray());
            plot.Axes.SetLimitsX(-0.5, knob.Values.Length - 0.5);
            plot.XLabel(knob.Label);
            plot.YLabel(yLabel);
            plot.ShowLegend(Alignment.UpperRight);
        }
        figure.Layout = new ScottPlot.MultiplotLayouts.Grid(2, (knobs.Count + 1) / 2);
        figure.SavePng(path, PanelWidth * ((knobs.Count + 1) / 2), PanelHeight * 2);
    }
}
