using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.HamiltonianFlows.Torch;

/// <summary>
/// The potential energy V(q) = |q|^2 / 2 - sum_i a_i log cosh(b_i (q_i - c_i)) + f(q) of the Hamiltonian, with f a
/// multilayer perceptron R^d -&gt; R that starts at zero and the well depths a_i starting at zero (without
/// <see cref="FlowArchitecture.SeparableWells"/>, V(q) = |q|^2 / 2 + f(q), as in the paper). In the fixed-kinetic
/// NHF it is the only learned energy, and it reads as an energy landscape of the data in the coordinates of the fitted
/// Gaussian (<see cref="GaussianStage"/>): the quadratic part is -log N(q; 0, I) up to a constant, so the untrained V is
/// that Gaussian's energy and the dynamics it drives (with K = |p|^2 / 2) leave the base N(0, I) x N(0, I) in place;
/// training then moves V towards -log p of the data.
/// </summary>
/// <remarks>
/// The separable terms give each coordinate its own well shape: x^2 / 2 - log cosh(m x) is, up to a constant, the
/// energy of the mixture N(m, 1) / 2 + N(-m, 1) / 2, so a coordinate with a_i b_i^2 &gt; 1 has two wells (pixels that
/// are mostly dark or mostly lit, features with two levels), one with a_i &lt; 0 a narrower one, and c_i makes either
/// asymmetric. A network of a few dozen units cannot give hundreds of coordinates such shapes at once.
/// </remarks>
public sealed class Potential : nn.Module<Tensor, Tensor>
{
    private readonly Mlp net;
    private readonly Parameter? well_depth, well_sharpness, well_centre;

    internal Potential(int dimension, IReadOnlyList<int> hidden, Activation activation, bool wells) : base(nameof(Potential))
    {
        net = new Mlp("net", dimension, hidden, 1, activation, zeroOutput: true);
        if (wells)
        {
            well_depth = nn.Parameter(zeros(dimension));
            well_sharpness = nn.Parameter(ones(dimension));
            well_centre = nn.Parameter(zeros(dimension));
        }
        RegisterComponents();
    }

    /// <summary>V(q) for a batch q of shape [n, d]; returns [n].</summary>
    public override Tensor forward(Tensor q)
    {
        Tensor v = (q * q).sum(-1).Times(0.5).Plus(net.forward(q).squeeze(-1));
        if (well_depth is null)
            return v;
        Tensor u = (q - well_centre!) * well_sharpness!;
        // log cosh u = log(e^u + e^-u) - log 2, without overflow.
        Tensor logCosh = u.logaddexp(-u).Plus(-Math.Log(2));
        return v - (well_depth * logCosh).sum(-1);
    }

    /// <summary>dV/dq = q - a b tanh(b (q - c)) + df/dq for a batch q of shape [n, d]; returns [n, d], differentiable in the parameters.</summary>
    public Tensor Gradient(Tensor q)
    {
        Tensor gradient = q.Plus(net.InputGradient(q));
        return well_depth is null ? gradient : gradient - well_depth * well_sharpness! * ((q - well_centre!) * well_sharpness!).tanh();
    }
}
