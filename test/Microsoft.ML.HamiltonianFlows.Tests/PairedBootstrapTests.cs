using AnomalyBenchmark;
using Xunit;

namespace Microsoft.ML.HamiltonianFlows.Tests;

/// <summary>The benchmark's AUROC and its paired bootstrap interval (samples/AnomalyBenchmark/PairedBootstrap.cs).</summary>
public class PairedBootstrapTests
{
    [Fact]
    public void AurocIsTheShareOfAnomalyNormalPairsRankedRightWithTiesCountingHalf()
    {
        // Anomaly 2 beats normal 1, ties normal 2, loses to 3: 1.5 of 3; anomaly 4 beats all three: 4.5 of 6 pairs.
        Assert.Equal(0.75, PairedBootstrap.Auroc(new double[] { 1, 2, 3 }, new double[] { 2, 4 }), 12);
        Assert.Equal(1.0, PairedBootstrap.Auroc(new double[] { 0, 0 }, new double[] { 1 }), 12);
        Assert.Equal(0.0, PairedBootstrap.Auroc(new double[] { 1 }, new double[] { 0, 0 }), 12);
        Assert.Equal(0.5, PairedBootstrap.Auroc(new double[] { 5, 5 }, new double[] { 5, 5, 5 }), 12);
    }

    [Fact]
    public void TwoEqualDetectorsDifferByExactlyNothingInEveryResample()
    {
        var random = new Random(3);
        var rows = Enumerable.Range(0, 200).Select(i => (Score: random.NextDouble(), Anomalous: i % 4 == 0))
            .Select(r => (r.Score, r.Score, r.Anomalous)).ToArray();
        var (low, high) = PairedBootstrap.DifferenceInterval(rows, seed: 1);
        Assert.Equal(0, low);
        Assert.Equal(0, high);
    }

    [Fact]
    public void TheIntervalHoldsTheDifferenceItResamplesAndNarrowsWithMoreRows()
    {
        // A model whose score is the label plus noise against a weaker one on another scale (AUROC does not see the shift):
        // about 0.84 against 0.64, a difference of about 0.2.
        (double, double, bool)[] Rows(int count, int seed)
        {
            var random = new Random(seed);
            return Enumerable.Range(0, count).Select(i =>
            {
                bool anomalous = i % 2 == 0;
                return ((anomalous ? 1.0 : 0.0) + 0.7 * random.Gaussian(), 10 + (anomalous ? 0.5 : 0.0) + random.Gaussian(), anomalous);
            }).ToArray();
        }

        var small = Rows(100, 5);
        var large = Rows(1600, 5);
        double Difference((double Model, double Reference, bool Anomalous)[] rows) =>
            PairedBootstrap.Auroc(rows.Where(r => !r.Anomalous).Select(r => r.Model).ToArray(), rows.Where(r => r.Anomalous).Select(r => r.Model).ToArray()) -
            PairedBootstrap.Auroc(rows.Where(r => !r.Anomalous).Select(r => r.Reference).ToArray(), rows.Where(r => r.Anomalous).Select(r => r.Reference).ToArray());
        var (smallLow, smallHigh) = PairedBootstrap.DifferenceInterval(small, seed: 1);
        var (largeLow, largeHigh) = PairedBootstrap.DifferenceInterval(large, seed: 1);
        Assert.InRange(Difference(small), smallLow, smallHigh);
        Assert.InRange(Difference(large), largeLow, largeHigh);
        Assert.True(largeLow > 0.1 && largeHigh < 0.3, $"the interval [{largeLow}, {largeHigh}] should hold about 0.2, away from 0");
        // Sixteen times the rows: the standard error falls four times; half as wide leaves room for the draws' noise.
        Assert.True(largeHigh - largeLow < (smallHigh - smallLow) / 2, $"[{smallLow}, {smallHigh}] against [{largeLow}, {largeHigh}]");
    }

