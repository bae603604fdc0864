namespace SupernovaCosmology;

/// <summary>Budget of one run.</summary>
internal sealed record RunSettings(
    int GridColumns, int GridRows, int FlowSteps, int BatchSize, int FlowSamples, int DensitySamples,
    int Chains, int Warmup, int Draws, int LeapfrogSteps, int Seed)
{
    /// <summary>The report's run.</summary>
    public static readonly RunSettings Full = new(GridColumns: 200, GridRows: 300, FlowSteps: 2000, BatchSize: 128, FlowSamples: 20000,
        DensitySamples: 64, Chains: 8, Warmup: 500, Draws: 2000, LeapfrogSteps: 10, Seed: 1);

    /// <summary>Seconds to a minute, for smoke tests; the numbers are not meaningful.</summary>
    public static readonly RunSettings Quick = new(GridColumns: 50, GridRows: 75, FlowSteps: 100, BatchSize: 64, FlowSamples: 2000,
        DensitySamples: 8, Chains: 4, Warmup: 60, Draws: 100, LeapfrogSteps: 5, Seed: 1);
}
