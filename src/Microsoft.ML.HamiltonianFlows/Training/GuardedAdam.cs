using Microsoft.ML.HamiltonianFlows.Torch;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.HamiltonianFlows.Training;

/// <summary>
/// Adam (with decoupled weight decay, AdamW) with the step conventions every trainer of this library shares: the learning rate follows a schedule over the
/// training budget; the gradient's global norm is clipped; a step whose loss or gradient is not finite is skipped and halves
/// the learning rate from then on, and too many consecutive such steps end training with an error instead of a NaN model.
/// </summary>
internal sealed class GuardedAdam : IDisposable
{
    // AdamW's constants, as torch.optim.AdamW's defaults.
    private const double Beta1 = 0.9, Beta2 = 0.999, Epsilon = 1e-8;

    private readonly List<Parameter> parameters;
    // First and second moment estimates per parameter. The update is written here, not taken from TorchSharp's AdamW,
    // whose step makes temporary Scalars (TensorArithmetic says why that fails now and then).
    private readonly Tensor[] firstMoments, secondMoments;
    private readonly double weightDecay;
    private long updates;
    private readonly double baseRate;
    private readonly LearningRateSchedule schedule;
    private readonly double clipNorm;
    private readonly int maxConsecutiveFailures;
    private double rateScale = 1;
    private int consecutiveFailures;

    public GuardedAdam(
        IEnumerable<Parameter> parameters, double learningRate, double weightDecay, LearningRateSchedule schedule, double? gradientClipNorm,
        int maxConsecutiveFailures)
    {
        this.parameters = parameters.ToList();
        using (no_grad())
        {
            firstMoments = this.parameters.Select(p => zeros_like(p).DetachFromDisposeScope()).ToArray();
            secondMoments = this.parameters.Select(p => zeros_like(p).DetachFromDisposeScope()).ToArray();
        }
        this.weightDecay = weightDecay;
        baseRate = learningRate;
        this.schedule = schedule;
        clipNorm = gradientClipNorm ?? double.PositiveInfinity;
        this.maxConsecutiveFailures = maxConsecutiveFailures;
        LearningRate = learningRate;
    }

    /// <summary>The learning rate of the latest step.</summary>
    public double LearningRate { get; private set; }

    /// <summary>Steps skipped so far because their loss or gradient was not finite.</summary>
    public int Skipped { get; private set; }

    /// <summary>
    /// One step of the <paramref name="step"/>-th of <paramref name="budget"/>, with <paramref name="timeShare"/> of a time
    /// limit used (0 without one; the schedule follows whichever is further on): <paramref name="loss"/> builds the scalar loss
    /// (called after the gradients are cleared); returns its value, or null when the step was skipped.
    /// <paramref name="onNonFiniteGradient"/> may throw a more precise error first; <paramref name="failureMessage"/> gives the
    /// error after too many consecutive skipped steps, from their number and the lowered learning rate.
    /// </summary>
    public double? Step(long step, long budget, Func<Tensor> loss, Action? onNonFiniteGradient, Func<int, double, string> failureMessage,
        double timeShare = 0)
    {
        LearningRate = baseRate * rateScale * schedule.Factor(step, budget, timeShare);
        ZeroGradients();
        Tensor value = loss();
        double lossValue = value.to(ScalarType.Float64).item<double>();
        bool finite = double.IsFinite(lossValue);
        if (finite)
        {
            value.backward();
            // Parameters the loss does not reach (an encoder the objective does not use) have no gradient.
            var withGradient = parameters.Where(p => p.grad is not null).ToList();
            finite = double.IsFinite(nn.utils.clip_grad_norm_(withGradient, clipNorm));
            if (!finite)
                onNonFiniteGradient?.Invoke();
        }
        if (finite)
        {
            consecutiveFailures = 0;
            Update();
            return lossValue;
        }
        ZeroGradients();
        Skipped++;
        rateScale *= 0.5;
        if (++consecutiveFailures >= maxConsecutiveFailures)
            throw new InvalidOperationException(failureMessage(consecutiveFailures, LearningRate * 0.5));
        return null;
    }

    private void ZeroGradients()
    {
        foreach (Parameter p in parameters)
        {
            using Tensor? grad = p.grad;
            grad?.zero_();
        }
    }

    // theta <- theta (1 - lr lambda) - lr m_hat / (sqrt(v_hat) + eps), m and v the moving averages of g and g^2
    // (Loshchilov and Hutter, "Decoupled Weight Decay Regularization", ICLR 2019, Algorithm 2).
    private void Update()
    {
        updates++;
        double correction1 = 1 - Math.Pow(Beta1, updates), correction2 = 1 - Math.Pow(Beta2, updates);
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        using Scalar decay = (1 - LearningRate * weightDecay).ToScalar();
        using Scalar beta1 = Beta1.ToScalar(), oneMinusBeta1 = (1 - Beta1).ToScalar();
        using Scalar beta2 = Beta2.ToScalar(), oneMinusBeta2 = (1 - Beta2).ToScalar();
        using Scalar epsilon = Epsilon.ToScalar(), one = 1.0.ToScalar();
        using Scalar step = (-LearningRate / correction1).ToScalar();
        for (int i = 0; i < parameters.Count; i++)
        {
            Tensor? grad = parameters[i].grad;
            if (grad is null)
                continue;
            parameters[i].mul_(decay);
            firstMoments[i].mul_(beta1).add_(grad, oneMinusBeta1);
            secondMoments[i].mul_(beta2).addcmul_(grad, grad, oneMinusBeta2);
            Tensor denominator = secondMoments[i].sqrt().Times(1 / Math.Sqrt(correction2)).add_(epsilon, one);
            parameters[i].addcdiv_(firstMoments[i], denominator, step);
        }
    }

    public void Dispose()
    {
        foreach (Tensor t in firstMoments.Concat(secondMoments))
            t.Dispose();
    }
}
