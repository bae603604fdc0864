"""Density probes of the fifth session (docs/anomaly-benchmark.md, "Probed in the fifth session and not kept"), on
training rows only unless a subcommand says otherwise. numpy and scikit-learn (Debian: python3-numpy python3-sklearn).

  tails          held-out log-likelihood of the Gaussian stage with each standardised feature u passed through
                 t = c asinh(u / c) before the Ledoit-Wolf correlation (c = inf is the flow's Gaussian), for c in
                 {1, 2, 3, 5, 10, inf}: the five training files, MNIST-tiny's training file, Fashion-MNIST 14 x 14
                 per class (pixels / 255, 2 x 2 averages), three 80/20 splits each; nats per row
  tail-sets OUT  writes OUT/plain and OUT/tails: the five sets with one dequantisation draw fixed in the files, and
                 the same rows transformed with the c that `tails` prefers on each training file (parameters from the
                 training file); prints each set's mean log-Jacobian of the transform over its training rows, which
                 turns `validate --data OUT/tails` log-likelihoods into those of the plain rows
  logit          Fashion-MNIST in the logit space of docs/experiments.md (14 x 14 and 28 x 28): bits/dim of the
                 Gaussian stage per c on 2,000 held-out of the first 12,000 training images
  lowrank-sets   the same held-out log-likelihoods (diagonal, probabilistic PCA of rank 4 to 256 below the rows and
                 features, full Ledoit-Wolf; three 80/20 splits, nats per row) for the training files of --sets in --data,
                 e.g. the unseen tables with fewer rows than features (nineteenth session)
  shrinkage      the five training files, three 80/20 splits, c = inf and 1: held-out log-likelihood per row of the stage
                 with Ledoit-Wolf's correlation and with the sample correlation shrunk towards I by 0 to 0.3 (eighteenth
                 session; up to a constant shared by each line), and Ledoit-Wolf's intensity on the fitting rows
  mixtures       held-out gain of Gaussian mixtures (full covariance, 2 to 8 components, ridge 1e-3 to 1e-1, the best
                 on the held-out rows themselves, so optimistic) over the flow's Gaussian, two 80/20 splits per set
  atoms OUT      writes OUT: the five sets with ionosphere's training file's repeated values (a value held by 3 or more
                 rows of a feature with 3 or more distinct values: its clipped returns at 1, 0 and -1) spread
                 uniformly by +-0.05, for `validate --data OUT --sets ionosphere`
  moments        the five training files, three 80/20 splits: per c in {0.5, 1, 2, 3, 5, 10}, the held-out gain over
                 the Gaussian of the tailed stage as fitted (t's mean and scale) and of the same stage with each
                 feature's location and scale moved to give the training mean and sd, and the fitted law's implied
                 smallest sd (in training sds) and largest |mean| (the sixth session's item-5 probe)
  lowrank        wide rows' stage (eighteenth session): held-out log-likelihood of the plain stage (c = inf) with its
                 correlation diagonal, full (Ledoit-Wolf) or low rank plus isotropic (probabilistic PCA of the standardised
                 rows: the top k eigenpairs of their correlation, the other eigenvalues replaced by their mean), for
                 Fashion-MNIST 28 x 28 in the logit space of `logit` (bits/dim, 2,000 held-out of the first 12,000 training
                 images), MNIST-tiny's training file and the five training files (nats per row, three 80/20 splits;
                 for the five, the best k picked on the held-out rows themselves, so optimistic)
  mnist-pixels   MNIST-tiny: pixels lit in few training rows, and (a diagnosis on the TEST rows, nothing chosen from
                 it) the stage's test AUROC with c = inf and 1 and which pixels dominate the Gaussian's score of the
                 highest-scored test rows

Usage: python3 samples/AnomalyBenchmark/analysis/density_probes.py SUBCOMMAND [OUT]
       [--data samples/AnomalyBenchmark/data] [--sets NAME ...] [--mnist-tiny DIR] [--fashion DIR]
"""
import argparse, gzip, os
import numpy as np
from gaussian_stage import Stage, lattice_widths
from tabular_files import read_set

