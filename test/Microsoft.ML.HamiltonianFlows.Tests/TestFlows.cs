using Microsoft.ML.HamiltonianFlows.Torch;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.HamiltonianFlows.Tests;

/// <summary>Small flows and data shared by the engine tests.</summary>
internal static class TestFlows
{
    /// <summary>Every kinetic, mass and layering choice the engine offers.</summary>
    public static IEnumerable<object[]> AllVariants() =>
        from kinetic in new[] { KineticEnergyKind.Quadratic, KineticEnergyKind.Neural }
        from mass in kinetic == KineticEnergyKind.Quadratic
            ? new[] { MassKind.Identity, MassKind.LearnedScalar, MassKind.LearnedDiagonal }
            : new[] { MassKind.Identity }
        from hamiltonians in new[] { 1, 3 }
        from activation in new[] { Activation.Softplus, Activation.Tanh }
        select new object[] { kinetic, mass, hamiltonians, activation };

    public static HamiltonianFlow Build(FlowArchitecture architecture, int seed = 7)
    {
        var flow = HamiltonianFlow.Create(architecture, seed);
        // Move every parameter off its initial value: the zero-initialised output layers (a flat potential,
        // an N(0, I) encoder) and the unit masses would make the dynamics too trivial to test.
        using var noGrad = no_grad();
        using var generator = new Generator((ulong)seed);
        foreach (var parameter in flow.parameters())
            parameter.PlusInPlace(rand(parameter.shape, dtype: parameter.dtype, generator: generator).Times(0.3).Plus(-0.15));
        return flow;
    }

    public static Tensor Points(long n, long d, int seed, ScalarType dtype = ScalarType.Float32)
    {
        using var generator = new Generator((ulong)seed);
        return randn(new[] { n, d }, dtype: dtype, generator: generator);
    }

    /// <summary>A tensor's values, as float64, in row-major order.</summary>
    public static double[] Values(Tensor t) => t.to(ScalarType.Float64).data<double>().ToArray();

    public static double MaxAbs(Tensor t) => t.abs().max().to(ScalarType.Float64).item<double>();

    /// <summary>Copies of all parameters and buffers, to compare models bit for bit.</summary>
    public static Dictionary<string, float[]> Weights(HamiltonianFlow flow) =>
        flow.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.to(ScalarType.Float32).data<float>().ToArray());
}
