"""A synthetic one-class set of a million rows, for the issue's "defaults that work from 30 rows to millions": the fit
time and memory of the detector at default options on a large table (docs/anomaly-benchmark.md, "A million rows").

Normal rows (10 features): an equal mixture of three Gaussian clusters (centres 0, 4 e_1 and 4 e_2; the second
feature's sd 0.5, the others 1), with a banana bend (feature 3 += feature 1 ^ 2 / 2) and feature 4 on a lattice of
step 1/2. Anomalies: rows drawn the same way whose third feature is then permuted among them, so that each feature's
marginal is the normal rows' and only the bend (the dependence of feature 3 on feature 1) is broken. numpy seed 0; the
test file has 5,000 normal rows and 500 anomalies. The peers are fitted where they scale to the training rows
(features standardised by the training rows, as data/README.md describes, with a smaller grid): Ledoit-Wolf on all
of them, IsolationForest (its trees draw 256 rows each) from all of them, a full-covariance Gaussian mixture (BIC over
1 to 8 components, scikit-learn's default regularisation) and KDE (12 bandwidths, 5-fold cross-validation on 5,000
rows, scored with 20,000) on 20,000 rows drawn from them. Also printed: the true law's mean NLL of the normal test
rows, with the lattice feature dequantised over its cells as the library does.
Usage: python3 samples/AnomalyBenchmark/analysis/large_set.py FOLDER [--rows N]
       dotnet run --project samples/AnomalyBenchmark -c Release -- tabular --data FOLDER --sets large
"""
import argparse, json, os
import numpy as np
from scipy.stats import norm
from sklearn.covariance import LedoitWolf
from sklearn.ensemble import IsolationForest
from sklearn.metrics import roc_auc_score
from sklearn.mixture import GaussianMixture
from sklearn.model_selection import GridSearchCV
from sklearn.neighbors import KernelDensity

parser = argparse.ArgumentParser()
parser.add_argument('out')
parser.add_argument('--rows', type=int, default=1_000_000)
args = parser.parse_args()
os.makedirs(args.out, exist_ok=True)
rng = np.random.default_rng(0)
CENTRES = np.array([[0.0] * 10, [4.0] + [0.0] * 9, [0.0, 4.0] + [0.0] * 8])
SD = np.array([1, 0.5] + [1] * 8)


def normal(n):
    x = rng.standard_normal((n, 10)) * SD + CENTRES[rng.integers(0, 3, n)]
    x[:, 2] += 0.5 * x[:, 0] ** 2
    x[:, 3] = np.round(x[:, 3] * 2) / 2
    return x


def true_log_density(x):
    """log p(x) of the generator, the lattice feature's probability spread over its cell of width 1/2."""
    per_centre = []
    for c in CENTRES:
        bent = x.copy()
        bent[:, 2] -= 0.5 * x[:, 0] ** 2
        lp = sum(norm.logpdf(bent[:, j], c[j], SD[j]) for j in range(10) if j != 3)
        cell = norm.cdf(2 * x[:, 3] + 0.5, 2 * c[3], 2) - norm.cdf(2 * x[:, 3] - 0.5, 2 * c[3], 2)
        per_centre.append(lp + np.log(cell) - np.log(0.5))
    return np.logaddexp.reduce(per_centre, axis=0) - np.log(len(CENTRES))


train = normal(args.rows)
anomalies = normal(500)
anomalies[:, 2] = rng.permutation(anomalies[:, 2])
test = np.vstack([normal(5000), anomalies])
label = np.r_[np.zeros(5000), np.ones(500)]
np.savetxt(os.path.join(args.out, 'large.train.csv'), np.c_[np.zeros(len(train)), train], delimiter=',', fmt='%.6g')
np.savetxt(os.path.join(args.out, 'large.test.csv'), np.c_[label, test], delimiter=',', fmt='%.6g')

mean, sd = train.mean(0), train.std(0)
z, zt = (train - mean) / sd, (test - mean) / sd
subset = z[rng.choice(len(z), min(20_000, len(z)), replace=False)]
auroc = {'gauss_shrink': roc_auc_score(label, LedoitWolf().fit(z).mahalanobis(zt)),
         'iforest': roc_auc_score(label, -IsolationForest(random_state=0).fit(z).score_samples(zt))}
gmm = min((GaussianMixture(k, random_state=0).fit(subset) for k in range(1, 9)), key=lambda g: g.bic(subset))
auroc['gmm_bic'] = roc_auc_score(label, -gmm.score_samples(zt))
search = GridSearchCV(KernelDensity(), {'bandwidth': np.logspace(-1.5, 0.5, 12)}, cv=5).fit(subset[:5000])
kde = KernelDensity(bandwidth=search.best_params_['bandwidth']).fit(subset)
auroc['kde_cv'] = roc_auc_score(label, -kde.score_samples(zt))
json.dump({'large': {'dim': 10, 'auroc': auroc}}, open(os.path.join(args.out, 'peers.json'), 'w'), indent=1)
print(f'true law: NLL of the normal test rows {-true_log_density(test[label == 0]).mean():.2f} nats per row')
print(f'{len(train)} training rows; peers: ' + ', '.join(f'{k} {v:.4f}' for k, v in auroc.items())
      + f' (GMM: {gmm.n_components} components; KDE bandwidth {search.best_params_["bandwidth"]:.3f})')
