using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.HamiltonianFlows.Training;

/// <summary>
/// Adam (with decoupled weight decay, AdamW) with the step conventions every trainer of this library shares: the learning rate follows a schedule over the
/// step budget; the gradient's global norm is clipped; a step whose loss or gradient is not finite is skipped and halves
/// the learning rate from then on, and too many consecutive such steps end training with an error instead of a NaN model.
/// </summary>
internal sealed class GuardedAdam : IDisposable
{
    private readonly List<Parameter> parameters;
    private readonly optim.Optimizer optimizer;
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
        optimizer = optim.AdamW(this.parameters, lr: learningRate, weight_decay: weightDecay);
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
    /// One step of the <paramref name="step"/>-th of <paramref name="budget"/>: <paramref name="loss"/> builds the scalar loss
    /// (called after the gradients are cleared); returns its value, or null when the step was skipped.
    /// <paramref name="onNonFiniteGradient"/> may throw a more precise error first; <paramref name="failureMessage"/> gives the
    /// error after too many consecutive skipped steps, from their number and the lowered learning rate.
    /// </summary>
    public double? Step(long step, long budget, Func<Tensor> loss, Action? onNonFiniteGradient, Func<int, double, string> failureMessage)
    {
        LearningRate = baseRate * rateScale * schedule.Factor(step, budget);
        foreach (var group in optimizer.ParamGroups)
            group.LearningRate = LearningRate;

        optimizer.zero_grad();
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
            optimizer.step();
            return lossValue;
        }
        optimizer.zero_grad();
        Skipped++;
        rateScale *= 0.5;
        if (++consecutiveFailures >= maxConsecutiveFailures)
            throw new InvalidOperationException(failureMessage(consecutiveFailures, LearningRate * 0.5));
        return null;
    }

    public void Dispose() => optimizer.Dispose();
}
