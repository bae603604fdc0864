using Microsoft.ML.HamiltonianFlows.Torch;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace Microsoft.ML.HamiltonianFlows.Tests;

public class LeapfrogTests
{
    [Theory]
    [MemberData(nameof(TestFlows.AllVariants), MemberType = typeof(TestFlows))]
    public void InverseUndoesForwardInFloat32And64(KineticEnergyKind kinetic, MassKind mass, int hamiltonians, Activation activation)
    {
        foreach (var (precision, tolerance) in new[] { (ScalarType.Float32, 1e-4), (ScalarType.Float64, 1e-10) })
        {
            var architecture = new FlowArchitecture
            {
                Dimension = 3, HiddenLayers = new[] { 16, 16 }, Kinetic = kinetic, Mass = mass,
                Hamiltonians = hamiltonians, Activation = activation, Precision = precision, LeapfrogSteps = 5, StepSize = 0.2,
            };
            using var flow = TestFlows.Build(architecture);
            using var scope = NewDisposeScope();
            using var noGrad = no_grad();
            Tensor q = TestFlows.Points(64, 3, 1, precision), p = TestFlows.Points(64, 3, 2, precision);
            var (qT, pT) = flow.Forward(q, p);
            var (q0, p0) = flow.Inverse(qT, pT);

            Assert.True(TestFlows.MaxAbs(qT - q) > 1e-2, "the flow should move the points");
            double error = Math.Max(TestFlows.MaxAbs(q0 - q), TestFlows.MaxAbs(p0 - p));
            Assert.True(error < tolerance, $"{precision}: round-trip error {error:G3} exceeds {tolerance:G1}");
        }
    }

    [Theory]
    [InlineData(2, KineticEnergyKind.Quadratic)]
    [InlineData(3, KineticEnergyKind.Quadratic)]
    [InlineData(2, KineticEnergyKind.Neural)]
    [InlineData(3, KineticEnergyKind.Neural)]
    public void FlowMapHasUnitJacobianDeterminant(int d, KineticEnergyKind kinetic)
    {
        var architecture = new FlowArchitecture
        {
            Dimension = d, HiddenLayers = new[] { 16, 16 }, Kinetic = kinetic, Mass = MassKind.LearnedDiagonal,
            Hamiltonians = 2, Precision = ScalarType.Float64, LeapfrogSteps = 4, StepSize = 0.3,
        };
        using var flow = TestFlows.Build(architecture);
        using var scope = NewDisposeScope();
        Tensor x = TestFlows.Points(5, 2 * d, 3, ScalarType.Float64).requires_grad_(true);
        var (qT, pT) = flow.Forward(x.narrow(1, 0, d), x.narrow(1, d, d));
        Tensor y = cat(new[] { qT, pT }, 1);

        // Rows of the Jacobian of each point: d y_i / d x, batched over the 5 points (the map is row-wise).
        var rows = new List<Tensor>();
        for (int i = 0; i < 2 * d; i++)
            rows.Add(autograd.grad(new[] { y.select(1, i).sum() }, new[] { x }, retain_graph: true)[0]);
        Tensor jacobian = stack(rows, 1); // [5, 2d, 2d]
        Tensor determinants = linalg.det(jacobian);

        Assert.True((jacobian - eye(2 * d, dtype: ScalarType.Float64)).abs().max().item<double>() > 1e-2, "the map should not be the identity");
        Assert.True(determinants.Plus(-1).abs().max().item<double>() < 1e-9, $"det J = {determinants.ToString(TorchSharp.TensorStringStyle.Numpy)}");
    }

