using Microsoft.ML;

namespace AnomalyBenchmark;

/// <summary>
/// A scored test row: its label (1 anomalous), the detector's score (higher is more anomalous) and its PredictedLabel
/// (the score above the threshold set at fit time).
/// </summary>
internal sealed class ScoredRow
{
    public float Label { get; set; }

    public float Score { get; set; }

    public bool PredictedLabel { get; set; }

    /// <summary>
    /// The fraction of the normal rows that the detector flags: the threshold is the split-conformal (1 - Contamination)
    /// quantile of the held-out training rows' scores, so on new normal rows it should be near Contamination (0.05 at
    /// default options).
    /// </summary>
    public static double FlaggedNormal(ScoredRow[] rows) => rows.Where(r => r.Label == 0).Average(r => r.PredictedLabel ? 1.0 : 0.0);

    /// <summary>Every row of a scored view, in its order.</summary>
    public static ScoredRow[] Read(MLContext ml, IDataView scored) => ml.Data.CreateEnumerable<ScoredRow>(scored, reuseRowObject: false).ToArray();

    /// <summary>
    /// Two detectors' scores of the same rows, in the same order, as pairs for <see cref="PairedBootstrap"/>. The
    /// bootstrap's AUROC of each detector's rows must be the evaluator's (<paramref name="modelAuroc"/>,
    /// <paramref name="referenceAuroc"/>), or its interval would be of another statistic; so no row may be scored NaN
    /// (the evaluator would leave it out of one detector's AUROC only).
    /// </summary>
    public static (double Model, double Reference, bool Anomalous)[] Pairs(ScoredRow[] model, ScoredRow[] reference, double modelAuroc, double referenceAuroc)
    {
        if (model.Length != reference.Length)
            throw new InvalidOperationException($"The two detectors scored {model.Length} and {reference.Length} test rows.");
        for (int i = 0; i < model.Length; i++)
        {
            if (model[i].Label != reference[i].Label)
                throw new InvalidOperationException($"Test row {i} is labelled {model[i].Label} in one detector's scores and {reference[i].Label} in the other's.");
            if (float.IsNaN(model[i].Score) || float.IsNaN(reference[i].Score))
                throw new InvalidOperationException($"Test row {i} was scored NaN; the paired bootstrap needs every row scored by both detectors.");
        }
        foreach (var (rows, evaluated) in new[] { (model, modelAuroc), (reference, referenceAuroc) })
        {
            double own = PairedBootstrap.Auroc(
                rows.Where(r => r.Label == 0).Select(r => (double)r.Score).ToArray(), rows.Where(r => r.Label > 0).Select(r => (double)r.Score).ToArray());
            if (Math.Abs(own - evaluated) > 1e-6)
                throw new InvalidOperationException($"The bootstrap's AUROC {own} is not the evaluator's {evaluated}.");
        }
        return model.Zip(reference, (m, r) => ((double)m.Score, (double)r.Score, m.Label > 0)).ToArray();
    }
}
