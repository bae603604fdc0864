namespace GaussianMixture2D;

/// <summary>Budget of one run of the experiment.</summary>
internal sealed record RunSettings(int Steps, int TrainPoints, int TestPoints, int ImportanceSamples, int GridCells, int Seed)
{
    /// <summary>The main job: both models in under 5 minutes on 2 cores.</summary>
    public static readonly RunSettings Default = new(Steps: 5000, TrainPoints: 20000, TestPoints: 5000, ImportanceSamples: 128, GridCells: 100, Seed: 1);

    /// <summary>Seconds, for smoke tests.</summary>
    public static readonly RunSettings Quick = new(Steps: 60, TrainPoints: 2000, TestPoints: 500, ImportanceSamples: 4, GridCells: 30, Seed: 1);
}
