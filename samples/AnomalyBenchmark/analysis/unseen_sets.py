"""One-class sets that chose nothing: scikit-learn's bundled tables, split as the benchmark's sets are, with the classic
detectors' test AUROC, written in the benchmark's format (docs/anomaly-benchmark.md, "Data sets that chose nothing").

Sets (scikit-learn 1.2's copies, offline with Debian's python3-sklearn): breast (Wisconsin diagnostic breast cancer,
UCI; benign normal, malignant anomalies), wine (UCI Wine; cultivar 1 normal, the other two anomalies), digits0 and
digits8 (UCI optical digits, 8 x 8 counts 0-16; that digit normal, the others anomalies), iris (versicolor normal,
virginica anomalies; setosa left out). numpy seed 0: 60% of the normal rows to train, the rest and as many anomalies to
test. Peers fitted on the train file with features standardised by its rows, as data/README.md describes.
With --mlbench CSVDIR, seven more from the R package mlbench 2.1-3 (Debian's r-cran-mlbench), exported to CSV by
analysis/r_tables_export.R CSVDIR mlbench: sonar, glass, letter, vowel, wbc (the original Wisconsin breast cancer, 9 ordinal
features), votes (1984 House votes, y = 1 / n = 0) and dna (180 binary indicators); rows with a missing value dropped;
the most frequent class normal (the first in sorted order on a tie), every other class anomalous: a rule fixed before
any of them was run.
With --rtables CSVDIR, a third batch by the same rule (sixteenth session, exported by r_tables_export.R CSVDIR third,
the predictors' rule in that script): spam and musk (kernlab), cells, churn, pdspeech and hpc (modeldata), glaucoma
(TH.data), penguins (palmerpenguins).
With --fourth CSVDIR, a fourth batch by the same rule (twenty-second session, exported by r_tables_export.R CSVDIR
fourth, whose header says how its tables were chosen): thyroid, banknote, diabetes, crabs, cats, synth, swisslabor,
creditcard, hmda, germancredit, sacramento, dhfr, wpbc, addata, twoclass. With --fourth-review CSVDIR (r_tables_export.R
CSVDIR fourth-review), the five tables that meet that batch's rule and were missed by its list: chevron, parabolic,
creditdata, lendingclub and autolander (MASS's shuttle, renamed from the benchmark's own shuttle).
With --fifth CSVDIR, a fifth batch by the same rule (twenty-third session, r_tables_export.R CSVDIR fifth, whose header
says how its tables were chosen): infert, arrests, beps, ces11, mushroom, baby, blood, cloud, etitanic, muscatine, ohio,
respiratory, dystrophy, cltrain, pancreas, migraine, stutter, contraception, guimmun, guprenat, iraqvote, polinfo,
vote92, foodstamp, hacide, worm.
With --sixth CSVDIR, a sixth batch by the fifth's rule (twenty-fourth session, r_tables_export.R CSVDIR sixth, whose header
says how its tables were chosen): backpain, schizothought, toenail, larynx, fruit, olitos, salmon, nhanes, bacteriuria,
wesdr, wesdrstage.
With --mnist-tiny DIR (nineteenth session), also ML.NET's MNIST-tiny files in DIR (test/data/mlnet-mnist-tiny: 587
training zeros; 105 zeros and 10 other digits to test) as the set mnist-tiny, with their own split (not redrawn), so
that `tabular` scores the rows issue 12's MNIST-tiny bar is measured on, RandomizedPca beside the flow.
Usage: python3 samples/AnomalyBenchmark/analysis/unseen_sets.py FOLDER [--mlbench CSVDIR] [--rtables CSVDIR] [--fourth CSVDIR] [--fourth-review CSVDIR] [--fifth CSVDIR] [--sixth CSVDIR] [--mnist-tiny DIR]
       dotnet run --project samples/AnomalyBenchmark -c Release -- tabular --data FOLDER --sets breast wine digits0 digits8 iris
"""
import numpy as np, json, os, sys
from sklearn import datasets
from classic_detectors import classic_scores
from tabular_files import write_set
from sklearn.metrics import roc_auc_score
args=sys.argv[1:]
def option(name):
    if name not in args: return None
    i=args.index(name); value=args[i+1]; del args[i:i+2]; return value
