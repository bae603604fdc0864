using TorchSharp;
using Xunit;
namespace Microsoft.ML.HamiltonianFlows.Tests;
public class TorchLoadTests
{
    [Fact]
    public void TorchSharpLoadsAndAddsTensors()
    {
        using var a = torch.tensor(new float[] { 1, 2 });
        using Scalar one = 1.ToScalar();
        using var b = a.add(a, one);
        Assert.Equal(4f, b[1].item<float>());
    }
}
