using Microsoft.ML.HamiltonianFlows.Torch;

namespace GaussianMixture2D;

/// <summary>One hyperparameter of the robustness sweep: the values tried and how each changes the base architecture.</summary>
internal sealed record SweepKnob(string Name, string Label, double[] Values, Func<FlowArchitecture, double, FlowArchitecture> Apply)
{
    /// <summary>
    /// The paper's robustness study over the number of leapfrog steps, the integration time and the network width,
    /// and the number of Hamiltonians in sequence. The paper's fourth knob, the prior's scale, has no counterpart: the
    /// base N(0, I) acts on the coordinates of the Gaussian fitted to the data, so its scale is the data's.
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
        new SweepKnob("hamiltonians", "Hamiltonians T in sequence (L = 4 each, own networks)", quick ? new[] { 1.0, 2 } : new[] { 1.0, 2, 4, 8 },
            (a, v) => a with { Hamiltonians = (int)v }),
    };
}