mlbench=option('--mlbench'); rtables=option('--rtables'); fourth=option('--fourth'); fourth_review=option('--fourth-review'); fifth=option('--fifth'); sixth=option('--sixth'); mnist=option('--mnist-tiny')
out=args[0] if args else 'out/unseen-sets'
os.makedirs(out, exist_ok=True)
def sets():
    b=datasets.load_breast_cancer(); yield 'breast', b.data, b.target==1
    w=datasets.load_wine(); yield 'wine', w.data, w.target==1
    d=datasets.load_digits(); yield 'digits0', d.data, d.target==0
    yield 'digits8', d.data, d.target==8
    i=datasets.load_iris(); m=i.target>0; yield 'iris', i.data[m], i.target[m]==1
    for folder,names in [(mlbench,['sonar','glass','letter','vowel','wbc','votes','dna']),
                         (rtables,['spam','musk','cells','glaucoma','churn','penguins','pdspeech','hpc']),
                         (fourth,['thyroid','banknote','diabetes','crabs','cats','synth','swisslabor','creditcard','hmda',
                                  'germancredit','sacramento','dhfr','wpbc','addata','twoclass']),
                         (fourth_review,['chevron','parabolic','creditdata','lendingclub','autolander']),
                         (fifth,['infert','arrests','beps','ces11','mushroom','baby','blood','cloud','etitanic','muscatine',
                                 'ohio','respiratory','dystrophy','cltrain','pancreas','migraine','stutter','contraception',
                                 'guimmun','guprenat','iraqvote','polinfo','vote92','foodstamp','hacide','worm']),
                         (sixth,['backpain','schizothought','toenail','larynx','fruit','olitos','salmon','nhanes','bacteriuria',
                                 'wesdr','wesdrstage'])]:
        if folder: yield from exported(folder,names)
def exported(folder,names):
    import csv
    for name in names:
        rows=list(csv.reader(open(os.path.join(folder,name+'.csv'))))[1:]
        X=np.array([[float(v) for v in r[:-1]] for r in rows]); c=np.array([r[-1] for r in rows])
        labels,counts=np.unique(c,return_counts=True)
        if (counts==counts.max()).sum()>1:
            # The tie rule: the first of the most frequent classes in sorted order is normal (cloud's 54 / 54).
            print(f'{name}: classes tie at {counts.max()} rows; {labels[np.argmax(counts)]!r} (first in sorted order) is normal')
        yield name, X, c==labels[np.argmax(counts)]
peers={}
for name,X,normal in sets():
    rng=np.random.default_rng(0)
    Xn,Xa=X[normal],X[~normal]
    p=rng.permutation(len(Xn)); k=int(0.6*len(Xn)); tr,ten=Xn[p[:k]],Xn[p[k:]]
    a=Xa[rng.permutation(len(Xa))[:len(ten)]]
    te=np.vstack([ten,a]); y=np.r_[np.zeros(len(ten)),np.ones(len(a))]
    for f,rows,lab in [('train',tr,np.zeros(len(tr))),('test',te,y)]:
        write_set(out,name,f,lab,rows)
    sc=classic_scores(tr,te)
    au={m:roc_auc_score(y,s) for m,s in sc.items()}
    peers[name]={'train':len(tr),'test':len(te),'anomalies':len(a),'dim':X.shape[1],'auroc':au,'gauss_shrink_test_nll':0.0}
    print(name, len(tr), len(te), X.shape[1], ' '.join(f'{m} {v:.4f}' for m,v in au.items()))
def mnist_tiny(part):
    """An MNIST-tiny file (label, then 784 as the length, then index:value pairs) as labels (1: not a zero) and pixels."""
    rows,labels=[],[]
    for line in open(os.path.join(mnist,f'MNIST.{part}.txt')):
        fields=line.split('\t'); row=np.zeros(784)
        for pair in fields[2:]:
            index,value=pair.split(':'); row[int(index)]=float(value)
        rows.append(row); labels.append(float(float(fields[0])>0))
    return np.array(labels),np.array(rows)
if mnist:
    (_,tr),(y,te)=mnist_tiny('Train.0-class.tiny'),mnist_tiny('Test.tiny')
    write_set(out,'mnist-tiny','train',np.zeros(len(tr)),tr); write_set(out,'mnist-tiny','test',y,te)
    au={m:roc_auc_score(y,s) for m,s in classic_scores(tr,te).items()}
    peers['mnist-tiny']={'train':len(tr),'test':len(te),'anomalies':int(y.sum()),'dim':784,'auroc':au,'gauss_shrink_test_nll':0.0}
    print('mnist-tiny', len(tr), len(te), 784, ' '.join(f'{m} {v:.4f}' for m,v in au.items()))
json.dump(peers,open(os.path.join(out,'peers.json'),'w'),indent=1)