parser = argparse.ArgumentParser()
parser.add_argument('command', choices=['tails', 'tail-sets', 'logit', 'lowrank', 'lowrank-sets', 'shrinkage', 'mixtures', 'atoms', 'moments', 'mnist-pixels'])
parser.add_argument('out', nargs='?')
parser.add_argument('--data', default='samples/AnomalyBenchmark/data')
parser.add_argument('--sets', nargs='+', help='tails: only these sets of --data (e.g. the unseen ones), no images')
parser.add_argument('--mnist-tiny', default='test/data/mlnet-mnist-tiny')
parser.add_argument('--fashion', default='/usr/share/datasets/fashion-mnist')
args = parser.parse_args()
if args.command in ('tail-sets', 'atoms') and not args.out:
    parser.error(f'{args.command} needs the OUT folder to write the sets to')
SETS = ['ionosphere', 'pima', 'vehicle', 'satellite', 'shuttle']
TAILS = [1, 2, 3, 5, 10, np.inf]


def dequantised(x, width, rng):
    return x + width * (rng.random(x.shape) - 0.5)


def tabular(name, part):
    return read_set(args.data, name, part)


def mnist_tiny(part):
    rows, labels = [], []
    for line in open(os.path.join(args.mnist_tiny, f'MNIST.{part}.txt')):
        fields = line.split('\t')
        row = np.zeros(784)
        for pair in fields[2:]:
            index, value = pair.split(':')
            row[int(index)] = float(value)
        rows.append(row)
        labels.append(float(fields[0]))
    return np.array(rows), np.array(labels)


def fashion_images(part, side):
    with gzip.open(os.path.join(args.fashion, f'{part}-images-idx3-ubyte.gz')) as f:
        a = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 28, 28).astype(float)
    return (a if side == 28 else a.reshape(-1, 14, 2, 14, 2).mean((2, 4))).reshape(len(a), -1)


def fashion_labels(part):
    with gzip.open(os.path.join(args.fashion, f'{part}-labels-idx1-ubyte.gz')) as f:
        return np.frombuffer(f.read(), np.uint8, offset=8)


def splits(x, count):
    """count 80/20 splits (fitting rows, held-out rows) of x, numpy seeds 0, 1, ..., lattice features dequantised by each
    split's own draw."""
    width = lattice_widths(x)
    for split in range(count):
        rng = np.random.default_rng(split)
        order = rng.permutation(len(x))
        k = int(0.8 * len(x))
        xd = dequantised(x, width, rng)
        yield xd[order[:k]], xd[order[k:]]


def held_out_by_tail(x, count=3):
    """Mean held-out log-likelihood of the stage per c, averaged over 80/20 splits of x (lattice features dequantised)."""
    result = {c: [] for c in TAILS}
    for fit, held in splits(x, count):
        for c in TAILS:
            result[c].append(Stage(fit, c).log_likelihood(held).mean())
    return {c: float(np.mean(v)) for c, v in result.items()}


def best_tail(scores):
    return max(scores, key=scores.get)


def report(name, scores):
    print(f'{name:12}', '  '.join(f'c={c:g} {s:9.2f}' for c, s in scores.items()), f'  best c={best_tail(scores):g}', flush=True)



RANKS = [4, 8, 16, 32, 64, 128, 256]

