"""Probe of the twelfth session (docs/anomaly-benchmark.md): would held-out likelihood choose to mix a kernel density
into the flow's Gaussian? Training files only; no test file is read.

For each set, three 80/20 splits of NAME.train.csv (numpy seeds 0-2; shuttle subsampled to 6,000 rows first, numpy seed
9), lattice features dequantised by uniform offsets. The 80% is split 80/20 again, as the library holds out its own
rows: a Ledoit-Wolf Gaussian (standardised features, shrunk correlation: the flow's Gaussian stage without tails) is
fitted to the inner 80%, and a kernel density whose centres are those rows, with Gaussian kernels of width h in the
Gaussian's whitened coordinates. The share beta of the kernel density in (1 - beta) N + beta KDE and the width h are
chosen by the mean log-likelihood of the inner 20% (grids below); the line prints them and the mixture's gain over the
Gaussian alone on the outer 20%, in nats per row. The Gaussian stands in for the flow: this asks whether likelihood
wants a local, distance-to-the-training-rows term at all, and on which sets.
With --test (reported afterwards, never used to choose): the same choice made on the whole training file (one
dequantisation draw, numpy seed 0; inner 80/20 split; the centres the inner 80%), then the test AUROC of the Gaussian and of the mixture, scores
-log density of the test rows (lattice features dequantised by one draw).
With --flow DIR: the kernel density on top of the flow itself. DIR holds what `AnomalyBenchmark validate --seed S --dump
DIR` wrote (the validate split's fitted rows; its held-out rows with their log-likelihoods under the flow at default
options and under the plain Gaussian, from the library's scoring). The kernel density's centres are the fitted rows
(lattice features dequantised by one draw, numpy seed 0), whitened by the Ledoit-Wolf Gaussian above; the held-out
rows (one draw too) are halved in file order (the training files are shuffled already, data/README.md), the share beta in (1 - beta) p + beta KDE and the width h are chosen on one half and
scored on the other, then the halves swap (as the fourth session measured the Gaussian's share). Prints, in nats per
held-out row, the gain over the plain Gaussian of the flow, of the flow with the kernel density, and of the Gaussian
with it, on the same rows. Columns constant in the fitted rows (ionosphere's first two) are left out of the kernels
and given the library's own term for them (held_constant), since the library's log-likelihoods include them.
With --test-flow DUMP SCORES (reported afterwards, never used to choose): the flow's test scores with a kernel density
mixed in. SCORES holds what `AnomalyBenchmark tabular --seeds S ... --out SCORES` wrote (SCORES/seed-S/scores-SET.csv:
each test row's label and the flow's score, -log p, at default options); DUMP the same seeds' `validate --dump`. For
each set and seed the width h and share beta are those the validate split's held-out rows choose for the flow there (all
of them, not halves), the kernel centres are the whole training file (one dequantisation draw, numpy seed 0; the test
rows one draw too), and the line prints the test AUROC of the flow and of (1 - beta) p_flow + beta KDE.
With --flow DIR --standardised (nineteenth session): the same, the kernels in the standardised features instead of
the whitened coordinates (the metric of the classic table's KDE, which ranks satellite's test rows best of all).
Needs numpy, scipy and scikit-learn (Debian: python3-numpy python3-scipy python3-sklearn).
Usage: python3 samples/AnomalyBenchmark/analysis/kde_mixture.py [--test | --flow DIR [--standardised] | --test-flow DUMP SCORES] [SET ...]
       (default: the five sets)
"""
import os
import sys

import numpy as np
from scipy.special import logsumexp
from sklearn.covariance import ledoit_wolf
from sklearn.metrics import roc_auc_score

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'data')
WIDTHS = [0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.7, 1.0]
SHARES = [0, 0.01, 0.03, 0.1, 0.2, 0.3, 0.5, 0.7, 0.9]


def lattice(x):
    """Spacing of each integer-like (lattice) feature's values, 0 for a continuous one."""
    w = np.zeros(x.shape[1])
    for j in range(x.shape[1]):
        v = np.unique(x[:, j])
        if len(v) > 1:
            g = np.min(np.diff(v))
            if np.all(np.abs((v - v[0]) / g - np.round((v - v[0]) / g)) < 1e-3):
                w[j] = g
    return w


class Gaussian:
    """Per-feature mean and standard deviation, Ledoit-Wolf shrunk correlation; log-density in the data's units."""

    def __init__(self, rows):
        self.mean, self.sd = rows.mean(0), rows.std(0)
        correlation, _ = ledoit_wolf((rows - self.mean) / self.sd)
        self.cholesky = np.linalg.cholesky(correlation)
        self.log_jacobian = -np.log(self.sd).sum() - np.log(np.diag(self.cholesky)).sum()

    def whiten(self, rows):
        return np.linalg.solve(self.cholesky, ((rows - self.mean) / self.sd).T).T

    def log_density(self, rows):
        z = self.whiten(rows)
        return -0.5 * (z ** 2).sum(1) - 0.5 * z.shape[1] * np.log(2 * np.pi) + self.log_jacobian


