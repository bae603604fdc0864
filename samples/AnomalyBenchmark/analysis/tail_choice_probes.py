"""Probes of TailChoice's rule (seventh session; docs/anomaly-benchmark.md, "Probed in the seventh session and not
kept"), on training files only, with the numpy copy of the Gaussian stage in gaussian_stage.py.

  per-feature   each feature's c chosen by its own 1-D held-out likelihood on an inner 80/20 split (finite only when it
                gains more than 0.01 nats per row) against the one c TailChoice chooses for all features (gain over 0.01
                nats per feature); the stage's held-out gain over the plain Gaussian on three outer 80/20 splits
  folds         TailChoice's one inner 80/20 split against 5-fold cross-validation of the same rule; ten outer 80/20
                splits, the mean difference of the two choices' held-out gains and its standard error

Usage: python3 samples/AnomalyBenchmark/analysis/tail_choice_probes.py per-feature|folds DATA_FOLDER SET ...
"""
import argparse
import numpy as np
from gaussian_stage import Stage, ledoit_wolf, lattice_widths
from tabular_files import read_set

CANDIDATES = [1, 2, 3, 5, 10]


class PerFeatureStage(Stage):
    """The stage with a tail c per feature (np.inf: none)."""

    def __init__(self, x, c):
        self.tails = np.broadcast_to(np.asarray(c, float), (x.shape[1],)).copy()
        super().__init__(x, np.inf)
        t, _ = self.marginal(x)
        self.t_mean = t.mean(0)
        self.t_sd = np.where(self.constant | (t.std(0) == 0), 1, t.std(0))
        v = (t - self.t_mean) / self.t_sd
        v[:, self.constant] = 0
        self.factor = np.linalg.cholesky(ledoit_wolf(v, self.constant, np.zeros(x.shape[1])))

    def marginal(self, x):
        u = (x - self.mean) / self.sd
        log_jacobian = -np.log(self.sd).sum() * np.ones(len(x))
        finite = np.isfinite(self.tails)
        if not hasattr(self, 't_mean') or not finite.any():   # during Stage.__init__: the plain standardisation
            return u, log_jacobian
        c = self.tails[finite]
        t = u.copy()
        t[:, finite] = c * np.arcsinh(u[:, finite] / c)
        return t, log_jacobian - 0.5 * np.log1p((u[:, finite] / c) ** 2).sum(1)


def gain(fit, held, c):
    return PerFeatureStage(fit, c).log_likelihood(held).mean() - PerFeatureStage(fit, np.inf).log_likelihood(held).mean()


def varying(x):
    return x.std(0) > 1e-7 * np.abs(x.mean(0))


def split(n, rng):
    order = rng.permutation(n)
    k = int(0.2 * n)
    return order[k:], order[:k]


def choose_one(x, rng, folds=1):
    """TailChoice's rule: one c for all features, finite only when it gains more than 0.01 nats per varying feature,
    scored on one 80/20 split or summed over the folds of a k-fold split."""
    order = rng.permutation(len(x))
    if folds == 1:
        k = int(0.2 * len(x))
        parts = [(order[k:], order[:k])]
    else:
        chunks = np.array_split(order, folds)
        parts = [(np.concatenate(chunks[:i] + chunks[i + 1:]), chunks[i]) for i in range(folds)]
    total = {c: 0.0 for c in CANDIDATES}
    features = 0
    for fit_rows, held_rows in parts:
        keep = varying(x[fit_rows])
        fit, held = x[fit_rows][:, keep], x[held_rows][:, keep]
        features += keep.sum() * len(held_rows)
        for c in CANDIDATES:
            total[c] += gain(fit, held, c) * len(held_rows)
    best, best_gain = np.inf, 0.01 * features
    for c in CANDIDATES:
        if total[c] > best_gain:
            best, best_gain = c, total[c]
    return best


def choose_per_feature(x, rng):
    fit_rows, held_rows = split(len(x), rng)
    tails = np.full(x.shape[1], np.inf)
    for j in range(x.shape[1]):
        fit, held = x[fit_rows][:, [j]], x[held_rows][:, [j]]
        if not varying(fit)[0]:
            continue
        gains = {c: gain(fit, held, c) for c in CANDIDATES}
        best = max(gains, key=gains.get)
        if gains[best] > 0.01:
            tails[j] = best
    return tails


def outer_splits(x, count):
    """count outer 80/20 splits of x (numpy seeds 1000, 1001, ...), lattice features dequantised by each split's draw,
    features constant in the fitting rows left out."""
    width = lattice_widths(x)
    for s in range(count):
        rng = np.random.default_rng(1000 + s)
        xd = x + width * (rng.random(x.shape) - 0.5)
        fit_rows, held_rows = split(len(xd), rng)
        keep = varying(xd[fit_rows])
        yield s, xd[fit_rows][:, keep], xd[held_rows][:, keep]


parser = argparse.ArgumentParser()
parser.add_argument('command', choices=['per-feature', 'folds'])
parser.add_argument('data')
parser.add_argument('sets', nargs='+')
args = parser.parse_args()
for name in args.sets:
    x = read_set(args.data, name, 'train')[0]
    if args.command == 'per-feature':
        cells = []
        for s, fit, held in outer_splits(x, 3):
            one = choose_one(fit, np.random.default_rng(s))
            each = choose_per_feature(fit, np.random.default_rng(s))
            cells.append(f'one c={one:g} {gain(fit, held, one):7.2f}  per feature ({np.isfinite(each).sum()}/{len(each)} finite) {gain(fit, held, each):7.2f}')
        print(f'{name:11}', ' | '.join(cells), flush=True)
    else:
        differences, same = [], 0
        for s, fit, held in outer_splits(x, 10):
            one, five = choose_one(fit, np.random.default_rng(s)), choose_one(fit, np.random.default_rng(s), folds=5)
            differences.append(gain(fit, held, five) - gain(fit, held, one))
            same += one == five
        d = np.array(differences)
        print(f'{name:11} rows {len(x):6}  5-fold minus one split {d.mean():7.3f} +- {d.std() / np.sqrt(len(d)):.3f}  same choice {same}/10', flush=True)
