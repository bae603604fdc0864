using Microsoft.ML.HamiltonianFlows.Torch;
using Microsoft.ML.HamiltonianFlows.Training;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace Microsoft.ML.HamiltonianFlows.Tests;

/// <summary>
/// With fewer rows than features the sample correlation is singular; Ledoit and Wolf's shrinkage towards the identity
/// keeps the fitted Gaussian positive definite, so the flow fits, trains and scores finitely.
/// </summary>
public sealed class FewerRowsThanFeaturesTests
{
    private const int Rows = 20, Features = 50;

    [Fact]
    public void TwentyRowsOfFiftyFeaturesGiveAPositiveDefiniteGaussianAndFiniteLikelihoods()
    {
        // Correlated features: a shared factor plus noise, so that the sample correlation is far from the identity too.
        using var scope = NewDisposeScope();
        Tensor points = TestFlows.Points(Rows + 10, Features, 1);
        Tensor data = points.Plus(TestFlows.Points(Rows + 10, 1, 2).Times(2));
        Tensor train = data.narrow(0, 0, Rows), test = data.narrow(0, Rows, 10);

        var result = FlowTrainer.Train(new FlowArchitecture { Dimension = Features, HiddenLayers = new[] { 16 } }, train,
            new FlowTrainingOptions { MaxSteps = 20, BatchSize = 8, Seed = 1 });
        using var flow = result.Flow;
        Assert.Equal(CovarianceKind.Full, flow.Gaussian.Covariance);

        Tensor covariance = flow.Gaussian.CovarianceMatrix().to(ScalarType.Float64);
        Assert.True(covariance.isfinite().all().item<bool>());
        Tensor eigenvalues = linalg.eigvalsh(covariance);
        double smallest = eigenvalues.min().item<double>(), largest = eigenvalues.max().item<double>();
        // The sample covariance has rank at most 19 of 50: its smallest eigenvalue is 0.
        Assert.True(smallest > 1e-3 * largest, $"eigenvalues {smallest} to {largest}");
        // The shrunk correlation keeps the shared factor: far from the identity.
        Assert.True(largest > 3 * smallest, $"eigenvalues {smallest} to {largest}");
        Assert.True(flow.Gaussian.Whiten(train).LogJacobian.isfinite().all().item<bool>());

        using var noGrad = no_grad();
        using var generator = new Generator(3);
        Assert.True(flow.LogLikelihood(train, 8, generator).isfinite().all().item<bool>());
        Assert.True(flow.LogLikelihood(test, 8, generator).isfinite().all().item<bool>());
        Assert.All(result.History, r => Assert.True(r.ValidationLoss is double v && double.IsFinite(v)));
    }
}
