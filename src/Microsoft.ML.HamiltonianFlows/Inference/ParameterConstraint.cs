using Microsoft.ML.HamiltonianFlows.Torch;
using static TorchSharp.torch;

namespace Microsoft.ML.HamiltonianFlows.Inference;

/// <summary>
/// The support of one parameter theta, handled by a bijection theta = c(u) from an unconstrained u in R on which the flow
/// works: the identity, theta = exp(u) for a positive parameter, or theta = lower + (upper - lower) sigmoid(u) for an
/// interval. The target on u is pi(c(u)) |c'(u)|, so the log-Jacobian log |c'(u)| enters the density.
/// </summary>
public sealed class ParameterConstraint
{
    private enum Kind { Unbounded, Positive, Interval }

    private readonly Kind kind;

    private ParameterConstraint(Kind kind, double lower, double upper)
    {
        this.kind = kind;
        Lower = lower;
        Upper = upper;
    }

    /// <summary>theta in R: the identity map.</summary>
    public static ParameterConstraint Unbounded { get; } = new(Kind.Unbounded, double.NegativeInfinity, double.PositiveInfinity);

    /// <summary>theta &gt; 0: theta = exp(u), log-Jacobian u.</summary>
    public static ParameterConstraint Positive { get; } = new(Kind.Positive, 0, double.PositiveInfinity);

    /// <summary>
    /// lower &lt; theta &lt; upper: theta = lower + (upper - lower) sigmoid(u), log-Jacobian
    /// log(upper - lower) + log sigmoid(u) + log sigmoid(-u).
    /// </summary>
    public static ParameterConstraint Interval(double lower, double upper)
    {
        if (!double.IsFinite(lower) || !double.IsFinite(upper) || !(lower < upper))
            throw new ArgumentException(FormattableString.Invariant($"An interval needs finite bounds with lower < upper, got ({lower}, {upper})."), nameof(lower));
        return new ParameterConstraint(Kind.Interval, lower, upper);
    }

    /// <summary>Lower end of the support (negative infinity when unbounded below).</summary>
    public double Lower { get; }

    /// <summary>Upper end of the support (positive infinity when unbounded above).</summary>
    public double Upper { get; }

    /// <inheritdoc />
    public override string ToString() => kind switch
    {
        Kind.Unbounded => "unbounded",
        Kind.Positive => "positive",
        _ => $"interval ({Lower}, {Upper})",
    };

    /// <summary>
    /// Maps unconstrained u of shape [n, d] to theta column by column, with the summed log-Jacobian log |dtheta/du| of each row, [n].
    /// </summary>
    public static (Tensor Theta, Tensor LogJacobian) Constrain(IReadOnlyList<ParameterConstraint> constraints, Tensor u)
    {
        CheckColumns(constraints, u, nameof(u));
        var columns = new Tensor[constraints.Count];
        Tensor logJacobian = zeros(u.shape[0], dtype: u.dtype, device: u.device);
        for (int j = 0; j < constraints.Count; j++)
        {
            Tensor uj = u[.., j];
            var (theta, log) = constraints[j].Constrain(uj);
            columns[j] = theta;
            if (log is not null)
                logJacobian = logJacobian.Plus(log);
        }
        return (stack(columns, 1), logJacobian);
    }

    /// <summary>The inverse of <see cref="Constrain(IReadOnlyList{ParameterConstraint}, Tensor)"/>: u from theta of shape [n, d]. Values outside the support give NaN or infinities.</summary>
    public static Tensor Unconstrain(IReadOnlyList<ParameterConstraint> constraints, Tensor theta)
    {
        CheckColumns(constraints, theta, nameof(theta));
        return stack(constraints.Select((c, j) => c.Unconstrain(theta[.., j])).ToArray(), 1);
    }

    // One constraint, not null, per column of a [n, d] tensor: fewer would silently drop columns (and their Jacobian).
    private static void CheckColumns(IReadOnlyList<ParameterConstraint> constraints, Tensor values, string name)
    {
        ArgumentNullException.ThrowIfNull(constraints);
        ArgumentNullException.ThrowIfNull(values, name);
        if (values.dim() != 2 || values.shape[1] != constraints.Count)
            throw new ArgumentException($"Expected [n, {constraints.Count}] values, one column per constraint, got [{string.Join(", ", values.shape)}].", name);
        for (int j = 0; j < constraints.Count; j++)
            if (constraints[j] is null)
                throw new ArgumentException($"Constraint {j} is null; use {nameof(ParameterConstraint)}.{nameof(Unbounded)}.", nameof(constraints));
    }

    private (Tensor Theta, Tensor? LogJacobian) Constrain(Tensor u) => kind switch
    {
        Kind.Positive => (u.exp(), u),
        Kind.Interval => (u.sigmoid().Times(Upper - Lower).Plus(Lower),
            u.Softplus().Plus(u.neg().Softplus()).SubtractedFrom(Math.Log(Upper - Lower))),
        _ => (u, null),
    };

    private Tensor Unconstrain(Tensor theta) => kind switch
    {
        Kind.Positive => theta.log(),
        Kind.Interval => theta.Plus(-Lower).Times(1 / (Upper - Lower)).logit(),
        _ => theta,
    };
}
