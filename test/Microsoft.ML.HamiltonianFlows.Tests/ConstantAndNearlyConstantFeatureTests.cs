using Microsoft.ML.HamiltonianFlows.Torch;
using Microsoft.ML.HamiltonianFlows.Training;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace Microsoft.ML.HamiltonianFlows.Tests;

/// <summary>
/// The fitted Gaussian keeps each feature's own scale, however small, and gives a feature that is constant in training
/// the varying features' typical scale and no correlation, so that every row still has a finite density and the ranking
/// of rows does not depend on the data's units; the trained flow leaves such a feature to that Gaussian.
/// </summary>
public sealed class ConstantAndNearlyConstantFeatureTests
{
    [Fact]
    public void ANearlyConstantFeatureKeepsItsScaleAndAConstantOneGetsTheTypicalScaleAndNoCorrelation()
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
        // The geometric mean of the other three standard deviations (about 1, 3.6 and 0.001).
        Assert.Equal(Math.Pow((double)scale[0] * scale[1] * scale[2], 1.0 / 3), scale[3], 1e-5);
        Assert.Equal(5f, flow.Gaussian.Mean.data<float>()[3]);
        float[] covariance = flow.Gaussian.CovarianceMatrix().data<float>().ToArray();
        // Row and column 3 of the 4 x 4 covariance: the scale squared on the diagonal, 0 elsewhere.
        for (int j = 0; j < 4; j++)
        {
            Assert.Equal(j == 3 ? scale[3] * scale[3] : 0f, covariance[3 * 4 + j], 6);
            Assert.Equal(j == 3 ? scale[3] * scale[3] : 0f, covariance[j * 4 + 3], 6);
        }
        // The varying features keep their correlation: corr(0, 1) = 2 / sqrt(13), about 0.55.
        Assert.InRange(covariance[1] / Math.Sqrt(covariance[0] * covariance[5]), 0.5, 0.6);

