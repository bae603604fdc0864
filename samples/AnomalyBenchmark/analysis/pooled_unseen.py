"""Every table that chose nothing, pooled (docs/anomaly-benchmark.md, twenty-fourth session): from the results JSON files
`tabular --data FOLDER` wrote for the batches (one seed), the mean test AUROC of the flow, its own plain Gaussian and each
classic detector over all their tables, on how many tables the flow is above and below each with the two-sided p of
Wilcoxon's signed-rank test of the per-table differences (tables as the sample: whether the flow would rank above that
method on tables like these), and each method's mean rank among the eight (1 = best on a table; tied methods share the
average of their ranks). A table in two files counts once (the last). Reporting only: nothing is chosen from it.
Needs numpy and scipy (Debian: python3-numpy python3-scipy).
Usage: python3 samples/AnomalyBenchmark/analysis/pooled_unseen.py RESULTS.json [RESULTS.json ...]
"""
import json
import sys

import numpy as np
from scipy.stats import rankdata, wilcoxon

PEERS = ['gauss_shrink', 'kde_cv', 'gmm_bic', 'iforest', 'lof', 'ocsvm', 'gauss_diag']


def main(files):
    tables = {}
    for name in files:
        for result in json.load(open(name))['sets']:
            tables[result['set']] = result
    names = sorted(tables)
    flow = np.array([tables[n]['flow_auroc'] for n in names])
    gaussian = np.array([tables[n]['gaussian_auroc'] for n in names])
    peers = {p: np.array([tables[n]['peers_auroc'][p] for n in names]) for p in PEERS}
    print(f'{len(names)} tables: the flow {flow.mean():.4f}, its plain Gaussian {gaussian.mean():.4f}, '
          + ', '.join(f'{p} {v.mean():.4f}' for p, v in peers.items())
          + f'; per-table best classic {np.max(np.stack(list(peers.values())), 0).mean():.4f}')
    for p, v in [('its Gaussian', gaussian)] + list(peers.items()):
        print(f'  flow against {p:13s} above on {(flow > v).sum():2d}, below on {(flow < v).sum():2d}, '
              f'mean difference {(flow - v).mean():+.4f}, Wilcoxon p {wilcoxon(flow - v).pvalue:.2f}')
    methods = np.stack([flow] + list(peers.values()))
    ranks = rankdata(-methods, axis=0)
    print('mean rank among eight: ' + ', '.join(f'{m} {r:.2f}' for m, r in zip(['flow'] + PEERS, ranks.mean(1))))


if __name__ == '__main__':
    main(sys.argv[1:])
