namespace ImageFlows;

/// <summary>
/// Size and training budget of an image run: images downsampled to <paramref name="Side"/> x Side, networks of two
/// hidden layers of <paramref name="Width"/>, <paramref name="Steps"/> Adam steps of <paramref name="BatchSize"/> rows.
/// </summary>
internal sealed record ImageBudget(int Side, int Width, int LeapfrogSteps, int Steps, int BatchSize,
    int MaxTrainImages, int MaxTestImages, int ImportanceSamples, int Seed)
{
    /// <summary>The reduced variant used for docs/experiments.md: 14 x 14 images, minutes per model on 2 cores.</summary>
    public static readonly ImageBudget Reduced = new(Side: 14, Width: 256, LeapfrogSteps: 4, Steps: 1000, BatchSize: 128,
        MaxTrainImages: 60000, MaxTestImages: 10000, ImportanceSamples: 16, Seed: 1);

    /// <summary>Seconds, for the CI smoke test: 7 x 7 images, few rows and steps; the numbers are not meaningful.</summary>
    public static readonly ImageBudget Quick = new(Side: 7, Width: 32, LeapfrogSteps: 2, Steps: 30, BatchSize: 64,
        MaxTrainImages: 600, MaxTestImages: 500, ImportanceSamples: 2, Seed: 1);

    /// <summary>Throws naming the first invalid option.</summary>
    public void Validate()
    {
        if (Side is not (28 or 14 or 7 or 4 or 2 or 1))
            throw new ArgumentException($"--side must divide 28 (28, 14, 7, 4, 2 or 1), got {Side}.");
        if (Width < 1 || LeapfrogSteps < 1 || Steps < 1 || BatchSize < 1 || MaxTrainImages < 1 || MaxTestImages < 1 || ImportanceSamples < 1)
            throw new ArgumentException($"--width ({Width}), --leapfrog-steps ({LeapfrogSteps}), --steps ({Steps}), batch size ({BatchSize}), " +
                                        $"--max-train ({MaxTrainImages}), --max-test ({MaxTestImages}) and --importance-samples ({ImportanceSamples}) must be at least 1.");
    }
}