def kernel_log_density(gaussian, centres, rows, width, standardised=False):
    """Gaussian kernels of width h on the centres, in the Gaussian's whitened coordinates (the library's), or with
    standardised=True in the standardised features (scikit-learn's KDE on standardised rows, which ranks satellite best)."""
    if standardised:
        zc, zr = (centres - gaussian.mean) / gaussian.sd, (rows - gaussian.mean) / gaussian.sd
        log_jacobian = -np.log(gaussian.sd).sum()
    else:
        zc, zr, log_jacobian = gaussian.whiten(centres), gaussian.whiten(rows), gaussian.log_jacobian
    d = zc.shape[1]
    squared = np.maximum((zr ** 2).sum(1)[:, None] + (zc ** 2).sum(1)[None, :] - 2 * zr @ zc.T, 0)
    return (logsumexp(-0.5 * squared / width ** 2, axis=1) - np.log(len(zc)) - d * np.log(width)
            - 0.5 * d * np.log(2 * np.pi) + log_jacobian)


def held_constant(fit, rows, varying):
    """Log-density of the rows' columns that are constant in the fitted rows, as the library holds such a column (the
    value N(c, s^2), s the geometric mean of the varying columns' standard deviations, no correlation). The flow's and
    the plain Gaussian's log-likelihoods from the library include these columns; the kernel density, built on the
    varying columns, gets the same term, so that the mixture adds densities of the same dimension."""
    s = np.exp(np.log(fit[:, varying].std(0)).mean())
    u = (rows[:, ~varying] - fit[0, ~varying]) / s
    return (-0.5 * u ** 2 - np.log(s) - 0.5 * np.log(2 * np.pi)).sum(1)


def prepared(fit, rows):
    """The kernel density's inputs from raw fitted rows and rows to score: lattice features dequantised by one draw
    (numpy seed 0), the held columns' term for the rows, the varying columns, and the Gaussian that whitens them."""
    varying = fit.std(0) > 0
    rng = np.random.default_rng(0)
    cells = lattice(fit)
    fit = fit + cells * (rng.random(fit.shape) - 0.5)
    rows = rows + cells * (rng.random(rows.shape) - 0.5)
    constant = held_constant(fit, rows, varying)
    fit, rows = fit[:, varying], rows[:, varying]
    return Gaussian(fit), fit, rows, constant


def read_dump(folder, prefix):
    """What `validate --dump` wrote for one set and seed: the fitted rows, the held-out rows, and the held-out rows'
    log-likelihoods under the flow and under the plain Gaussian."""
    fit = np.loadtxt(os.path.join(folder, f'{prefix}-fit.csv'), delimiter=',', ndmin=2)
    held = np.loadtxt(os.path.join(folder, f'{prefix}-heldout.csv'), delimiter=',', ndmin=2)
    return fit, held[:, :-2], held[:, -2], held[:, -1]


def mixture(log_gaussian, log_kernel, share):
    return log_gaussian if share == 0 else np.logaddexp(np.log1p(-share) + log_gaussian, np.log(share) + log_kernel)


def choose(fit, held_out):
    """The mixture's Gaussian, kernel width and share, chosen by the held-out rows' mean log-likelihood."""
    gaussian = Gaussian(fit)
    log_gaussian = gaussian.log_density(held_out)
    _, width, share = max((mixture(log_gaussian, kernel_log_density(gaussian, fit, held_out, h), b).mean(), h, b)
                          for h in WIDTHS for b in SHARES)
    return gaussian, width, share


def test_auroc(names):
    for name in names:
        train = np.loadtxt(os.path.join(DATA, f'{name}.train.csv'), delimiter=',')[:, 1:]
        test = np.loadtxt(os.path.join(DATA, f'{name}.test.csv'), delimiter=',')
        varying = train.std(0) > 0
        train, labels, test = train[:, varying], test[:, 0], test[:, 1:][:, varying]
        rng = np.random.default_rng(0)
        cells = lattice(train)
        train = train + cells * (rng.random(train.shape) - 0.5)
        test = test + cells * (rng.random(test.shape) - 0.5)
        q = rng.permutation(len(train))
        kk = int(0.8 * len(train))
        fit = train[q[:kk]]
        gaussian, width, share = choose(fit, train[q[kk:]])
        log_gaussian = gaussian.log_density(test)
        mixed = mixture(log_gaussian, kernel_log_density(gaussian, fit, test, width), share)
        print(f'{name}: h {width} share {share}; test AUROC Gaussian {roc_auc_score(labels, -log_gaussian):.4f}, '
              f'mixture {roc_auc_score(labels, -mixed):.4f}', flush=True)


