using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.HamiltonianFlows.Torch;

/// <summary>
/// Multilayer perceptron with smooth activations. For scalar-valued networks (energies) it also returns the
/// gradient with respect to its input in closed form: the backward pass written as forward tensor ops. The
/// leapfrog integrator needs dV/dq at every step; computing it this way keeps training to a single backward
/// pass (no double backpropagation through autograd.grad) and works the same with gradients on or off.
/// </summary>
internal sealed class Mlp : nn.Module<Tensor, Tensor>
{
    private readonly ModuleList<Linear> _layers = new();
    private readonly Activation _activation;

    // zeroOutput starts the output layer at zero, so the network is the constant 0 until trained: a potential
    // starts as free motion and an encoder as N(0, I), and the flow begins as a known, well-behaved map.
    public Mlp(string name, int inputs, IReadOnlyList<int> hidden, int outputs, Activation activation, bool zeroOutput = false) : base(name)
    {
        _activation = activation;
        int width = inputs;
        foreach (int h in hidden)
        {
            _layers.Add(nn.Linear(width, h));
            width = h;
        }
        _layers.Add(nn.Linear(width, outputs));
        if (zeroOutput)
        {
            using var noGrad = no_grad();
            _layers[^1].weight!.zero_();
            _layers[^1].bias!.zero_();
        }
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        Tensor h = x;
        for (int i = 0; i < _layers.Count - 1; i++)
            h = Activate(_layers[i].forward(h));
        return _layers[^1].forward(h);
    }

    /// <summary>
    /// For a network with one output f, the input gradient df/dx as [n, inputs]. With h_{k+1} = s(W_k h_k + b_k)
    /// and f = w^T h_L + b, the chain rule gives df/dh_k = W_k^T (s'(z_k) * df/dh_{k+1}), evaluated here for the
    /// whole batch at once. The output value itself is never needed by the integrator, so it is not computed.
    /// </summary>
    public Tensor InputGradient(Tensor x)
    {
        int hiddenCount = _layers.Count - 1;
        var slopes = new Tensor[hiddenCount];
        Tensor h = x;
        for (int i = 0; i < hiddenCount; i++)
        {
            Tensor z = _layers[i].forward(h);
            if (_activation == Activation.Tanh)
            {
                h = z.tanh();
                slopes[i] = (h * h).SubtractedFrom(1);
            }
            else
            {
                // softplus' = sigmoid needs no activation, and the last hidden layer's activation only feeds the output
                // value, which the gradient never uses: skipping it saves a softplus (and its backward) per evaluation.
                slopes[i] = z.sigmoid();
                if (i < hiddenCount - 1)
                    h = z.Softplus();
            }
        }
        Tensor g = _layers[^1].weight!.expand(x.shape[0], -1);
        for (int i = hiddenCount - 1; i >= 0; i--)
            g = (g * slopes[i]).matmul(_layers[i].weight!);
        return g;
    }

    private Tensor Activate(Tensor z) => _activation == Activation.Tanh ? z.tanh() : z.Softplus();
}
