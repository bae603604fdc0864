"""Reading the one-class sets' CSV files (label first, then the features) for the analysis scripts beside it."""
import os
import numpy as np


def read_set(folder, name, part):
    """Features [n, d] and labels [n] of FOLDER/NAME.PART.csv (PART: train or test)."""
    a = np.loadtxt(os.path.join(folder, f'{name}.{part}.csv'), delimiter=',')
    return a[:, 1:], a[:, 0]