def by_correlation(fit, held):
    """Held-out log-likelihood per row: diagonal, low rank k for each of RANKS, and full (the stage's Ledoit-Wolf)."""
    stage = Stage(fit, np.inf)
    keep = ~stage.constant
    standardise = lambda x: ((x - stage.mean) / stage.sd)[:, keep]
    v, w = standardise(fit), standardise(held)
    p = v.shape[1]
    jacobian = -np.log(stage.sd).sum()
    # The constant features (scale 1 in this copy, value the mean) add -log(2 pi) / 2 each, as in the full stage.
    constant_part = -0.5 * (~keep).sum() * np.log(2 * np.pi) - 0.5 * (((held - stage.mean) / stage.sd)[:, ~keep] ** 2).sum(1)
    scores = {'diagonal': (-0.5 * (w ** 2).sum(1) - 0.5 * p * np.log(2 * np.pi) + jacobian + constant_part).mean()}
    eigenvalues, vectors = np.linalg.eigh(v.T @ v / len(v))
    eigenvalues, vectors = eigenvalues[::-1], vectors[:, ::-1]
    for k in RANKS:
        if k >= min(p, len(v)):
            continue
        lam, basis = eigenvalues[:k], vectors[:, :k]
        noise = (p - lam.sum()) / (p - k)
        projected = w @ basis
        quadratic = (projected ** 2 / lam).sum(1) + ((w ** 2).sum(1) - (projected ** 2).sum(1)) / noise
        log_det = np.log(lam).sum() + (p - k) * np.log(noise)
        scores[f'k={k}'] = (-0.5 * (quadratic + log_det + p * np.log(2 * np.pi)) + jacobian + constant_part).mean()
    scores['full'] = stage.log_likelihood(held).mean()
    return scores


if args.command == 'tails':
    for name in args.sets or SETS:
        report(name, held_out_by_tail(tabular(name, 'train')[0]))
    if args.sets:
        raise SystemExit
    report('mnist-tiny', held_out_by_tail(mnist_tiny('Train.0-class.tiny')[0]))
    images, labels = fashion_images('train', 14) / 255, fashion_labels('train')
    for c in range(10):
        report(f'fashion {c}', held_out_by_tail(images[labels == c]))

elif args.command == 'tail-sets':
    for arm in ['plain', 'tails']:
        os.makedirs(os.path.join(args.out, arm), exist_ok=True)
    for name in SETS:
        train, train_labels = tabular(name, 'train')
        test, test_labels = tabular(name, 'test')
        c = best_tail(held_out_by_tail(train))
        width = lattice_widths(train)
        rng = np.random.default_rng(5)
        train, test = dequantised(train, width, rng), dequantised(test, width, rng)
        stage = Stage(train, c)
        (train_t, log_jacobian), (test_t, _) = stage.marginal(train), stage.marginal(test)
        for arm, (a, b) in {'plain': (train, test), 'tails': (train_t, test_t)}.items():
            for part, rows, labels in [('train', a, train_labels), ('test', b, test_labels)]:
                np.savetxt(os.path.join(args.out, arm, f'{name}.{part}.csv'), np.c_[labels, rows], delimiter=',', fmt='%.9g')
        print(f'{name:12} c={c:g}  mean log-Jacobian over the training rows {log_jacobian.mean():.3f}')
    for arm in ['plain', 'tails']:
        for f in ['peers.json', 'README.md']:
            with open(os.path.join(args.data, f)) as src, open(os.path.join(args.out, arm, f), 'w') as dst:
                dst.write(src.read())

elif args.command == 'moments':
    for name in SETS:
        rows = {c: [] for c in [0.5, 1, 2, 3, 5, 10]}
        for fit, held in splits(tabular(name, 'train')[0], 3):
            plain = Stage(fit).log_likelihood(held).mean()
            for c in rows:
                stage = Stage(fit, c)
                mean, sd = stage.implied_moments()
                varying = ~stage.constant
                matched = Stage(fit, c).match_moments(fit)
                rows[c].append((stage.log_likelihood(held).mean() - plain, matched.log_likelihood(held).mean() - plain,
                                sd[varying].min(), np.abs(mean[varying]).max()))
        for c, values in rows.items():
            fitted, matched, smallest, largest = np.mean(values, axis=0)
            print(f'{name:12} c={c:<4g} gain as fitted {fitted:7.2f}  moments matched {matched:7.2f}  '
                  f'implied sd min {smallest:.3f}  |mean| max {largest:.3f}', flush=True)

