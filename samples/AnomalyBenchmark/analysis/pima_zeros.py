"""Pima's zeros (twelfth session, docs/anomaly-benchmark.md): a diagnosis on the test rows, nothing chosen from it.

In mlbench's PimaIndiansDiabetes a 0 in glucose, pressure, triceps, insulin or mass stands for a missing value. Prints
the share of zeros per feature (training file; normal and anomalous test rows), then, from the scores `AnomalyBenchmark
tabular --seeds S ... --out SCORES` wrote (SCORES/seed-S/scores-pima.csv), the median of the flow's log-likelihood gain
over the plain Gaussian on test rows with a zero triceps or insulin and on the others, by class, and each detector's
AUROC within each of the two groups.
Needs numpy and scikit-learn (Debian: python3-numpy python3-sklearn).
Usage: python3 samples/AnomalyBenchmark/analysis/pima_zeros.py SCORES
"""
import os
import sys

import numpy as np
from sklearn.metrics import roc_auc_score

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'data')
NAMES = ['pregnant', 'glucose', 'pressure', 'triceps', 'insulin', 'mass', 'pedigree', 'age']


def main(scores):
    train = np.loadtxt(os.path.join(DATA, 'pima.train.csv'), delimiter=',')[:, 1:]
    test = np.loadtxt(os.path.join(DATA, 'pima.test.csv'), delimiter=',')
    labels, x = test[:, 0], test[:, 1:]
    print('share of zeros: training file | normal test rows | anomalous test rows')
    for j, name in enumerate(NAMES):
        print(f'{name:9s} {np.mean(train[:, j] == 0):.2f} | {np.mean(x[labels == 0, j] == 0):.2f} | {np.mean(x[labels == 1, j] == 0):.2f}')
    zero = (x[:, NAMES.index('triceps')] == 0) | (x[:, NAMES.index('insulin')] == 0)
    for folder in sorted(f for f in os.listdir(scores) if f.startswith('seed-')):
        scored = np.loadtxt(os.path.join(scores, folder, 'scores-pima.csv'), delimiter=',', skiprows=1)
        flow, gaussian = scored[:, 1], scored[:, 2]
        gain = gaussian - flow
        for c, name in ((0, 'normal'), (1, 'anomalous')):
            print(f'{folder} {name}: median gain with a zero triceps or insulin {np.median(gain[(labels == c) & zero]):.2f} '
                  f'({np.sum((labels == c) & zero)} rows), without {np.median(gain[(labels == c) & ~zero]):.2f} '
                  f'({np.sum((labels == c) & ~zero)} rows)')
        for group, rows in (('with a zero', zero), ('without', ~zero)):
            print(f'{folder} AUROC within the rows {group}: flow {roc_auc_score(labels[rows], flow[rows]):.4f}, '
                  f'Gaussian {roc_auc_score(labels[rows], gaussian[rows]):.4f}')


if __name__ == '__main__':
    main(sys.argv[1])
