using Microsoft.ML.HamiltonianFlows.Torch;
using Microsoft.ML.HamiltonianFlows.Training;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace Microsoft.ML.HamiltonianFlows.Tests;

/// <summary>
/// A training row with a feature thousands of standard deviations from the others is left out of the fit (and counted),
/// so that it cannot set the Gaussian's scale; heavy but real tails are kept.
/// </summary>
[Collection(TorchGlobalGeneratorCollection.Name)]
public sealed class GrossOutlierTests
{
    private static readonly FlowArchitecture Architecture = new() { Dimension = 3, HiddenLayers = new[] { 8 }, Hamiltonians = 1, LeapfrogSteps = 2 };

    private static FlowTrainingResult FitGaussian(Tensor data) => FlowTrainer.Train(Architecture, data, new FlowTrainingOptions { MaxSteps = 0, Seed = 1 });

    [Fact]
    public void ARowAMillionStandardDeviationsOutIsExcludedAndTheGaussianIsTheOneOfTheOtherRows()
    {
        using var scope = NewDisposeScope();
        Tensor clean = (TestFlows.Points(300, 3, 1) * tensor(new[] { 1f, 5f, 0.2f })).Plus(tensor(new[] { 10f, -3f, 0f }));
        // Feature 1 of one row, in the middle of the data, at a million of its standard deviations.
        Tensor outlier = tensor(new[] { 10f, -3f + 5e6f, 0f }).unsqueeze(0);
        Tensor data = cat(new[] { clean.narrow(0, 0, 137), outlier, clean.narrow(0, 137, 163) });

        var alone = FitGaussian(clean);
        var withOutlier = FitGaussian(data);
        using var aloneFlow = alone.Flow;
        using var flow = withOutlier.Flow;

        Assert.Equal(0, alone.ExcludedRows);
        Assert.Equal(1, withOutlier.ExcludedRows);
        FloatTolerance.Close(TestFlows.Values(aloneFlow.Gaussian.Scale), TestFlows.Values(flow.Gaussian.Scale), "scale", 1e-6);
        FloatTolerance.Close(TestFlows.Values(aloneFlow.Gaussian.Mean), TestFlows.Values(flow.Gaussian.Mean), "mean", 1e-6);
        FloatTolerance.Close(TestFlows.Values(aloneFlow.Gaussian.CovarianceMatrix()), TestFlows.Values(flow.Gaussian.CovarianceMatrix()), "covariance");

        // Left out of the fit, scored as usual: as extremely unlikely, not as NaN.
        using var noGrad = no_grad();
        using var generator = new Generator(2);
        float[] logLikelihood = flow.LogLikelihood(data.narrow(0, 136, 3), 4, generator).data<float>().ToArray();
        Assert.True(logLikelihood[1] < -1e9, $"the outlier's log-likelihood {logLikelihood[1]}");
        Assert.True(float.IsFinite(logLikelihood[0]) && logLikelihood[0] > -50, $"a clean row's log-likelihood {logLikelihood[0]}");
    }

    [Fact]
    public void AHeavyTailedColumnWithValuesAtFiftyStandardDeviationsExcludesNothing()
    {
        using var scope = NewDisposeScope();
        Tensor data = TestFlows.Points(300, 3, 3);
        // A few values of column 2 at 50 of the other values' standard deviations, both sides: real tails, not errors.
        foreach (var (row, value) in new[] { (10, 50f), (120, -50f), (200, 50f), (250, 45f) })
            data[row, 2] = tensor(value);

        var result = FitGaussian(data);
        using var flow = result.Flow;

        Assert.Equal(0, result.ExcludedRows);
        // The tails are in the fit: column 2's standard deviation is well above the others'.
        double[] scale = TestFlows.Values(flow.Gaussian.Scale);
        Assert.True(scale[2] > 3 * scale[0], $"scales {string.Join(", ", scale)}");
    }

    [Fact]
    public void TheMLNetTrainerWarnsHowManyRowsItLeftOutBeforeTrainingStarts()
    {
        var ml = new MLContext(seed: 1);
        var messages = new List<(Runtime.ChannelMessageKind Kind, string Text)>();
        ml.Log += (_, e) => { lock (messages) messages.Add((e.Kind, e.Message)); };
        var rows = HamiltonianFlowTransformerTests.Clusters(200, 1)
            .Append(new HamiltonianFlowTransformerTests.Point { Features = new[] { 1e9f, 0f } }).ToArray();
        var options = HamiltonianFlowTransformerTests.SmallOptions();
        options.MaxSteps = 2;

        ml.Transforms.HamiltonianFlow(options).Fit(ml.Data.LoadFromEnumerable(rows));

        lock (messages)
        {
            int warning = messages.FindIndex(m => m.Kind == Runtime.ChannelMessageKind.Warning
                && m.Text.Contains("Left 1 training rows out of the fit") && m.Text.Contains("'Features'"));
            int firstStep = messages.FindIndex(m => m.Text.Contains("Step 0:"));
            Assert.True(warning >= 0, "no warning of the row left out");
            Assert.True(firstStep >= 0, "no report of step 0");
            // The user hears of the data's problem while the fit is still starting, not after it has run its course.
            Assert.True(warning < firstStep, $"the warning came at message {warning}, after step 0's report at {firstStep}");
        }
    }
}
