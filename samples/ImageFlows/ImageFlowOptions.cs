using Microsoft.ML.HamiltonianFlows;
using Microsoft.ML.HamiltonianFlows.Torch;

namespace ImageFlows;

/// <summary>The trainer options both image experiments share, from a budget.</summary>
internal static class ImageFlowOptions
{
    public static TOptions Create<TOptions>(ImageBudget budget, KineticEnergyKind kinetic) where TOptions : HamiltonianFlowOptionsBase, new() => new()
    {
        KineticEnergy = kinetic,
        HiddenLayers = new[] { budget.Width, budget.Width },
        LeapfrogSteps = budget.LeapfrogSteps,
        // One Hamiltonian, as in docs/experiments.md, not the library's default of 4 (chosen on tabular data).
        Hamiltonians = 1,
        // The paper's potential, the network alone, as in docs/experiments.md; `--defaults` fits with the library's wells.
        SeparableWells = false,
        // The whole step budget on all the training images: both variants are compared at the same budget.
        MaxSteps = budget.Steps,
        ValidationFraction = 0,
        BatchSize = budget.BatchSize,
        // The learning rate is the library's for the width (3e-3 sqrt(d / 16): 1.05e-2 at 14 x 14): at the 1e-3 this sample
        // used before, the fixed-kinetic model of Fashion-MNIST learned nothing in 1,000 steps (4.560 bits/dim against
        // 4.457; docs/experiments.md, section 3).
        ScoringImportanceSamples = budget.ImportanceSamples,
        Seed = budget.Seed,
        NumberOfThreads = 1,
    };
}
