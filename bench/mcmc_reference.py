"""The exact posterior mean's error from MCMC campaigns, with the Monte
Carlo error of the chains' mean removed, against another method's
(BENCHMARKS.md, issue 7 eighth part).

The mean m_N of N correlated chain samples has squared error
|m_N - t|^2 = |m - t|^2 + |m_N - m|^2 on average; the second term, the
variance of the mean, is estimated from the spread of the C chains' own
means (infer writes chain c's samples as rows [c N/C, (c+1) N/C)),
sum_v w_v var_c(chain means)_v / C, and subtracted.  Squared errors are
mass-weighted (lumped vertex masses from the cells) and averaged over
the observations: the quantity the posterior mean minimises.

Usage: mcmc_reference.py OBS_DIR MCMC_DIR CHAINS OTHER_DIR [FIELD]
(OTHER_DIR: a campaign of another method, e.g. the MAP, on the same files)"""
import os
import sys

import h5py
import numpy as np


def lumped_mass(f):
    xy = f["coords"][:]
    w = np.zeros(len(xy))
    for c in f["cells"][:]:
        p = xy[c]
        area = 0.5 * abs(np.dot(p[:, 0], np.roll(p[:, 1], -1)) - np.dot(p[:, 1], np.roll(p[:, 0], -1)))
        w[c] += area / len(c)
    return w / w.sum()


obs_dir, mc_dir, C, other_dir = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
field = sys.argv[5] if len(sys.argv) > 5 else "logK"
raw, corr, oth, rel_c, rel_o = [], [], [], [], []
w = None
for name in sorted(n for n in os.listdir(obs_dir) if n.endswith(".h5")):
    stem = name[:-3]
    t = h5py.File(os.path.join(obs_dir, name), "r")["truth/" + field][:]
    f = h5py.File(os.path.join(mc_dir, stem + "_post.h5"), "r")
    if w is None:
        w = lumped_mass(f)
    X = f["fields/" + field][:]
    N = X.shape[0]
    means = np.array([X[c * N // C:(c + 1) * N // C].mean(0) for c in range(C)])
    e2 = np.sum(w * (X.mean(0) - t) ** 2)
    raw.append(e2)
    corr.append(e2 - np.sum(w * means.var(0, ddof=1)) / C)
    o = h5py.File(os.path.join(other_dir, stem + "_post.h5"), "r")["posterior/%s/mean" % field][:]
    oth.append(np.sum(w * (o - t) ** 2))
    t2 = np.sum(w * t ** 2)
    rel_c.append(np.sqrt(max(corr[-1], 0) / t2))
    rel_o.append(np.sqrt(oth[-1] / t2))
raw, corr, oth = map(np.array, (raw, corr, oth))
d = corr - oth
print("%d observations, %s: mean squared error of the chains' mean %.4f, Monte Carlo error removed %.4f, %s %.4f" %
      (len(raw), field, raw.mean(), corr.mean(), other_dir, oth.mean()))
print("corrected minus other: %.4f +- %.4f (2 s.e.); relative L2 error: corrected chains %.4f, other %.4f" %
      (d.mean(), 2 * d.std(ddof=1) / np.sqrt(len(d)), np.mean(rel_c), np.mean(rel_o)))
