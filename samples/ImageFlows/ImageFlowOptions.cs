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
        LearningRate = budget.LearningRate,
        ScoringImportanceSamples = budget.ImportanceSamples,
        Seed = budget.Seed,
        NumberOfThreads = 1,
    };
}
