using Microsoft.ML;

namespace AnomalyBenchmark;

/// <summary>A scored test row: its label (1 anomalous) and the detector's score (higher is more anomalous).</summary>
internal sealed class ScoredRow
{
    public float Label { get; set; }

    public float Score { get; set; }

    /// <summary>Every row of a scored view, in its order.</summary>
    public static ScoredRow[] Read(MLContext ml, IDataView scored) => ml.Data.CreateEnumerable<ScoredRow>(scored, reuseRowObject: false).ToArray();

    /// <summary>
    /// Two detectors' scores of the same rows as pairs for <see cref="PairedBootstrap"/>. The bootstrap's AUROC of each
    /// detector's full rows must be the evaluator's (<paramref name="modelAuroc"/>, <paramref name="referenceAuroc"/>), or
    /// its interval would be of another statistic.
    /// </summary>
    public static (double Model, double Reference, bool Anomalous)[] Pairs(ScoredRow[] model, ScoredRow[] reference, double modelAuroc, double referenceAuroc)
    {
        if (model.Length != reference.Length)
            throw new InvalidOperationException($"The two detectors scored {model.Length} and {reference.Length} test rows.");
        foreach (var (rows, evaluated) in new[] { (model, modelAuroc), (reference, referenceAuroc) })
        {
            var finite = rows.Where(r => !float.IsNaN(r.Score)).ToArray();
            double own = PairedBootstrap.Auroc(
                finite.Where(r => r.Label == 0).Select(r => (double)r.Score).ToArray(), finite.Where(r => r.Label > 0).Select(r => (double)r.Score).ToArray());
            if (Math.Abs(own - evaluated) > 1e-6)
                throw new InvalidOperationException($"The bootstrap's AUROC {own} is not the evaluator's {evaluated}.");
        }
        return model.Zip(reference, (m, r) => ((double)m.Score, (double)r.Score, m.Label > 0)).ToArray();
    }
}
