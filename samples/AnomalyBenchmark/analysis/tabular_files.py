"""Reading the one-class sets' CSV files (label first, then the features) for the analysis scripts beside it."""
import os
import numpy as np


def read_set(folder, name, part):
    """Features [n, d] and labels [n] of FOLDER/NAME.PART.csv (PART: train or test)."""
    path = os.path.join(folder, f'{name}.{part}.csv')
    with open(path) as f:
        first = f.readline().split(',')[0]
    try:
        float(first)
        header = 0
    except ValueError:   # unseen_sets.py writes a header line; the benchmark's files have none
        header = 1
    a = np.loadtxt(path, delimiter=',', skiprows=header)
    return a[:, 1:], a[:, 0]
