"""PyTorch reference of the benchmarked Neural Hamiltonian Flows (see docs/benchmarks.md).

The same models and operations as the C# side (Workload.cs, Comparison.cs): a fitted Gaussian stage (per-feature means
and standard deviations, a Ledoit-Wolf shrunk correlation, whitening z = L^-1 D^-1 (x - mean)), a momentum encoder
N(mu(q), diag sigma(q)^2), one Hamiltonian of L leapfrog steps of a learned step size with V(q) = |q|^2/2 + f(q), f an
MLP, and K(p) = p^2/2 (fixed) or an MLP (neural), softplus everywhere, the ELBO trained with AdamW (lr 3e-3, weight
decay 1e-4, cosine schedule, gradient norm clipped at 10), the importance-weighted log-likelihood with K = 16 and
sampling. Two ways to get dV/dq (and dK/dp):

  autograd   torch.autograd.grad(V(q).sum(), q, create_graph=True): the idiomatic way, as NHF implementations do
  closed     the MLP's backward pass written as forward ops, as the C# library does (Mlp.InputGradient)

Prints one tab-separated line per operation: implementation, operation, workload, kinetic, threads, median wall ms,
count, median process CPU ms (the figure background load disturbs least on one thread).
Run with Debian's python3-torch and libopenblas0:  /usr/bin/python3 nhf_reference.py --threads 2 [--gradient autograd]
"""
import argparse
import math
import statistics
import time

import torch
from torch import nn

WORKLOADS = [  # name, d, batch, hidden layers, leapfrog steps; warm-up and measured repetitions
    ("2d", 2, 512, [64, 64], 8, (5, 30)),
    ("image", 784, 128, [512], 4, (2, 8)),
]
SCORING_SAMPLES = 16
LOG_TWO_PI = math.log(2 * math.pi)


def log_normal(x):
    return -0.5 * (x.square().sum(-1) + x.shape[-1] * LOG_TWO_PI)


class Mlp(nn.Module):
    def __init__(self, inputs, hidden, outputs, zero_output=False):
        super().__init__()
        widths = [inputs] + hidden
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(widths, widths[1:] + [outputs]))
        if zero_output:
            nn.init.zeros_(self.layers[-1].weight)
            nn.init.zeros_(self.layers[-1].bias)

    def forward(self, x):
        for layer in self.layers[:-1]:
            x = nn.functional.softplus(layer(x))
        return self.layers[-1](x)

    def input_gradient(self, x):
        """df/dx of a one-output network, the backward pass as forward ops: df/dh_k = W_k^T (s'(z_k) * df/dh_k+1)."""
        slopes = []
        for layer in self.layers[:-1]:
            z = layer(x)
            x = nn.functional.softplus(z)
            slopes.append(torch.sigmoid(z))
        g = self.layers[-1].weight.expand(x.shape[0], -1)
        for layer, slope in zip(reversed(self.layers[:-1]), reversed(slopes)):
            g = (g * slope) @ layer.weight
        return g


class Potential(nn.Module):
    """V(q) = |q|^2/2 + f(q), f starting at zero: the untrained flow is the fitted Gaussian."""

    def __init__(self, d, hidden):
        super().__init__()
        self.net = Mlp(d, hidden, 1, zero_output=True)

    def forward(self, q):
        return 0.5 * q.square().sum(-1, keepdim=True) + self.net(q)

    def input_gradient(self, q):
        return q + self.net.input_gradient(q)


def ledoit_wolf_correlation(u):
    """Ledoit and Wolf's shrinkage of the correlation of standardised rows u towards the identity (as the C# GaussianFit)."""
    n, d = u.shape
    s = u.T @ u / n
    mu = s.trace() / d
    delta = (s - mu * torch.eye(d)).square().sum() / d
    beta = ((u.square().sum(1).square().sum() / n - s.square().sum()) / (d * n)).clamp(max=float(delta))
    shrinkage = float(beta / delta) if delta > 0 else 0.0
    return (1 - shrinkage) * s + shrinkage * torch.eye(d)


def autograd_gradient(net, x):
    """df/dx by autograd: with a graph while training (the loss backpropagates through it), without one under no_grad."""
    create_graph = torch.is_grad_enabled()
    with torch.enable_grad():
        if not x.requires_grad:
            x = x.detach().requires_grad_(True)
        (g,) = torch.autograd.grad(net(x).sum(), x, create_graph=create_graph)
    return g