    [Theory]
    [InlineData(KineticEnergyKind.Quadratic)]
    [InlineData(KineticEnergyKind.Neural)]
    public void CoordinatesOfConstantFeaturesAreHeldAndTheMapStaysInvertibleWithUnitJacobian(KineticEnergyKind kinetic)
    {
        const int d = 4;
        var architecture = new FlowArchitecture
        {
            Dimension = d, HiddenLayers = new[] { 16, 16 }, Kinetic = kinetic, Mass = MassKind.LearnedDiagonal, SeparableWells = true,
            Hamiltonians = 2, Precision = ScalarType.Float64, LeapfrogSteps = 4, StepSize = 0.3,
        };
        using var flow = TestFlows.Build(architecture);
        using var scope = NewDisposeScope();
        // Features 1 and 3 constant in training: the stage marks them, and the dynamics must leave their coordinates alone.
        var identity = new double[d, d];
        for (int j = 0; j < d; j++)
            identity[j, j] = 1;
        flow.Gaussian.Set(new double[d], Enumerable.Repeat(1.0, d).ToArray(), identity, FeatureCells.None(d), constant: new[] { false, true, false, true });
        using (var noGrad = no_grad())
        using (var generator = new Generator(9))
        {
            // Random wells and a steep network, so that an unmasked step would move every coordinate.
            foreach (var parameter in flow.Layers.SelectMany(layer => layer.Hamiltonian.parameters()))
                parameter.copy_(randn(parameter.shape, dtype: parameter.dtype, generator: generator));
        }
        Tensor x = TestFlows.Points(5, 2 * d, 3, ScalarType.Float64).requires_grad_(true);
        Tensor q = x.narrow(1, 0, d), p = x.narrow(1, d, d);
        var (qT, pT) = flow.Forward(q, p);
        Tensor held = tensor(new long[] { 1, 3 }), moving = tensor(new long[] { 0, 2 });

        Assert.Equal(0, TestFlows.MaxAbs(qT.index_select(1, held) - q.index_select(1, held)));
        Assert.Equal(0, TestFlows.MaxAbs(pT.index_select(1, held) - p.index_select(1, held)));
        Assert.True(TestFlows.MaxAbs(qT.index_select(1, moving) - q.index_select(1, moving)) > 1e-2, "the other coordinates should move");
        var (q0, p0) = flow.Inverse(qT, pT);
        Assert.True(Math.Max(TestFlows.MaxAbs(q0 - q), TestFlows.MaxAbs(p0 - p)) < 1e-10);

        Tensor y = cat(new[] { qT, pT }, 1);
        var rows = new List<Tensor>();
        for (int i = 0; i < 2 * d; i++)
            rows.Add(autograd.grad(new[] { y.select(1, i).sum() }, new[] { x }, retain_graph: true)[0]);
        Tensor determinants = linalg.det(stack(rows, 1));
        Assert.True(determinants.Plus(-1).abs().max().item<double>() < 1e-9, $"det J = {determinants.ToString(TorchSharp.TensorStringStyle.Numpy)}");
    }

    [Theory]
    [InlineData(KineticEnergyKind.Quadratic)]
    [InlineData(KineticEnergyKind.Neural)]
    public void EnergyDriftShrinksWithTheSquareOfTheStepSize(KineticEnergyKind kinetic)
    {
        double Drift(double eps, int steps)
        {
            var architecture = new FlowArchitecture
            {
                // One Hamiltonian: energies of different Hamiltonians along one trajectory are not comparable.
                Dimension = 2, HiddenLayers = new[] { 32, 32 }, Kinetic = kinetic, Precision = ScalarType.Float64,
                LeapfrogSteps = steps, StepSize = eps, LearnStepSize = false, Hamiltonians = 1,
            };
            using var flow = TestFlows.Build(architecture, seed: 11);
            using var scope = NewDisposeScope();
            using var noGrad = no_grad();
            // Default initialisation gives nearly flat random energies; steeper ones make the drift measurable.
            using Scalar three = 3.ToScalar();
            foreach (var parameter in flow.Layers[0].Hamiltonian.parameters())
                parameter.mul_(three);
            Tensor energies = flow.EnergyAlongTrajectory(TestFlows.Points(32, 2, 4, ScalarType.Float64), TestFlows.Points(32, 2, 5, ScalarType.Float64));
            return (energies - energies[0]).abs().max().item<double>();
        }

        // Same integration time, step halved twice.
        double coarse = Drift(0.1, 10), fine = Drift(0.05, 20), finest = Drift(0.025, 40);
        Assert.True(coarse > 1e-6, $"drift {coarse:G3} too small to measure");
        Assert.InRange(coarse / fine, 3.0, 5.0);
        Assert.InRange(fine / finest, 3.5, 4.5);
    }

    [Fact]
    public void AStepsTemporariesAreFreedWhenItEndsNotWhenTheCallerScopeDoes()
    {
        // Scoring holds one dispose scope per call; the tensors left in it after integrating must not grow with the
        // number of steps, or a long trajectory holds every step's temporaries (hundreds of MB for image data).
        int LeftInScope(int steps)
        {
            var architecture = new FlowArchitecture { Dimension = 3, Hamiltonians = 1, LeapfrogSteps = steps };
            using var flow = TestFlows.Build(architecture);
            using var q = randn(16, 3);
            using var p = randn(16, 3);
            using var scope = NewDisposeScope();
            using var inference = inference_mode();
            var (q0, p0) = flow.Inverse(q, p);
            Assert.True(q0.isfinite().all().item<bool>() && p0.isfinite().all().item<bool>());
            return scope.DisposablesCount;
        }

        Assert.Equal(LeftInScope(2), LeftInScope(12));
    }
}
