using ScottPlot;

namespace SupernovaCosmology;

/// <summary>The report's figure: grid-posterior contours over flow draws and over HMC draws.</summary>
internal static class CosmologyPlots
{
    private const int PanelSize = 520, ScatterPoints = 3000;

    public static void WriteContours(string path, GridPosterior grid, (string Title, double[] Points)[] panels)
    {
        var figure = new Multiplot();
        figure.AddPlots(panels.Length);
        var coordinates = new Coordinates3d[grid.Rows, grid.Columns];
        for (int c = 0; c < grid.Mass.Length; c++)
        {
            var (x, y) = grid.Centre(c);
            coordinates[c / grid.Columns, c % grid.Columns] = new Coordinates3d(x, y, grid.LogDensity[c]);
        }
        double[] levels = { grid.LogLevel(0.954), grid.LogLevel(0.683) };
        for (int i = 0; i < panels.Length; i++)
        {
            Plot plot = figure.GetPlot(i);
            var (title, points) = panels[i];
            int count = Math.Min(ScatterPoints, points.Length / 2);
            var scatter = plot.Add.ScatterPoints(
                Enumerable.Range(0, count).Select(k => points[2 * k]).ToArray(),
                Enumerable.Range(0, count).Select(k => points[2 * k + 1]).ToArray());
            scatter.MarkerSize = 2;
            scatter.Color = Colors.SteelBlue.WithAlpha(0.5);
            scatter.LegendText = $"{title} ({count} draws)";
            var contours = plot.Add.ContourLines(coordinates);
            contours.ContourLineLevels = levels;
            contours.Update(coordinates);
            contours.LineColor = Colors.Black;
            contours.LineWidth = 2;
            var truth = plot.Add.Marker(Cosmology.Truth.MatterDensity, Cosmology.Truth.DarkEnergyDensity, MarkerShape.Cross, 12, Colors.Red);
            truth.LegendText = "truth";
            plot.Title($"{title}; lines: grid posterior, 68% and 95%");
            plot.XLabel("Omega_m");
            plot.YLabel("Omega_Lambda");
            // Five posterior standard deviations around the mean, within the prior box.
            double[] sd = grid.StandardDeviation;
            plot.Axes.SetLimits(Math.Max(0, grid.Mean[0] - 5 * sd[0]), Math.Min(SupernovaPosterior.MaxMatter, grid.Mean[0] + 5 * sd[0]),
                Math.Max(0, grid.Mean[1] - 5 * sd[1]), Math.Min(SupernovaPosterior.MaxLambda, grid.Mean[1] + 5 * sd[1]));
            plot.ShowLegend(Alignment.LowerRight);
        }
        figure.Layout = new ScottPlot.MultiplotLayouts.Columns();
        figure.SavePng(path, PanelSize * panels.Length, PanelSize);
    }
}
