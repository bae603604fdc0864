using Microsoft.ML.HamiltonianFlows.Torch;
using Microsoft.ML.HamiltonianFlows.Training;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace Microsoft.ML.HamiltonianFlows.Tests;

/// <summary>
/// The fitted Gaussian keeps each feature's own scale, however small, and gives a feature that is constant in training
/// unit variance in its own units and no correlation, so that every row still has a finite density.
/// </summary>
public sealed class ConstantAndNearlyConstantFeatureTests
{
    [Fact]
    public void ANearlyConstantFeatureKeepsItsScaleAndAConstantOneGetsUnitVarianceAndNoCorrelation()
    {
        using var scope = NewDisposeScope();
        // Standard deviations about 1, 3 and 0.001, the second correlated with the first; the fourth constant at 5.
        Tensor points = TestFlows.Points(2000, 3, 4);
        Tensor varying = (points * tensor(new[] { 1f, 3f, 0.001f })).Plus(points.narrow(1, 0, 1) * tensor(new[] { 0f, 2f, 0f }));
        using Scalar five = 5f.ToScalar();
        Tensor data = cat(new[] { varying, full(2000, 1, five) }, 1);

        var result = FlowTrainer.Train(new FlowArchitecture { Dimension = 4, HiddenLayers = new[] { 8 }, Hamiltonians = 1 }, data,
            new FlowTrainingOptions { MaxSteps = 0, Seed = 1 });
        using var flow = result.Flow;

        float[] scale = flow.Gaussian.Scale.data<float>().ToArray();
        Assert.InRange(scale[2], 0.0009f, 0.0011f);
        Assert.Equal(1f, scale[3]);
        Assert.Equal(5f, flow.Gaussian.Mean.data<float>()[3]);
        float[] covariance = flow.Gaussian.CovarianceMatrix().data<float>().ToArray();
        // Row and column 3 of the 4 x 4 covariance: 1 on the diagonal, 0 elsewhere.
        for (int j = 0; j < 4; j++)
        {
            Assert.Equal(j == 3 ? 1f : 0f, covariance[3 * 4 + j], 6);
            Assert.Equal(j == 3 ? 1f : 0f, covariance[j * 4 + 3], 6);
        }
        // The varying features keep their correlation: corr(0, 1) = 2 / sqrt(13), about 0.55.
        Assert.InRange(covariance[1] / Math.Sqrt(covariance[0] * covariance[5]), 0.5, 0.6);

        using var noGrad = no_grad();
        using var generator = new Generator(2);
        Tensor test = cat(new[] { data.narrow(0, 0, 5), tensor(new[] { 0f, 0f, 0f, 6f }).unsqueeze(0) });
        Assert.True(flow.LogLikelihood(test, 4, generator).isfinite().all().item<bool>());
    }
}
