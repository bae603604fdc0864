namespace Microsoft.ML.HamiltonianFlows.Training;

/// <summary>
/// When training ends before its budget: after <see cref="FlowTrainingOptions.EarlyStoppingPatience"/> evaluations in a
/// row without a better held-out loss, except that a fit whose best evaluation is still its start (step 0, the fitted
/// Gaussian) is given half its budget first.
/// </summary>
/// <remarks>
/// A flow that starts at its Gaussian often gets worse on held-out rows before it gets better, while the potential
/// network leaves zero; the wider the data, the longer. In logit space at d = 784 (default options, 2026-12-02, before
/// the potentials had wells): Fashion-MNIST, seeds 1 to 3, first beat its Gaussian at step 500, 500 and 300, by 0.04 to
/// 0.27 nats per image, and then learned 5.3 and 6.6 nats per image by step 1,100 (seeds 2 and 3); MNIST digits
/// (8,000 images), seeds 1 and 2, not before step 700. With a patience of 5 evaluations of 100 steps counted from
/// step 0, the first were one evaluation from ending as the Gaussian and the second ended so. Once the flow has beaten
/// its start, patience alone applies, so small data still stop soon after they start to overfit (the tabular training
/// files' fits did not change).
/// </remarks>
internal sealed class EarlyStopping
{
    private readonly int patience;
    private readonly long budget;
    private int evaluationsWithoutImprovement;
    private bool beatenStart;

    /// <summary>A rule for a fit of <paramref name="budget"/> steps with the given patience (in evaluations).</summary>
    public EarlyStopping(int patience, long budget)
    {
        this.patience = patience;
        this.budget = budget;
    }

    /// <summary>
    /// Records the evaluation at <paramref name="step"/>, which gave a better held-out loss than every earlier one or
    /// not (the first, at step 0, always does); returns whether training goes on.
    /// </summary>
    public bool Continue(long step, bool improved)
    {
        if (improved)
        {
            beatenStart |= step > 0;
            evaluationsWithoutImprovement = 0;
            return true;
        }
        evaluationsWithoutImprovement++;
        if (!beatenStart && 2 * step < budget)
            return true;
        return evaluationsWithoutImprovement < patience;
    }
}