elif args.command == 'logit':
    lam = 1e-6
    for side in [14, 28]:
        pixels = fashion_images('train', side)[:12000]
        if side == 14:
            pixels = np.floor(pixels + 0.5)   # the 14 x 14 variant is rounded back to 8 bits (docs/experiments.md)
        y = (pixels + np.random.default_rng(1).random(pixels.shape)) / 256
        s = lam + (1 - 2 * lam) * y
        z = np.log(s) - np.log1p(-s)
        jacobian = (np.log(1 - 2 * lam) - np.log(s) - np.log1p(-s)).sum(1)
        d = z.shape[1]
        line = []
        for c in TAILS:
            ll = Stage(z[:10000], c).log_likelihood(z[10000:]) + jacobian[10000:]
            line.append(f'c={c:g} {-(ll.mean() - d * np.log(256)) / (d * np.log(2)):.4f}')
        print(f'{side} x {side} bits/dim:', '  '.join(line), flush=True)

elif args.command == 'lowrank':
    lam = 1e-6
    pixels = fashion_images('train', 28)[:12000]
    y = (pixels + np.random.default_rng(1).random(pixels.shape)) / 256
    s = lam + (1 - 2 * lam) * y
    z = np.log(s) - np.log1p(-s)
    jacobian = (np.log(1 - 2 * lam) - np.log(s) - np.log1p(-s)).sum(1)
    d = z.shape[1]
    scores = by_correlation(z[:10000], z[10000:])
    bits = lambda ll: -(ll + jacobian[10000:].mean() - d * np.log(256)) / (d * np.log(2))
    print('Fashion-MNIST 28 x 28, bits/dim:', '  '.join(f'{name} {bits(ll):.4f}' for name, ll in scores.items()), flush=True)
    x = mnist_tiny('Train.0-class.tiny')[0]
    per_split = [by_correlation(fit, held) for fit, held in splits(x, 3)]
    print('MNIST-tiny, nats per row:', '  '.join(f'{name} {np.mean([s[name] for s in per_split]):.1f}' for name in per_split[0]), flush=True)
    for name in SETS:
        per_split = [by_correlation(fit, held) for fit, held in splits(tabular(name, 'train')[0], 3)]
        mean = {k: np.mean([s[k] for s in per_split]) for k in per_split[0]}
        ranks = [k for k in mean if k.startswith('k=')]
        best = max(ranks, key=mean.get) if ranks else None
        print(f'{name:12} nats per row: diagonal {mean["diagonal"]:.2f}  full {mean["full"]:.2f}'
              + (f'  best rank {best} {mean[best]:.2f}' if best else '  (no rank below the features)'), flush=True)

elif args.command == 'lowrank-sets':
    for name in args.sets:
        x = tabular(name, 'train')[0]
        per_split = [by_correlation(fit, held) for fit, held in splits(x, 3)]
        mean = {k: np.mean([s[k] for s in per_split]) for k in per_split[0]}
        print(f'{name:12} {x.shape[0]} x {x.shape[1]}, nats per row:', '  '.join(f'{k} {v:.1f}' for k, v in mean.items()), flush=True)

elif args.command == 'shrinkage':
    def held_out(stage, held, correlation):
        t, log_jacobian = stage.marginal(held)
        v = (t - stage.t_mean) / stage.t_sd
        v[:, stage.constant] = 0
        factor = np.linalg.cholesky(correlation)
        z = np.linalg.solve(factor, v.T).T
        return (-0.5 * (z ** 2).sum(1) - np.log(np.diag(factor)).sum() - np.log(stage.t_sd).sum() + log_jacobian).mean()

    INTENSITIES = [0, 0.001, 0.01, 0.03, 0.1, 0.3]
    for name in SETS:
        for c in [np.inf, 1]:
            scores, intensity = {k: [] for k in ['LW'] + INTENSITIES}, []
            for fit, held in splits(tabular(name, 'train')[0], 3):
                stage = Stage(fit, c)
                t, _ = stage.marginal(fit)
                v = (t - stage.t_mean) / stage.t_sd
                v[:, stage.constant] = 0
                sample = v.T @ v / len(v)
                lw = stage.factor @ stage.factor.T
                off = ~np.eye(len(sample), dtype=bool)
                intensity.append(1 - (lw[off] * sample[off]).sum() / max((sample[off] ** 2).sum(), 1e-300))
                scores['LW'].append(held_out(stage, held, lw))
                for k in INTENSITIES:
                    shrunk = (1 - k) * sample + k * np.eye(len(sample)) + np.diag(stage.constant * (1 - k))
                    scores[k].append(held_out(stage, held, shrunk))
            print(f'{name:11} c={c:<4g} LW intensity {np.mean(intensity):.3f}  '
                  + '  '.join(f'{k}: {np.mean(v):.2f}' for k, v in scores.items()), flush=True)

