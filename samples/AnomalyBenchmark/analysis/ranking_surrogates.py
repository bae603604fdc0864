"""Can the training rows alone tell which detector will rank a set's anomalies best? (The question (a) the notes asked
since the fourth session: a criterion aimed at ranking rather than likelihood, computed on training rows only.) No
anomaly is in a training file, so the criterion ranks held-out training rows against synthetic anomalies made from
them, and picks the detector that ranks them best. Two generators, fixed before any run: 'marginals' (each feature
drawn independently from the held-out rows' values of that feature: the rows' dependencies broken) and 'swap' (a
held-out row with ceil(d / 4) of its features, a quarter rounded up, taken from one held-out row drawn at random:
another row but 1 / n of the time). Five folds of the training file (at most MAX rows, a seeded draw); in each, the
classic detectors (classic_detectors.py) are fitted to four folds and score the fifth and as many synthetic rows; the
criterion is the mean AUROC over folds. Printed beside each set's test AUROC of the same detectors (FOLDER/peers.json),
then, over the sets, twice (choosing among the three densities, then among all seven detectors): the mean test AUROC
of each criterion's pick (on a tie, the first detector in classic_detectors.py's order), in brackets the sets where the
pick is the detector with the test's best AUROC, against each fixed detector and the per-set best (an oracle).
Nothing in the library is chosen by this script.
With --write DIR, each set's folds are also written to DIR, so that the library's flow and its plain Gaussian can be
put to the same criterion (`AnomalyBenchmark tabular --data DIR --sets SET-marginals-1 SET-swap-1 ...`, any of folds
1 to 5). With --library, the benchmark's results.json of those folds and its results.json of the test files (the same
sets): the library's three detectors (the flow, its plain Gaussian, the Gaussian stage with the flow's tails) picked by
each generator's criterion averaged over the folds run (the flow where it ties for the highest), against each of them
always.
Usage: python3 samples/AnomalyBenchmark/analysis/ranking_surrogates.py FOLDER SET... [--max-rows MAX] [--write DIR]
       python3 samples/AnomalyBenchmark/analysis/ranking_surrogates.py --library FOLDS_RESULTS TEST_RESULTS...
"""
import json, os, sys
import numpy as np
from sklearn.metrics import roc_auc_score
from classic_detectors import classic_scores
from tabular_files import read_set, write_set

GENERATORS = ('marginals', 'swap')
DENSITIES = ('gauss_shrink', 'gmm_bic', 'kde_cv')


def synthetic(rows, kind, rng):
    """As many synthetic anomalies as ROWS [n, d], made from them by generator KIND."""
    n, d = rows.shape
    if kind == 'marginals':
        return np.stack([rows[rng.integers(0, n, n), j] for j in range(d)], 1)
    out, k = rows.copy(), max(1, int(np.ceil(d / 4)))
    for i in range(n):
        features = rng.choice(d, k, replace=False)
        out[i, features] = rows[rng.integers(0, n), features]
    return out


def criteria(name, x, rng, write=None, folds=5):
    """{generator: {detector: mean AUROC of held-out rows against synthetic anomalies over the folds}}. With WRITE, each
    fold F (1 to 5) of each generator is also written there as the set NAME-GENERATOR-F (train: the other folds; test:
    the fold and its synthetic rows), for `AnomalyBenchmark tabular --data WRITE`, with its classic detectors' AUROC."""
    parts = np.array_split(rng.permutation(len(x)), folds)
    out, peers = {}, {}
    for kind in GENERATORS:
        per = {}
        for i, part in enumerate(parts):
            held, train = x[part], np.delete(x, part, 0)
            fake = synthetic(held, kind, rng)
            y = np.r_[np.zeros(len(held)), np.ones(len(fake))]
            for method, s in classic_scores(train, np.vstack([held, fake])).items():
                per.setdefault(method, []).append(roc_auc_score(y, s))
            if write:
                fold = f'{name}-{kind}-{i + 1}'
                write_set(write, fold, 'train', np.zeros(len(train)), train)
                write_set(write, fold, 'test', y, np.vstack([held, fake]))
                peers[fold] = {'train': len(train), 'test': len(y), 'anomalies': len(fake), 'dim': x.shape[1],
                               'auroc': {m: v[i] for m, v in per.items()}}
        out[kind] = {m: float(np.mean(v)) for m, v in per.items()}
    return out, peers