class Flow(nn.Module):
    def __init__(self, d, hidden, steps, neural_kinetic, gradient):
        super().__init__()
        self.d, self.steps = d, steps
        self.potential = Potential(d, hidden)
        self.kinetic = Mlp(d, hidden, 1) if neural_kinetic else None
        self.encoder = Mlp(d, hidden, 2 * d, zero_output=True)
        self.log_step_size = nn.Parameter(torch.tensor(math.log(0.15)))
        self.register_buffer("mean", torch.zeros(d))
        self.register_buffer("scale", torch.ones(d))
        self.register_buffer("factor", torch.eye(d))
        self.register_buffer("inverse_factor", torch.eye(d))
        self.grad = autograd_gradient if gradient == "autograd" else (lambda net, x: net.input_gradient(x))

    def fit(self, data):
        self.mean.copy_(data.mean(0))
        std = data.std(0, unbiased=False)
        self.scale.copy_(torch.where(std > 0, std, torch.ones_like(std)))
        factor = torch.linalg.cholesky(ledoit_wolf_correlation((data - self.mean) / self.scale))
        self.factor.copy_(factor)
        self.inverse_factor.copy_(torch.linalg.solve_triangular(factor, torch.eye(self.d), upper=False))

    def velocity(self, p):
        return p if self.kinetic is None else self.grad(self.kinetic, p)

    def integrate(self, q, p, eps):
        half = 0.5 * eps
        force = self.grad(self.potential, q)
        for _ in range(self.steps):
            p = p - half * force
            q = q + eps * self.velocity(p)
            force = self.grad(self.potential, q)
            p = p - half * force
        return q, p

    def log_weights(self, x, samples, generator):
        z = ((x - self.mean) / self.scale) @ self.inverse_factor.T
        if samples > 1:
            z = z.repeat(samples, 1)
        mean, log_scale = self.encoder(z).split(self.d, -1)
        log_scale = log_scale.clamp(-7, 5)
        e = torch.randn(z.shape, generator=generator)
        p = mean + log_scale.exp() * e
        log_encoder = log_normal(e) - log_scale.sum(-1)
        q0, p0 = self.integrate(z, p, -self.log_step_size.exp())
        log_w = log_normal(q0) + log_normal(p0) - log_encoder - self.scale.log().sum() - self.factor.diagonal().log().sum()
        return log_w.view(samples, -1)

    def log_likelihood(self, x, samples, generator):
        return self.log_weights(x, samples, generator).logsumexp(0) - math.log(samples)

    def sample(self, n, generator):
        q0 = torch.randn((n, self.d), generator=generator)
        p0 = torch.randn((n, self.d), generator=generator)
        q, _ = self.integrate(q0, p0, self.log_step_size.exp())
        return (q @ self.factor.T) * self.scale + self.mean


def batch_of(d, n, seed):
    generator = torch.Generator().manual_seed(seed)
    return torch.randn((n, d), generator=generator) if d == 2 else torch.rand((n, d), generator=generator)


def now():
    return time.perf_counter(), time.process_time()


def elapsed(start):
    wall, cpu = now()
    return wall - start[0], cpu - start[1]


def train_step_times(flow, data, steps, generator):
    """The C# FlowTrainer's step: shuffled minibatch, -ELBO, backward, clip at 10, AdamW with a cosine rate."""
    params = list(flow.parameters())
    optimizer = torch.optim.AdamW(params, lr=3e-3, weight_decay=1e-4)
    times = []
    for step in range(steps):
        start = now()
        batch = data.index_select(0, torch.randperm(data.shape[0], generator=generator))
        for group in optimizer.param_groups:
            group["lr"] = 3e-3 * 0.5 * (1 + math.cos(math.pi * step / steps))
        optimizer.zero_grad()
        loss = -flow.log_likelihood(batch, 1, generator).mean()
        if math.isfinite(loss.item()):
            loss.backward()
            if math.isfinite(float(nn.utils.clip_grad_norm_(params, 10.0))):
                optimizer.step()
        times.append(elapsed(start))
    return times


def timed(warmup, measured, operation):
    times = []
    for i in range(warmup + measured):
        start = now()
        operation()
        if i >= warmup:
            times.append(elapsed(start))
    return times


def report(implementation, operation, workload, kinetic, threads, times):
    wall, cpu = (statistics.median(t[i] for t in times) * 1000 for i in (0, 1))
    print(f"{implementation}\t{operation}\t{workload}\t{kinetic}\t{threads}\t{wall:.3f}\t{len(times)}\t{cpu:.3f}", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--gradient", choices=["autograd", "closed"], default="autograd")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    implementation = f"pytorch-{args.gradient}"
    torch.manual_seed(1)

    a, b = torch.randn(2048, 2048), torch.randn(2048, 2048)
    report(implementation, "matmul", "2048", "-", args.threads, timed(2, 5, lambda: (a @ b)[0, 0].item()))

    for name, d, batch_size, hidden, steps, (warmup, measured) in WORKLOADS:
        data = batch_of(d, batch_size, 1)
        for kinetic in ("fixed", "neural"):
            generator = torch.Generator().manual_seed(1)
            flow = Flow(d, hidden, steps, kinetic == "neural", args.gradient)
            flow.fit(data)
            report(implementation, "train", name, kinetic, args.threads,
                   train_step_times(flow, data, warmup + measured, generator)[warmup:])
            with torch.no_grad():
                report(implementation, "score", name, kinetic, args.threads,
                       timed(warmup, measured, lambda: flow.log_likelihood(data, SCORING_SAMPLES, generator).sum().item()))
                report(implementation, "sample", name, kinetic, args.threads,
                       timed(warmup, measured, lambda: flow.sample(batch_size, generator).sum().item()))


if __name__ == "__main__":
    main()
