"""The classic one-class detectors of data/README.md (scikit-learn), fitted and scored as the peers in data/peers.json
were: features standardised by the training rows (constant ones left out), each detector at the settings below."""
import numpy as np
from sklearn.covariance import LedoitWolf
from sklearn.ensemble import IsolationForest
from sklearn.mixture import GaussianMixture
from sklearn.model_selection import GridSearchCV
from sklearn.neighbors import KernelDensity, LocalOutlierFactor
from sklearn.svm import OneClassSVM


def classic_scores(train, test):
    """Anomaly scores (higher: more anomalous) of the rows TEST [m, d] by each classic detector fitted to TRAIN [n, d]."""
    keep = train.std(0) > 0
    mu, sd = train[:, keep].mean(0), train[:, keep].std(0)
    A, B = (train[:, keep] - mu) / sd, (test[:, keep] - mu) / sd
    sc = {}
    sc['gauss_shrink'] = LedoitWolf().fit(A).mahalanobis(B)
    sc['gauss_diag'] = (B ** 2).sum(1)
    best = None
    for c in range(1, 9):
        for t in ['full', 'diag']:
            # No more parameters than numbers in the training rows.
            if c * (A.shape[1] * (A.shape[1] + 3) / 2 if t == 'full' else 2 * A.shape[1]) >= len(A) * A.shape[1]:
                continue
            try:
                g = GaussianMixture(c, covariance_type=t, random_state=0, reg_covar=1e-4).fit(A)
                bic = g.bic(A)
                if best is None or bic < best[0]:
                    best = (bic, g)
            except Exception:
                pass
    sc['gmm_bic'] = -best[1].score_samples(B)
    kd = GridSearchCV(KernelDensity(), {'bandwidth': np.logspace(-1.5, 0.5, 25)}, cv=3).fit(A).best_estimator_
    sc['kde_cv'] = -kd.score_samples(B)
    sc['iforest'] = -IsolationForest(random_state=0).fit(A).score_samples(B)
    sc['lof'] = -LocalOutlierFactor(n_neighbors=min(20, len(A) - 1), novelty=True).fit(A).score_samples(B)
    sc['ocsvm'] = -OneClassSVM(nu=0.1, gamma='scale').fit(A).score_samples(B)
    return sc
