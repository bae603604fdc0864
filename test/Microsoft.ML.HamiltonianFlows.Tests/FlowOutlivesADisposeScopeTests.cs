using Microsoft.ML.HamiltonianFlows.Torch;
using Microsoft.ML.HamiltonianFlows.Training;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace Microsoft.ML.HamiltonianFlows.Tests;

/// <summary>
/// A flow trained inside the caller's dispose scope, the usual TorchSharp pattern for temporaries, keeps all of its state
/// when the scope ends: the Gaussian stage's buffers as well as the parameters.
/// </summary>
public sealed class FlowOutlivesADisposeScopeTests
{
    [Theory]
    [InlineData(ScalarType.Float32)]
    [InlineData(ScalarType.Float64)]
    public void AFlowTrainedInsideADisposeScopeScoresSavesAndLoadsAfterTheScopeEnds(ScalarType precision)
    {
        var architecture = new FlowArchitecture { Dimension = 2, HiddenLayers = new[] { 8 }, Hamiltonians = 1, Precision = precision };
        HamiltonianFlow flow;
        using (var scope = NewDisposeScope())
        {
            Tensor data = TestFlows.Points(100, 2, 1).Times(3).Plus(1);
            flow = FlowTrainer.Train(architecture, data, new FlowTrainingOptions { MaxSteps = 2 }).Flow;
        }
        using (flow)
        {
            Assert.All(flow.state_dict().Values, t => Assert.False(t.IsInvalid));
            using var scope = NewDisposeScope();
            using var noGrad = no_grad();
            Tensor x = TestFlows.Points(5, 2, 2, precision);
            Assert.True(flow.LogLikelihood(x, 2).isfinite().all().item<bool>());

            using var stream = new MemoryStream();
            FlowWeightsFormat.Save(flow, stream);
            stream.Position = 0;
            using var loaded = FlowWeightsFormat.Load(stream);
            Assert.Equal(flow.Gaussian.Scale.to(ScalarType.Float64).data<double>().ToArray(), loaded.Gaussian.Scale.to(ScalarType.Float64).data<double>().ToArray());
        }
    }
}
