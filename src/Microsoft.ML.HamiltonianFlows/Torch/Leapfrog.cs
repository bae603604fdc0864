using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.HamiltonianFlows.Torch;

/// <summary>
/// L leapfrog (Störmer-Verlet) steps of size eps for one Hamiltonian:
/// p &lt;- p - eps/2 dV/dq(q); q &lt;- q + eps dK/dp(p); p &lt;- p - eps/2 dV/dq(q).
/// Each sub-step is a shear, so the map is volume-preserving (no Jacobian determinant) and exactly
/// invertible: the inverse is the same integration with step -eps.
/// </summary>
/// <remarks>
/// The flow may hold some coordinates still (features constant in the training rows, <see cref="GaussianStage.Varying"/>):
/// with a mask m, 1 on the coordinates that move and 0 on those held, the steps follow H(q m, p m) on the moving
/// coordinates, p &lt;- p - eps/2 m dV/dq(q m) and q &lt;- q + eps m dK/dp(p m), and leave the held ones as they are. The
/// networks then never see a held coordinate, and each sub-step is still a shear.
/// </remarks>
public sealed class Leapfrog : nn.Module<Tensor, Tensor, (Tensor Q, Tensor P)>
{
    private readonly Hamiltonian hamiltonian;
    private readonly Tensor log_step_size;

    internal Leapfrog(FlowArchitecture architecture) : base(nameof(Leapfrog))
    {
        hamiltonian = new Hamiltonian(architecture);
        Steps = architecture.LeapfrogSteps;
        Tensor logEps = tensor(Math.Log(architecture.StepSize));
        log_step_size = architecture.LearnStepSize ? nn.Parameter(logEps) : logEps;
        if (!architecture.LearnStepSize)
            register_buffer(nameof(log_step_size), log_step_size);
        RegisterComponents();
    }

    /// <summary>The Hamiltonian this integrator follows.</summary>
    public Hamiltonian Hamiltonian => hamiltonian;

    /// <summary>Number of leapfrog steps L.</summary>
    public int Steps { get; }

    /// <summary>The step size eps (a scalar tensor; a parameter when learned).</summary>
    public Tensor StepSize => log_step_size.exp();

    /// <summary>
    /// Integrates forward in time: (q, p) at t = 0 to t = L eps, moving every coordinate (<see cref="HamiltonianFlow.Forward(Tensor, Tensor)"/>
    /// also holds those of the features constant in training).
    /// </summary>
    public override (Tensor Q, Tensor P) forward(Tensor q, Tensor p) => Integrate(q, p, StepSize, null, null);

    /// <summary><see cref="forward"/> moving only the coordinates where <paramref name="moving"/> is 1 (null: all).</summary>
    internal (Tensor Q, Tensor P) Forward(Tensor q, Tensor p, Tensor? moving) => Integrate(q, p, StepSize, moving, null);

    /// <summary>Exact inverse of <see cref="forward"/>: integrates with step -eps.</summary>
    public (Tensor Q, Tensor P) Inverse(Tensor q, Tensor p) => Integrate(q, p, -StepSize, null, null);

    /// <summary>Exact inverse of <see cref="Forward(Tensor, Tensor, Tensor?)"/> for the same <paramref name="moving"/>.</summary>
    internal (Tensor Q, Tensor P) Inverse(Tensor q, Tensor p, Tensor? moving) => Integrate(q, p, -StepSize, moving, null);

    /// <summary>
    /// Integrates forward and calls <paramref name="observer"/> with (q, p) at t = 0 and after every step,
    /// with p at whole steps (not the half-step momentum), as an energy check needs. The tensors it is given are disposed
    /// after the next step: the observer computes from them, it does not keep them.
    /// </summary>
    public (Tensor Q, Tensor P) Trace(Tensor q, Tensor p, Action<Tensor, Tensor> observer) => Trace(q, p, null, observer);

    /// <summary><see cref="Trace(Tensor, Tensor, Action{Tensor, Tensor})"/> moving only the coordinates where <paramref name="moving"/> is 1 (null: all).</summary>
    internal (Tensor Q, Tensor P) Trace(Tensor q, Tensor p, Tensor? moving, Action<Tensor, Tensor> observer)
    {
        observer(q, p);
        return Integrate(q, p, StepSize, moving, observer);
    }

    private (Tensor Q, Tensor P) Integrate(Tensor q, Tensor p, Tensor eps, Tensor? moving, Action<Tensor, Tensor>? observer)
    {
        Potential potential = hamiltonian.Potential;
        KineticEnergy kinetic = hamiltonian.Kinetic;
        Tensor Force(Tensor position) => moving is null ? potential.Gradient(position) : potential.Gradient(position * moving) * moving;
        Tensor Velocity(Tensor momentum) => moving is null ? kinetic.Gradient(momentum) : kinetic.Gradient(momentum * moving) * moving;
        Tensor halfEps = eps.Times(0.5);
        // The force at the end of one step is the force at the start of the next: L + 1 evaluations, not 2L.
        Tensor force = Force(q);
        for (int s = 0; s < Steps; s++)
        {
            Tensor qIn = q, pIn = p, forceIn = force;
            // Each step's temporaries are freed when it ends, not when the caller's dispose scope does: held to the end
            // of a scoring call they reach hundreds of MB for image data, glibc gives them back to the kernel at every
            // call, and the next call faults them in again (docs/benchmarks.md). Autograd keeps what backward needs.
            using (var scope = NewDisposeScope())
            {
                p = pIn - halfEps * forceIn;
                q = qIn.Plus(eps * Velocity(p));
                force = Force(q);
                p = p - halfEps * force;
                q.MoveToOuterDisposeScope();
                p.MoveToOuterDisposeScope();
                force.MoveToOuterDisposeScope();
            }
            // The previous step's state is this loop's own; the caller's q and p are left alone.
            if (s > 0)
            {
                qIn.Dispose();
                pIn.Dispose();
            }
            forceIn.Dispose();
            observer?.Invoke(q, p);
        }
        force.Dispose();
        return (q, p);
    }
}
