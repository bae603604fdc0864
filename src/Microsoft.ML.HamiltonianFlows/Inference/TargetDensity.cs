using System.Globalization;
using static TorchSharp.torch;

namespace Microsoft.ML.HamiltonianFlows.Inference;

/// <summary>
/// The user's unnormalised log-density log pi(theta), batched ([n, d] to [n]), with the checks that turn a broken density
/// into an error naming the first offending point instead of a NaN model: the shape, NaN or +infinity values (-infinity
/// is a point of zero density, allowed), a result that does not depend on theta through autograd, a non-finite gradient.
/// </summary>
internal sealed class TargetDensity
{
    private readonly Func<Tensor, Tensor> logDensity;

    public TargetDensity(Func<Tensor, Tensor> logDensity) => this.logDensity = logDensity;

    /// <summary>log pi(theta) for theta of shape [n, d]; <paramref name="needsGradient"/> requires it to be differentiable.</summary>
    public Tensor Evaluate(Tensor theta, bool needsGradient)
    {
        Tensor value = logDensity(theta) ?? throw new InvalidOperationException("The log-density returned null.");
        if (value.dim() != 1 || value.shape[0] != theta.shape[0])
            throw new InvalidOperationException(
                $"The log-density must return one value per point, shape [{theta.shape[0]}]; it returned [{string.Join(", ", value.shape)}].");
        using (no_grad())
        using (var bad = value.isnan().logical_or(value.isposinf()))
        {
            if (bad.any().item<bool>())
            {
                long i = bad.nonzero()[0, 0].item<long>();
                throw new InvalidOperationException(
                    $"The log-density is {value[i].to(ScalarType.Float64).item<double>().ToString(CultureInfo.InvariantCulture)} at point {i} of the batch, " +
                    $"theta = {Format(theta, i)}: it must be finite, or -infinity where the density is zero.");
            }
        }
        if (needsGradient && !value.requires_grad)
            throw new InvalidOperationException(
                $"The log-density has no gradient with respect to theta (at point 0, theta = {Format(theta, 0)}): build it from the " +
                "input tensor with differentiable torch operations, outside no_grad() and without detach().");
        return value;
    }

    /// <summary>
    /// Throws naming the first point where the gradient of log pi is not finite; returns normally when it is finite
    /// everywhere (the fault then lies with the flow's step, which the trainer's guard handles).
    /// </summary>
    public void CheckGradient(Tensor theta)
    {
        using var scope = NewDisposeScope();
        using var enabled = enable_grad();
        Tensor leaf = theta.detach().clone().requires_grad_(true);
        Tensor value = logDensity(leaf);
        // Points of zero density have no meaningful gradient; they are excluded from the objective by the guard.
        where(value.isfinite(), value, zeros_like(value)).sum().backward();
        Tensor? gradient = leaf.grad;
        if (gradient is null)
            return;
        Tensor bad = gradient.isfinite().all(1).logical_not().logical_and(value.isfinite());
        if (bad.any().item<bool>())
        {
            long i = bad.nonzero()[0, 0].item<long>();
            throw new InvalidOperationException(
                $"The gradient of the log-density is not finite at point {i} of the batch, theta = {Format(theta, i)} " +
                $"(gradient {Format(gradient, i)}).");
        }
    }

    private static string Format(Tensor rows, long i) =>
        "(" + string.Join(", ", rows[i].detach().to(ScalarType.Float64).data<double>().ToArray()
            .Select(v => v.ToString("G6", CultureInfo.InvariantCulture))) + ")";
}
