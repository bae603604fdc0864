using System.Diagnostics;
using Microsoft.ML.HamiltonianFlows.Torch;
using Microsoft.ML.HamiltonianFlows.Training;
using Xunit;
using Xunit.Abstractions;
using static Microsoft.ML.HamiltonianFlows.Tests.HamiltonianFlowTransformerTests;

namespace Microsoft.ML.HamiltonianFlows.Tests;

/// <summary>Cancelling a fit part-way through an epoch: it returns promptly, and the next fit is unaffected.</summary>
[Collection(TorchGlobalGeneratorCollection.Name)]
public sealed class CancellationTests
{
    private static readonly FlowArchitecture Architecture = new() { Dimension = 4, HiddenLayers = new[] { 32, 32 }, LeapfrogSteps = 4 };

    private readonly ITestOutputHelper output;

    public CancellationTests(ITestOutputHelper output) => this.output = output;

    [Fact]
    public void CancellingMidEpochStopsWithinABatchAndTheNextFitIsTheUncancelledOne()
    {
        using var data = TestFlows.Points(2048, 4, 1);
        var options = new FlowTrainingOptions { Epochs = 2, BatchSize = 128, Seed = 3, NumberOfThreads = 1 };
        Dictionary<string, float[]> before;
        using (var flow = FlowTrainer.Train(Architecture, data, options).Flow)
            before = TestFlows.Weights(flow);

        // The first epoch times a batch; half an epoch into the second, another thread cancels.
        using var cancellation = new CancellationTokenSource();
        var clock = Stopwatch.StartNew();
        double batchSeconds = 0, cancelledAt = 0;
        Thread? canceller = null;
        var error = Assert.ThrowsAny<OperationCanceledException>(() => FlowTrainer.Train(Architecture, data, options with { Epochs = 1000 }, progress =>
        {
            if (progress.Epoch != 1)
                return;
            batchSeconds = clock.Elapsed.TotalSeconds / progress.Steps;
            canceller = new Thread(() =>
            {
                Thread.Sleep(TimeSpan.FromSeconds(batchSeconds * progress.Steps / 2));
                cancelledAt = clock.Elapsed.TotalSeconds;
                cancellation.Cancel();
            });
            canceller.Start();
        }, cancellation.Token));
        double latency = clock.Elapsed.TotalSeconds - cancelledAt;
        canceller!.Join();
        output.WriteLine($"one batch {batchSeconds * 1000:F1} ms; returned {latency * 1000:F1} ms after Cancel");
        // Within one batch, plus generous room for a busy machine; not cancelling would take 1000 epochs.
        Assert.True(latency < batchSeconds + 0.5, $"returned {latency:F3} s after Cancel; a batch takes {batchSeconds:F3} s");

        using var again = FlowTrainer.Train(Architecture, data, options).Flow;
        var after = TestFlows.Weights(again);
        foreach (string key in before.Keys)
            Assert.Equal(before[key], after[key]);
    }

    [Fact]
    public void CancellingAnMLContextStopsItsFitAndAFreshContextFitsAsBefore()
    {
        var data = Clusters(400, 1);
        float[] Scores(MLContext ml, HamiltonianFlowTransformer model) =>
            ml.Data.CreateEnumerable<Scored>(model.Transform(ml.Data.LoadFromEnumerable(Clusters(50, 2))), reuseRowObject: false).Select(s => s.LogLikelihood).ToArray();
        var first = new MLContext(seed: 1);
        var expected = Scores(first, first.Transforms.HamiltonianFlow(SmallOptions()).Fit(first.Data.LoadFromEnumerable(data)));

        var cancelled = new MLContext(seed: 1);
        var clock = Stopwatch.StartNew();
        double cancelledAt = 0;
        cancelled.Log += (_, e) =>
        {
            if (e.Message.Contains("Epoch 1:") && cancelledAt == 0)
            {
                cancelledAt = clock.Elapsed.TotalSeconds;
                CancelExecution(cancelled);
            }
        };
        var options = SmallOptions();
        options.Epochs = 100_000;
        Assert.ThrowsAny<OperationCanceledException>(() => cancelled.Transforms.HamiltonianFlow(options).Fit(cancelled.Data.LoadFromEnumerable(data)));
        double latency = clock.Elapsed.TotalSeconds - cancelledAt;
        output.WriteLine($"MLContext fit returned {latency * 1000:F1} ms after CancelExecution (polled every 50 ms)");
        Assert.True(latency < 1, $"returned {latency:F3} s after CancelExecution");

        // ML.NET's cancellation is a state of the context: a context once cancelled cancels every later fit.
        Assert.ThrowsAny<OperationCanceledException>(() => cancelled.Transforms.HamiltonianFlow(SmallOptions()).Fit(cancelled.Data.LoadFromEnumerable(data)));
        var fresh = new MLContext(seed: 1);
        Assert.Equal(expected, Scores(fresh, fresh.Transforms.HamiltonianFlow(SmallOptions()).Fit(fresh.Data.LoadFromEnumerable(data))));
    }
}
