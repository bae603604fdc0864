"""The flow's Gaussian stage in numpy (Torch/GaussianStage.cs, Training/GaussianFit.cs, Torch/FeatureCells.cs), for the
analysis scripts beside it: lattice detection, Ledoit-Wolf shrinkage of the standardised rows' correlation towards I,
and, for the fifth session's probe of heavier tails, an optional marginal t = c asinh(u / c) before the correlation.
"""
import numpy as np


def lattice_widths(x):
    """FeatureCells.Detect: the smallest gap between a feature's distinct values, where every value is a whole number of gaps."""
    width = np.zeros(x.shape[1])
    for j in range(x.shape[1]):
        v = np.unique(x[:, j])
        if len(v) > 1:
            gap = np.diff(v).min()
            if np.all(np.abs((v - v[0]) / gap - np.round((v - v[0]) / gap)) < 1e-3):
                width[j] = gap
    return width


def ledoit_wolf(v, constant, offset_variance):
    """GaussianFit's shrinkage of the correlation of standardised rows v towards I: Ledoit and Wolf's intensity over the
    p features that vary (the constant ones are zero columns of v and get a unit diagonal); offset_variance, the
    dequantisation offsets' variance in standardised units, adds to the diagonal only."""
    n = len(v)
    p = (~constant).sum()
    s = v.T @ v / n + np.diag(offset_variance)
    mu = np.trace(s) / p
    delta = ((s * s).sum() - 2 * mu * np.trace(s) + p * mu * mu) / p
    beta = (((v * v).sum(1) ** 2).sum() / n - (s * s).sum()) / (p * n)
    shrinkage = np.clip(min(beta, delta) / delta, 0, 1) if delta > 0 else 0
    return (1 - shrinkage) * s + shrinkage * np.eye(len(s)) + np.diag(constant * (1 - shrinkage))


class Stage:
    """The Gaussian stage fitted to rows x, with the marginal t = c asinh(u / c) of each standardised feature u when c is
    finite. Lattice features are dequantised either in x already (any c) or, as GaussianFit does, in closed form by
    giving their cell widths (c = infinity only): the uniform offsets' variance width^2 / 12 is added."""

    def __init__(self, x, c=np.inf, width=None):
        if width is not None and not np.isinf(c):
            raise ValueError('closed-form dequantisation needs c = infinity')
        offset = np.zeros(x.shape[1]) if width is None else width ** 2 / 12
        self.c = c
        self.mean = x.mean(0)
        sd = np.sqrt(x.var(0) + offset)
        self.constant = sd <= 1e-7 * np.abs(self.mean)
        self.sd = np.where(self.constant, 1, sd)
        t, _ = self.marginal(x)
        self.t_mean = t.mean(0)
        self.t_sd = np.where(self.constant, 1, np.sqrt(t.var(0) + offset / self.sd ** 2))
        v = (t - self.t_mean) / self.t_sd
        v[:, self.constant] = 0
        self.factor = np.linalg.cholesky(ledoit_wolf(v, self.constant, np.where(self.constant, 0, offset / self.sd ** 2)))

    def marginal(self, x):
        """t and the log-Jacobian log |dt/dx| per row, the standardisation included."""
        u = (x - self.mean) / self.sd
        log_jacobian = -np.log(self.sd).sum() * np.ones(len(x))
        if np.isinf(self.c):
            return u, log_jacobian
        return self.c * np.arcsinh(u / self.c), log_jacobian - 0.5 * np.log1p((u / self.c) ** 2).sum(1)

    def implied_moments(self):
        """Mean and standard deviation of each standardised feature u under the stage's law: t ~ N(t_mean, t_sd^2),
        u = c sinh(t / c) (for X = sinh(Y), Y ~ N(mu, s^2): E X = sinh(mu) e^(s^2 / 2),
        Var X = (e^(s^2) - 1)(e^(s^2) cosh(2 mu) + 1) / 2)."""
        if np.isinf(self.c):
            return self.t_mean, self.t_sd
        mu, s2 = self.t_mean / self.c, (self.t_sd / self.c) ** 2
        mean = self.c * np.sinh(mu) * np.exp(s2 / 2)
        variance = self.c ** 2 * 0.5 * (np.exp(s2) - 1) * (np.exp(s2) * np.cosh(2 * mu) + 1)
        return mean, np.sqrt(variance)

    def match_moments(self, x):
        """Moves each varying feature's outer location and scale so that the law's implied mean and standard deviation
        of x are the rows' own (the shape, t's mean and scale, kept)."""
        mean, sd = self.implied_moments()
        keep = ~self.constant
        scale = np.where(keep, x.std(0) / np.where(sd > 0, sd, 1), self.sd)
        self.mean = np.where(keep, x.mean(0) - scale * mean, self.mean)
        self.sd = scale
        return self

    def log_likelihood(self, x):
        t, log_jacobian = self.marginal(x)
        z = np.linalg.solve(self.factor, ((t - self.t_mean) / self.t_sd).T).T
        return (-0.5 * (z ** 2).sum(1) - 0.5 * z.shape[1] * np.log(2 * np.pi) - np.log(np.diag(self.factor)).sum()
                - np.log(self.t_sd).sum() + log_jacobian)
