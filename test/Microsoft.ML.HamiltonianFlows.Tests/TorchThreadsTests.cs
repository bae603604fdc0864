using Microsoft.ML.HamiltonianFlows.Torch;
using Microsoft.ML.HamiltonianFlows.Training;
using Xunit;
using static TorchSharp.torch;

namespace Microsoft.ML.HamiltonianFlows.Tests;

/// <summary>Tests that read libtorch's process-wide thread count: run alone, after the parallel ones.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public class ProcessWideTorchSettingsCollection
{
    public const string Name = "Process-wide torch settings";
}

[Collection(ProcessWideTorchSettingsCollection.Name)]
public class TorchThreadsTests
{
    [Fact]
    public void AFitWithAThreadCountLeavesTorchsCountAsItWas()
    {
        int before = get_num_threads();
        int other = before == 1 ? 2 : 1;
        using var rows = randn(200, 2, generator: new Generator(1));

        using (var result = FlowTrainer.Train(new FlowArchitecture { Dimension = 2, Hamiltonians = 1 }, rows,
                   new FlowTrainingOptions { MaxSteps = 3, NumberOfThreads = other, Seed = 1 },
                   progress: _ => Assert.Equal(other, get_num_threads())).Flow)
        {
        }

        Assert.Equal(before, get_num_threads());
    }

    [Fact]
    public void OverlappingCallsRestoreTheCountTheFirstFound()
    {
        int before = get_num_threads();
        // Both counts differ from the one found, so that a restore that never happens cannot pass unseen.
        var first = TorchThreads.Use(before + 1);
        var second = TorchThreads.Use(before + 2);
        Assert.Equal(before + 2, get_num_threads());
        first.Dispose();
        Assert.Equal(before + 2, get_num_threads());
        second.Dispose();
        Assert.Equal(before, get_num_threads());

        using (TorchThreads.Use(null))
            Assert.Equal(before, get_num_threads());
    }
}
