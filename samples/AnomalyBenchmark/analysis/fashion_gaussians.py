"""The shrinkage Gaussians of the Fashion-MNIST one-class benchmark, in numpy: test AUROC per class of (a) scikit-learn's
LedoitWolf on the pixels as they are and (b) the flow's own Gaussian (features standardised, Ledoit-Wolf shrinkage of
the correlation, pixel levels dequantised by their spacing), on the benchmark's features: 14 x 14 images of 2 x 2
averages rounded to 8 bits, / 255; each class's 6,000 training images normal, all 10,000 test images scored.
Usage: python3 samples/AnomalyBenchmark/analysis/fashion_gaussians.py [FOLDER of the four idx .gz files]
(Debian: apt-get install dataset-fashion-mnist python3-sklearn; default folder /usr/share/datasets/fashion-mnist)
"""
import gzip, os, sys
import numpy as np
from gaussian_stage import Stage, lattice_widths
from sklearn.covariance import LedoitWolf
from sklearn.metrics import roc_auc_score

folder = sys.argv[1] if len(sys.argv) > 1 else '/usr/share/datasets/fashion-mnist'

def images(name):
    with gzip.open(os.path.join(folder, name)) as f:
        a = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 14, 2, 14, 2).astype(float)
    return np.floor(a.mean((2, 4)) + 0.5).reshape(len(a), -1) / 255   # the benchmark rounds halves away from zero

def labels(name):
    with gzip.open(os.path.join(folder, name)) as f:
        return np.frombuffer(f.read(), np.uint8, offset=8)

train, train_labels = images('train-images-idx3-ubyte.gz'), labels('train-labels-idx1-ubyte.gz')
test, test_labels = images('t10k-images-idx3-ubyte.gz'), labels('t10k-labels-idx1-ubyte.gz')
results = {'scikit-learn LedoitWolf': [], "the flow's Gaussian": []}
for c in range(10):
    normal, anomalous = train[train_labels == c], test_labels != c
    results['scikit-learn LedoitWolf'].append(roc_auc_score(anomalous, LedoitWolf().fit(normal).mahalanobis(test)))
    own = Stage(normal, width=lattice_widths(normal))
    results["the flow's Gaussian"].append(roc_auc_score(anomalous, -own.log_likelihood(test)))
for name, aurocs in results.items():
    print(f"{name:24}", ' '.join(f'{a:.4f}' for a in aurocs), f' mean {np.mean(aurocs):.4f}')
