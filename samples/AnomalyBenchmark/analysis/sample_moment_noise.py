"""How far a perfect model's draws fall from the training rows' moments (docs/anomaly-benchmark.md, item 5).

Issue 12's item 5 asks that, for every varying feature, the mean of 20,000 draws lie within 0.1 training standard
deviations of the training rows' mean and their standard deviation within 15% of the training rows'. The training
rows are themselves a sample: a model equal to the population they were drawn from has draws whose moments are the
population's, and the training rows' moments miss those by their sampling error. This script measures that error by
the bootstrap: 400 resamples of NAME.train.csv play the training rows, the file itself plays the population (with
20,000 draws the draws' own noise is far smaller and is left out), and the bounds are checked as the benchmark's
`samples` command checks them. Needs numpy. No test file is read.
Usage: python3 samples/AnomalyBenchmark/analysis/sample_moment_noise.py
"""
import os
import numpy as np
from tabular_files import read_set

D = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'data')
rng = np.random.default_rng(0)
print(f"{'set':<11}{'rows':>6}{'features':>9}  {'P(miss)':>8}{'outside: median':>16}{'90th':>6}"
      f"{'worst gap: median':>19}{'95th':>7}{'worst sd ratio: median':>24}{'95th':>14}")
for name in ['ionosphere', 'pima', 'vehicle', 'satellite', 'shuttle']:
    x = read_set(D, name, 'train')[0]
    x = x[:, x.std(0) > 0]
    n, mean, sd = len(x), x.mean(0), x.std(0)
    outside, gaps, log_ratios, ratios = [], [], [], []
    for _ in range(400):
        b = x[rng.integers(0, n, n)]
        gap = np.abs(mean - b.mean(0)) / b.std(0)
        ratio = sd / b.std(0)
        outside.append(int(((gap > 0.1) | (np.abs(ratio - 1) > 0.15)).sum()))
        gaps.append(gap.max())
        j = np.argmax(np.abs(np.log(ratio)))
        log_ratios.append(abs(np.log(ratio[j])))
    outside, gaps, log_ratios = np.array(outside), np.array(gaps), np.array(log_ratios)
    def span(v):
        return f"{np.exp(-v):.2f}/{np.exp(v):.2f}"
    print(f"{name:<11}{n:>6}{x.shape[1]:>9}  {np.mean(outside > 0):>8.2f}{np.median(outside):>16.0f}{np.percentile(outside, 90):>6.0f}"
          f"{np.median(gaps):>19.3f}{np.percentile(gaps, 95):>7.3f}{span(np.median(log_ratios)):>24}{span(np.percentile(log_ratios, 95)):>14}")
