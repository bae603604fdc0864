using Microsoft.ML.HamiltonianFlows;
using Microsoft.ML.HamiltonianFlows.Torch;

namespace ImageFlows;

/// <summary>The trainer options both image experiments share, from a budget.</summary>
internal static class ImageFlowOptions
{
    public static HamiltonianFlowTrainer.Options Create(ImageBudget budget, KineticEnergyKind kinetic) => new()
    {
        KineticEnergy = kinetic,
        HiddenLayers = new[] { budget.Width, budget.Width },
        LeapfrogSteps = budget.LeapfrogSteps,
        // The step budget decides; epochs only cap it.
        Epochs = int.MaxValue,
        MaxSteps = budget.Steps,
        BatchSize = budget.BatchSize,
        LearningRate = budget.LearningRate,
        ImportanceSamples = budget.ImportanceSamples,
        Seed = budget.Seed,
        NumberOfThreads = 1,
    };
}
