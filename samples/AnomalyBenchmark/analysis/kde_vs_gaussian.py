"""Held-out log-likelihood of KDE against the shrinkage Gaussian on the training files only (docs/anomaly-benchmark.md).

For each set: 3 random 80/20 splits of NAME.train.csv (numpy seeds 0-2), lattice (integer-valued) features dequantised
with uniform offsets, features standardised by the 80%, KDE bandwidth by 3-fold cross-validation on the 80%, and the
mean log-likelihood of the 20% in the data's units minus that of a Ledoit-Wolf Gaussian fitted to the same 80%.
Needs numpy and scikit-learn (Debian: python3-sklearn). No test file is read.
Usage: python3 samples/AnomalyBenchmark/analysis/kde_vs_gaussian.py
"""
import numpy as np
from sklearn.neighbors import KernelDensity
from sklearn.model_selection import GridSearchCV
from sklearn.covariance import ledoit_wolf
import os
D=os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'data') + '/'
def lattice(x):
    w=np.zeros(x.shape[1])
    for j in range(x.shape[1]):
        v=np.unique(x[:,j])
        if len(v)>1:
            g=np.min(np.diff(v)); 
            if np.all(np.abs((v-v[0])/g-np.round((v-v[0])/g))<1e-3): w[j]=g
    return w
for n in ['ionosphere','pima','vehicle','satellite']:
    x=np.loadtxt(D+f'{n}.train.csv',delimiter=',')[:,1:]; x=x[:,x.std(0)>0]
    out=[]
    for seed in range(3):
        rng=np.random.default_rng(seed); w=lattice(x); xd=x+w*(rng.random(x.shape)-0.5)
        p=rng.permutation(len(x)); k=int(0.8*len(x)); tr,va=xd[p[:k]],xd[p[k:]]
        m,s=tr.mean(0),tr.std(0); a,b=(tr-m)/s,(va-m)/s
        g=GridSearchCV(KernelDensity(),{'bandwidth':np.logspace(-1.5,0.5,25)},cv=3).fit(a)
        kde=g.best_estimator_.score_samples(b).mean()-np.log(s).sum()
        c,_=ledoit_wolf(a); ci=np.linalg.inv(c); ld=np.linalg.slogdet(c)[1]
        gau=(-0.5*np.einsum('ij,jk,ik->i',b,ci,b)-0.5*ld-0.5*a.shape[1]*np.log(2*np.pi)).mean()-np.log(s).sum()
        out.append(f'kde-gauss {kde-gau:7.2f} (bw {g.best_params_["bandwidth"]:.2f})')
    print(n, ' | '.join(out))