elif args.command == 'mixtures':
    from sklearn.mixture import GaussianMixture
    for name in SETS:
        gains = []
        for fit, held in splits(tabular(name, 'train')[0], 2):
            gaussian = Stage(fit, np.inf).log_likelihood(held).mean()
            mean, sd = fit.mean(0), np.where(fit.std(0) > 0, fit.std(0), 1)
            best = {}
            for components in [2, 3, 4, 6, 8]:
                scores = []
                for ridge in [1e-3, 1e-2, 1e-1]:
                    try:
                        model = GaussianMixture(components, covariance_type='full', reg_covar=ridge, random_state=0, n_init=2)
                        model.fit((fit - mean) / sd)
                        scores.append(model.score_samples((held - mean) / sd).mean() - np.log(sd).sum())
                    except (ValueError, np.linalg.LinAlgError):
                        pass
                best[components] = max(scores) - gaussian
            gains.append(' '.join(f'{m}:{g:+.2f}' for m, g in best.items()))
        print(f'{name:12} gain over the Gaussian, by components, splits 1 | 2:', ' | '.join(gains), flush=True)

elif args.command == 'atoms':
    import shutil
    shutil.copytree(args.data, args.out, dirs_exist_ok=True)
    path = os.path.join(args.out, 'ionosphere.train.csv')
    a = np.loadtxt(path, delimiter=',')
    rng = np.random.default_rng(0)
    spread = 0
    for j in range(1, a.shape[1]):
        values, counts = np.unique(a[:, j], return_counts=True)
        if len(values) < 3:
            continue
        for value in values[counts >= 3]:
            at = a[:, j] == value
            a[at, j] = value + 0.1 * (rng.random(at.sum()) - 0.5)
            spread += at.sum()
    np.savetxt(path, a, delimiter=',', fmt='%.6g')
    print(f'ionosphere: {spread} values spread, of {a.shape[0] * (a.shape[1] - 1)}')

elif args.command == 'mnist-pixels':
    train, _ = mnist_tiny('Train.0-class.tiny')
    lit = (train > 0).sum(0)
    print('pixels lit in at most k of', len(train), 'training rows:', ', '.join(f'k={k}: {(lit <= k).sum()}' for k in [0, 1, 2, 5, 10, 20]))
    test, labels = mnist_tiny('Test.tiny')
    width = lattice_widths(train)
    from sklearn.metrics import roc_auc_score
    fitted = dequantised(train, width, np.random.default_rng(0))
    print('test AUROC of the stage (a diagnosis):', ', '.join(
        f'c={c:g} {roc_auc_score(labels > 0, -Stage(fitted, c).log_likelihood(test)):.4f}' for c in [np.inf, 1]))
    stage = Stage(fitted, np.inf)
    score = -stage.log_likelihood(test)
    u = (test - stage.mean) / stage.sd
    print('test rows by score, highest first (a diagnosis on test rows): label, score, then the three pixels with the',
          'largest u^2 / 2 as (pixel, u^2 / 2, training rows that light it)')
    for i in np.argsort(-score)[:12]:
        top = np.argsort(-u[i] ** 2)[:3]
        print(f'  {"anomaly" if labels[i] > 0 else "normal ":8}{score[i]:10.0f} ',
              ' '.join(f'({p}, {u[i, p] ** 2 / 2:.0f}, {lit[p]})' for p in top))
