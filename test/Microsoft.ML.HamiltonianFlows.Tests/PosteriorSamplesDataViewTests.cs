using Microsoft.ML.Data;
using Microsoft.ML.HamiltonianFlows.Inference;
using Microsoft.ML.HamiltonianFlows.Torch;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace Microsoft.ML.HamiltonianFlows.Tests;

public class PosteriorSamplesDataViewTests
{
    [Fact]
    public void SamplesViewHasOneColumnPerParameterAVectorAndTheLogWeights()
    {
        var architecture = new FlowArchitecture { Dimension = 2, HiddenLayers = new[] { 8 }, LeapfrogSteps = 2 };
        using var posterior = PosteriorSampler.Train(architecture, x => -x.Squared().sum(1),
            new PosteriorSamplerOptions { Steps = 3, BatchSize = 16, NumberOfThreads = 1 });
        using var generator = new Generator(1);
        var samples = posterior.Sample(10, generator);

        var ml = new MLContext(seed: 1);
        IDataView view = ml.Data.LoadFromPosteriorSamples(samples, new[] { "OmegaM", "OmegaLambda" });
        Assert.Equal(new[] { "OmegaM", "OmegaLambda", "Parameters", "LogWeight" }, view.Schema.Select(c => c.Name));
        Assert.Equal(2, ((VectorDataViewType)view.Schema["Parameters"].Type).Size);
        Assert.Equal(NumberDataViewType.Double, view.Schema["LogWeight"].Type);

        float[] second = view.GetColumn<float>("OmegaLambda").ToArray();
        float[][] vectors = view.GetColumn<float[]>("Parameters").ToArray();
        double[] logWeights = view.GetColumn<double>("LogWeight").ToArray();
        Assert.Equal(10, second.Length);
        for (int i = 0; i < 10; i++)
        {
            Assert.Equal((float)samples.Values[2 * i + 1], second[i]);
            Assert.Equal((float)samples.Values[2 * i], vectors[i][0]);
            Assert.Equal(samples.LogWeights[i], logWeights[i]);
        }

        var error = Assert.Throws<ArgumentOutOfRangeException>(() => ml.Data.LoadFromPosteriorSamples(samples, new[] { "A", "A" }));
        Assert.Contains("'A'", error.Message);
        Assert.Equal("parameterNames", error.ParamName);
        // A column name that repeats another is named as the argument that repeats it.
        error = Assert.Throws<ArgumentOutOfRangeException>(() => ml.Data.LoadFromPosteriorSamples(samples, new[] { "A", "B" }, vectorColumnName: "A"));
        Assert.Equal("vectorColumnName", error.ParamName);
        error = Assert.Throws<ArgumentOutOfRangeException>(() => ml.Data.LoadFromPosteriorSamples(samples, new[] { "A", "B" }, logWeightColumnName: "B"));
        Assert.Equal("logWeightColumnName", error.ParamName);
    }
}