    [Fact]
    public void TheMeanOverTasksWithIndependentScoresIsNarrowerThanEachTasksInterval()
    {
        var tasks = Enumerable.Range(0, 4).Select(s =>
        {
            var random = new Random(10 + s);
            return (IReadOnlyList<(double, double, bool)>)Enumerable.Range(0, 200)
                .Select(i => (random.NextDouble() + (i % 2 == 0 ? 0.3 : 0), random.NextDouble(), i % 2 == 0)).ToArray();
        }).ToArray();
        int[] strata = Enumerable.Range(0, 200).Select(i => i % 2).ToArray();
        var (perTask, mean) = PairedBootstrap.Intervals(strata, tasks, seed: 2);
        Assert.Equal(tasks.Length, perTask.Length);
        foreach (var (low, high) in perTask)
            Assert.True(mean.High - mean.Low < high - low, $"mean [{mean.Low}, {mean.High}] against one task's [{low}, {high}]");
    }

    [Fact]
    public void TasksThatShareRowsAreResampledTogether()
    {
        // Three one-class tasks on the same 300 rows of three classes (class c normal in task c), and a fourth that
        // repeats task 0. Drawn together, the repeat moves with task 0 in every resample: the mean of two copies of one
        // task has that task's interval exactly, where independent draws would narrow it by about the square root of 2.
        var random = new Random(4);
        int[] classes = Enumerable.Range(0, 300).Select(i => i % 3).ToArray();
        double[] noise = classes.Select(_ => random.Gaussian()).ToArray();
        (double, double, bool)[] Task(int normal) =>
            classes.Select((c, i) => (noise[i] + (c == normal ? 0 : 1), noise[(i + 1) % 300] + (c == normal ? 0 : 0.5), c != normal)).ToArray();
        var tasks = new[] { Task(0), Task(1), Task(2), Task(0) };
        var (perTask, _) = PairedBootstrap.Intervals(classes, tasks, seed: 3);
        Assert.Equal(perTask[0], perTask[3]);
        var (_, mean) = PairedBootstrap.Intervals(classes, new[] { tasks[0], tasks[3] }, seed: 3);
        Assert.Equal(perTask[0].Low, mean.Low, 12);
        Assert.Equal(perTask[0].High, mean.High, 12);
    }

    [Fact]
    public void EveryResampleKeepsEachClassesCount()
    {
        // One anomaly among 50 rows: a draw of 50 rows that ignored the classes would hold no anomaly about a third of the
        // time (0.98^50), and its AUROC, and so the interval, would be NaN. Stratified, every draw holds exactly one.
        var random = new Random(6);
        var rows = Enumerable.Range(0, 50).Select(i => (random.NextDouble() + (i == 7 ? 0.5 : 0), random.NextDouble(), i == 7)).ToArray();
        var (low, high) = PairedBootstrap.DifferenceInterval(rows, seed: 1);
        Assert.True(double.IsFinite(low) && double.IsFinite(high), $"[{low}, {high}]");
        Assert.InRange(low, -1, high);
        Assert.InRange(high, low, 1);
    }

    [Fact]
    public void RowsScoredNaNAndStrataThatMixATasksClassesAreRefused()
    {
        var rows = Enumerable.Range(0, 10).Select(i => ((double)i, (double)i, i % 2 == 0)).ToArray();
        rows[3].Item1 = double.NaN;
        Assert.Contains("Row 3", Assert.Throws<ArgumentException>(() => PairedBootstrap.DifferenceInterval(rows, seed: 1)).Message);
        rows[3].Item1 = 3;
        Assert.Contains("Stratum 0", Assert.Throws<ArgumentException>(() =>
            PairedBootstrap.Intervals(new int[10], new[] { rows }, seed: 1)).Message);
    }

    [Fact]
    public void TheTablesPrintADifferenceThatRoundsToZeroWithOneSign()
    {
        string columns = PairedBootstrap.Columns(-1e-17, (-0.00871, 0.0078));
        Assert.Contains("| +0.0000", columns);
        Assert.Contains("[-0.0087, +0.0078]", columns);
        Assert.DoesNotContain("-+", columns);
    }
}