def cross_fitted(log_model, log_kernels):
    """Mean over the rows of log((1 - beta) p + beta KDE), beta and h chosen on the other half of the rows; and the
    (h, beta) each half chose."""
    n = len(log_model)
    halves = [np.arange(n) < n // 2, np.arange(n) >= n // 2]
    total, chosen = 0.0, []
    for choose_on, score_on in (halves, halves[::-1]):
        _, width, share = max((mixture(log_model[choose_on], log_kernels[h][choose_on], b).mean(), h, b)
                              for h in WIDTHS for b in SHARES)
        total += mixture(log_model[score_on], log_kernels[width][score_on], share).sum()
        chosen.append(f'h {width} beta {share}')
    return total / n, ' / '.join(chosen)


def on_flow(folder, names, standardised=False):
    for name in names:
        files = sorted(f for f in os.listdir(folder) if f.startswith(f'{name}-seed') and f.endswith('-fit.csv'))
        for fit_file in files:
            prefix = fit_file[:-len('-fit.csv')]
            fit, rows, log_flow, log_plain = read_dump(folder, prefix)
            fit_all_columns = fit.shape[1]
            gaussian, fit, rows, constant = prepared(fit, rows)
            log_kernels = {h: kernel_log_density(gaussian, fit, rows, h, standardised) + constant for h in WIDTHS}
            flow_kde, flow_chosen = cross_fitted(log_flow, log_kernels)
            gaussian_kde, _ = cross_fitted(log_plain, log_kernels)
            # A check of the held columns' term: this numpy Gaussian with it against the library's plain Gaussian.
            check = (gaussian.log_density(rows) + constant - log_plain).mean()
            print(f'{prefix}: flow {log_flow.mean() - log_plain.mean():+.2f}, flow + KDE {flow_kde - log_plain.mean():+.2f} '
                  f'({flow_chosen}), Gaussian + KDE {gaussian_kde - log_plain.mean():+.2f} ({len(rows)} held-out rows, '
                  f'{fit_all_columns - fit.shape[1]} held columns; numpy Gaussian minus the library\'s {check:+.2f})', flush=True)


def flow_choice(folder, prefix):
    """The (h, beta) the validate split's held-out rows choose for the flow with a kernel density (all of the rows)."""
    fit, rows, log_flow, _ = read_dump(folder, prefix)
    gaussian, fit, rows, constant = prepared(fit, rows)
    _, width, share = max((mixture(log_flow, kernel_log_density(gaussian, fit, rows, h) + constant, b).mean(), h, b)
                          for h in WIDTHS for b in SHARES)
    return width, share


def test_flow(dump, scores, names):
    for name in names:
        for seed_folder in sorted(f for f in os.listdir(scores) if f.startswith('seed-')):
            seed = seed_folder[len('seed-'):]
            score_file = os.path.join(scores, seed_folder, f'scores-{name}.csv')
            if not os.path.exists(score_file) or not os.path.exists(os.path.join(dump, f'{name}-seed{seed}-fit.csv')):
                continue
            width, share = flow_choice(dump, f'{name}-seed{seed}')
            scored = np.loadtxt(score_file, delimiter=',', skiprows=1, ndmin=2)
            labels, log_flow = scored[:, 0], -scored[:, 1]
            train = np.loadtxt(os.path.join(DATA, f'{name}.train.csv'), delimiter=',')[:, 1:]
            test = np.loadtxt(os.path.join(DATA, f'{name}.test.csv'), delimiter=',')[:, 1:]
            gaussian, train, test, constant = prepared(train, test)
            finite = np.isfinite(log_flow)
            mixed = mixture(log_flow, kernel_log_density(gaussian, train, test, width) + constant, share)
            print(f'{name} seed {seed}: h {width} beta {share}; test AUROC flow {roc_auc_score(labels[finite], -log_flow[finite]):.4f}, '
                  f'flow + KDE {roc_auc_score(labels[finite], -mixed[finite]):.4f}', flush=True)


def main(names):
    for name in names:
        x = np.loadtxt(os.path.join(DATA, f'{name}.train.csv'), delimiter=',')[:, 1:]
        x = x[:, x.std(0) > 0]
        if len(x) > 6000:
            x = x[np.random.default_rng(9).permutation(len(x))[:6000]]
        lines = []
        for seed in range(3):
            rng = np.random.default_rng(seed)
            xd = x + lattice(x) * (rng.random(x.shape) - 0.5)
            p = rng.permutation(len(x))
            k = int(0.8 * len(x))
            train, validation = xd[p[:k]], xd[p[k:]]
            q = rng.permutation(len(train))
            kk = int(0.8 * len(train))
            fit, held_out = train[q[:kk]], train[q[kk:]]
            gaussian, width, share = choose(fit, held_out)
            log_gaussian = gaussian.log_density(validation)
            mixed = mixture(log_gaussian, kernel_log_density(gaussian, fit, validation, width), share)
            lines.append(f'h {width} share {share} gain {mixed.mean() - log_gaussian.mean():+.2f}')
        print(name, ' | '.join(lines), flush=True)


if __name__ == '__main__':
    arguments = sys.argv[1:]
    sets = ['ionosphere', 'pima', 'vehicle', 'satellite', 'shuttle']
    if arguments[:1] == ['--test']:
        test_auroc(arguments[1:] or sets)
    elif arguments[:1] == ['--test-flow']:
        test_flow(arguments[1], arguments[2], arguments[3:] or sets)
    elif arguments[:1] == ['--flow']:
        standardised = '--standardised' in arguments
        names = [a for a in arguments[2:] if a != '--standardised']
        on_flow(arguments[1], names or sets, standardised)
    else:
        main(arguments or sets)