        using var noGrad = no_grad();
        using var generator = new Generator(2);
        Tensor test = cat(new[] { data.narrow(0, 0, 5), tensor(new[] { 0f, 0f, 0f, 6f }).unsqueeze(0) });
        Assert.True(flow.LogLikelihood(test, 4, generator).isfinite().all().item<bool>());
    }

    [Fact]
    public void ChangingEveryFeaturesUnitsByOneFactorLeavesTheRankingOfRowsUnchanged()
    {
        // Pixels as 0-255 or as 0-1: the fitted Gaussian, with its heavier tail, of the rows times c is the same law in
        // other units, so each row's log-density moves by -d log c, a constant feature's included (a unit scale in data
        // units would make a row off the constant value cost c^2 times as much in the smaller units).
        using var scope = NewDisposeScope();
        Tensor points = TestFlows.Points(300, 2, 8);
        // Heavy-tailed first feature, so that the stage chooses a finite tail and the test covers it.
        Tensor x0 = points.narrow(1, 0, 1).Times(1.5).sinh();
        using Scalar three = 3f.ToScalar();
        Tensor data = cat(new[] { x0.Times(40).Plus(100), full(300, 1, three), x0.Times(20).Plus(points.narrow(1, 1, 1).Times(15)) }, 1);
        Tensor rows = cat(new[] { data.narrow(0, 0, 10), tensor(new[] { 100f, 300f, 0f, 60f, 3f, 40f, 140f, -50f, -20f, 100f, 3f, 0f }).view(4, 3) });
        const double c = 1.0 / 255;
        double[] LogDensities(Tensor fitted, Tensor scored)
        {
            using var flow = FlowTrainer.Train(new FlowArchitecture { Dimension = 3, HiddenLayers = new[] { 8 }, Precision = ScalarType.Float64 },
                fitted, new FlowTrainingOptions { MaxSteps = 0, Seed = 1 }).Flow;
            Assert.True(double.IsFinite(flow.Gaussian.Tail), "the heavy-tailed rows should choose a finite tail");
            using var noGrad = no_grad();
            using var generator = new Generator(5);
            return flow.LogLikelihood(scored.to(ScalarType.Float64), 2, generator).data<double>().ToArray();
        }

        double[] raw = LogDensities(data, rows), scaled = LogDensities(data.Times(c), rows.Times(c));
        for (int i = 0; i < raw.Length; i++)
            // The rows are float32, and the scaled ones round differently in their last bits.
            Assert.Equal(raw[i] - 3 * Math.Log(c), scaled[i], 1e-4);
        // A row off the constant value (3 -> 300) is among those scored, and costs something against the same row on it.
        Assert.True(raw[10] < raw[13] - 1, $"off the constant value {raw[10]:G4}, on it {raw[13]:G4}");
    }

    [Theory]
    [InlineData(KineticEnergyKind.Quadratic)]
    [InlineData(KineticEnergyKind.Neural)]
    public void TrainingLeavesAConstantFeatureToTheGaussianStageAndSamplesDrawItsValue(KineticEnergyKind kinetic)
    {
        using var scope = NewDisposeScope();
        // Features 0 and 2: a banana, x2 = x0^2 + noise, something for training to learn; feature 1 constant at 5.
        Tensor points = TestFlows.Points(400, 2, 6);
        Tensor x0 = points.narrow(1, 0, 1);
        using Scalar five = 5f.ToScalar();
        Tensor data = cat(new[] { x0, full(400, 1, five), (x0 * x0).Plus(points.narrow(1, 1, 1).Times(0.3)) }, 1);
        var result = FlowTrainer.Train(new FlowArchitecture { Dimension = 3, HiddenLayers = new[] { 16, 16 }, Kinetic = kinetic }, data,
            new FlowTrainingOptions { MaxSteps = 1000, Seed = 1 });
        using var flow = result.Flow;
        Assert.Equal(new[] { 1f, 0f, 1f }, flow.Gaussian.Varying.data<float>().ToArray());
        Assert.True(result.DensityValidationLoss < result.GaussianValidationLoss - 0.1,
            $"training should learn the banana: validation loss {result.DensityValidationLoss} against the Gaussian's {result.GaussianValidationLoss}");

        using var noGrad = no_grad();
        // The flow holds the constant feature's coordinate and its networks never see it, so the density along it is the
        // Gaussian stage's (the typical scale, no correlation, and the stage's tail if it chose one). With the same noise, moving
        // a row by delta there changes log p exactly as it changes the stage's log-density, whatever training learned
        // about the other features.
        Tensor rows = data.narrow(0, 0, 20);
        using var generator = new Generator(4);
        Tensor noise = randn(new long[] { 8, 20, flow.NoiseWidth }, generator: generator);
        Tensor logP = flow.LogLikelihood(rows, noise);
        foreach (float delta in new[] { 1.5f, -2.5f })
        {
            Tensor moved = rows.Plus(tensor(new[] { 0f, delta, 0f }));
            Tensor stageChange = StageLogDensity(flow, moved) - StageLogDensity(flow, rows);
            Assert.True(stageChange.max().item<float>() < -0.1f, "the stage's density should fall off the constant value");
            double error = TestFlows.MaxAbs(flow.LogLikelihood(moved, noise) - logP - stageChange);
            Assert.True(error < 1e-3, $"delta {delta}: log p moved by {error:G3} more or less than the stage's log-density");
        }

        // Saved weights keep the mask: the loaded flow scores the rows as the trained one does.
        using (var stream = new MemoryStream())
        {
            FlowWeightsFormat.Save(flow, stream);
            stream.Position = 0;
            using var loaded = FlowWeightsFormat.Load(stream);
            Assert.Equal(0, TestFlows.MaxAbs(loaded.LogLikelihood(rows, noise) - logP));
        }

        // Draws of the constant feature are its value; the others keep their spread.
        Tensor q = flow.Sample(2000, generator).Q;
        Assert.Equal(0, TestFlows.MaxAbs(q.select(1, 1).Plus(-5)));
        Assert.InRange(q.select(1, 0).std().item<float>(), 0.7f, 1.3f);
    }

    private static Tensor StageLogDensity(HamiltonianFlow flow, Tensor x)
    {
        var (z, logJacobian) = flow.Gaussian.Whiten(x);
        return StandardNormal.LogProbability(z).Plus(logJacobian);
    }
}