LIBRARY = ('flow_auroc', 'gaussian_auroc', 'stage_auroc')


def library(folds_results, test_results):
    """Prints the library's detectors picked by the criteria against each of them always (see the usage above)."""
    runs = {}
    for r in json.load(open(folds_results))['sets']:
        runs.setdefault(r['set'].rsplit('-', 1)[0], []).append(r)
    # The criterion: each detector's AUROC averaged over the folds that were run.
    folds = {key: {m: float(np.mean([r[m] for r in rs])) for m in LIBRARY} for key, rs in runs.items()}
    tests = {r['set']: r for f in test_results for r in json.load(open(f))['sets'] if f'{r["set"]}-{GENERATORS[0]}' in folds}
    for name, test in tests.items():
        print(f'{name:11s} test      ', ' '.join(f'{m[:-6]} {test[m]:.4f}' for m in LIBRARY))
        for kind in GENERATORS:
            print(f'{name:11s} {kind:10s}', ' '.join(f'{m[:-6]} {folds[f"{name}-{kind}"][m]:.4f}' for m in LIBRARY),
                  f'({len(runs[f"{name}-{kind}"])} folds)')
    print(f'Over {len(tests)} sets: mean test AUROC (sets where the pick is not the flow)')
    for kind in GENERATORS:
        picks = [max(LIBRARY, key=lambda m: (folds[f'{name}-{kind}'][m], m == LIBRARY[0])) for name in tests]
        print(f'  pick by {kind:10s} {np.mean([tests[n][m] for n, m in zip(tests, picks)]):.4f} '
              f'({sum(m != LIBRARY[0] for m in picks)})')
    for m in LIBRARY:
        print(f'  always {m[:-6]:13s} {np.mean([t[m] for t in tests.values()]):.4f}')


def main(args):
    if args[0] == '--library':
        return library(args[1], args[2:])
    max_rows = 6000
    if '--max-rows' in args:
        i = args.index('--max-rows'); max_rows = int(args[i + 1]); del args[i:i + 2]
    write = None
    if '--write' in args:
        i = args.index('--write'); write = args[i + 1]; del args[i:i + 2]
        os.makedirs(write, exist_ok=True)
    folder, names = args[0], args[1:]
    peers = json.load(open(os.path.join(folder, 'peers.json')))
    results, written = {}, {}
    for name in names:
        x, _ = read_set(folder, name, 'train')
        if len(x) > max_rows:
            x = x[np.random.default_rng(0).permutation(len(x))[:max_rows]]
        (crit, fold_peers), test = criteria(name, x, np.random.default_rng(1), write), peers[name]['auroc']
        written.update(fold_peers)
        results[name] = (crit, test)
        print(name, 'test      ', ' '.join(f'{m} {test[m]:.4f}' for m in test))
        for kind in GENERATORS:
            print(name, f'{kind:10s}', ' '.join(f'{m} {crit[kind][m]:.4f}' for m in test))
        sys.stdout.flush()
    if write:
        json.dump(written, open(os.path.join(write, 'peers.json'), 'w'), indent=1)
    for pool_name, pool in (('the three densities', DENSITIES), ('all seven', None)):
        print(f'Over {len(results)} sets, choosing among {pool_name}: mean test AUROC (sets where the pick is the test\'s best)')
        methods = pool or list(next(iter(results.values()))[1])
        for kind in GENERATORS:
            picks = [(test[max(methods, key=crit[kind].get)], max(methods, key=crit[kind].get) == max(methods, key=test.get))
                     for crit, test in results.values()]
            print(f'  pick by {kind:10s} {np.mean([p for p, _ in picks]):.4f} ({sum(a for _, a in picks)})')
        for m in methods:
            print(f'  always {m:14s} {np.mean([test[m] for _, test in results.values()]):.4f}')
        print(f'  per-set best          {np.mean([max(test[m] for m in methods) for _, test in results.values()]):.4f}')


if __name__ == '__main__':
    main(sys.argv[1:])
