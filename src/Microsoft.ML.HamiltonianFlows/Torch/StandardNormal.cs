using static TorchSharp.torch;

namespace Microsoft.ML.HamiltonianFlows.Torch;

/// <summary>The base distribution of the flow: a standard normal on each of q and p.</summary>
public static class StandardNormal
{
    private static readonly double LogTwoPi = Math.Log(2 * Math.PI);

    /// <summary>log N(x; 0, I) for a batch x of shape [n, d]; returns [n].</summary>
    public static Tensor LogProbability(Tensor x) => (x * x).sum(-1).Plus(x.shape[^1] * LogTwoPi).Times(-0.5);

    /// <summary>n draws of dimension d.</summary>
    public static Tensor Sample(long n, long d, ScalarType dtype, Device device, Generator? generator) =>
        randn(new[] { n, d }, dtype: dtype, device: device, generator: generator);
}
