using Xunit;

namespace Microsoft.ML.HamiltonianFlows.Tests;

/// <summary>
/// Tests that compare two trainings bit for bit. Weight initialisation draws from torch's process-wide generator,
/// which the engine tests reseed and draw from in parallel; these run on their own, after the parallel ones.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class TorchGlobalGeneratorCollection
{
    public const string Name = "Torch global generator";
}
