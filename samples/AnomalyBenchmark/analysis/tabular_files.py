"""Reading and writing the one-class sets' CSV files (label first, then the features) for the analysis scripts beside it."""
import os
import numpy as np


def read_set(folder, name, part):
    """Features [n, d] and labels [n] of FOLDER/NAME.PART.csv (PART: train or test)."""
    a = np.loadtxt(os.path.join(folder, f'{name}.{part}.csv'), delimiter=',')
    return a[:, 1:], a[:, 0]


def write_set(folder, name, part, labels, rows):
    """FOLDER/NAME.PART.csv from labels [n] and features [n, d]: no header line, as in the benchmark's own files (the
    benchmark reads every line as a row)."""
    with open(os.path.join(folder, f'{name}.{part}.csv'), 'w') as fh:
        for label, row in zip(labels, rows):
            fh.write(f'{label:g},' + ','.join(f'{v:.10g}' for v in row) + '\n')
