using Microsoft.ML.HamiltonianFlows.Torch;

namespace GaussianMixture2D;

/// <summary>One hyperparameter of the robustness sweep: the values tried and how each changes the base architecture.</summary>
internal sealed record SweepKnob(string Name, string Label, double[] Values, Func<FlowArchitecture, double, FlowArchitecture> Apply)
{
    /// <summary>
    /// The paper's robustness study over the number of leapfrog steps, the integration time, the network width and
    /// the prior scale. The base distribution here is always N(0, I); the knob that sets its scale relative to the
    /// data is <see cref="FlowArchitecture.StandardizedScale"/>, the standard deviation of the standardised data
    /// against that base (the base's scale is 1 / StandardizedScale in data standard deviations).
    /// </summary>
    public static SweepKnob[] All(bool quick) => new[]
    {
        new SweepKnob("leapfrog-steps", "leapfrog steps L (step size learned, initial 0.15)", quick ? new[] { 2.0, 4 } : new[] { 2.0, 4, 8, 16 },
            (a, v) => a with { LeapfrogSteps = (int)v }),
        // The step size is frozen here, or training would move the integration time away from the value tried.
        new SweepKnob("integration-time", "integration time L eps (L = 4, eps fixed)", quick ? new[] { 0.3, 2.4 } : new[] { 0.3, 0.6, 1.2, 2.4 },
            (a, v) => a with { StepSize = v / a.LeapfrogSteps, LearnStepSize = false }),
        new SweepKnob("hidden-width", "hidden width (2 layers; K(p) too for the neural variant)", quick ? new[] { 16.0, 64 } : new[] { 16.0, 32, 64, 128 },
            (a, v) => a with { HiddenLayers = new[] { (int)v, (int)v } }),
        new SweepKnob("base-scale", "data std / base std (StandardizedScale)", quick ? new[] { 1.0, 3 } : new[] { 1.0, 2, 3, 5 },
            (a, v) => a with { StandardizedScale = v }),
    };
}
