"""Table of BENCHMARKS part eleven (bench/infer_campaign.sh's *_chol rows
and both MAPs): per sensor count, each method's logK / p error of the
reported estimate (mean and median over the observations), the coverage of
its 90% bands, the recorded seconds per observation, and, paired with each
MAP on the same observations, the logK error difference (mean +- 2 s.e.)
and the ratio of the mean recorded times.
Usage: infer_part11.py CAMPAIGN_DIR"""
import csv
import os
import sys

import numpy as np

os.chdir(sys.argv[1] if len(sys.argv) > 1 else ".")
METHODS = ("map", "map_chol", "conditional_kadj_t0_one_gn_chol", "conditional_kadj_t0_laplace_chol", "conditional_kadj_t0_laplace_lin_chol")


def load(t, k):
    path = "post_%s_%d/summary.csv" % (t, k)
    if not os.path.exists(path):
        return None
    return {r["observation"]: r for r in csv.DictReader(open(path)) if r["status"] == "ok"}


cov = lambda a: "-" if np.all(np.isnan(a)) else "%.3f" % np.nanmean(a)
print("| method | sensors | ok | logK error mean (median) | p error | coverage logK / p | s per observation | vs MAP (CG + GAMG): error diff, time ratio | vs MAP (Cholesky): error diff, time ratio |")
print("|---|---|---|---|---|---|---|---|---|")
for k in (16, 64):
    refs = {m: load(m, k) for m in ("map", "map_chol")}
    for t in METHODS:
        rows = load(t, k)
        if not rows:
            continue
        f = lambda key: np.array([float(r[key] or "nan") for r in rows.values()])
        e, s = f("error_logK"), f("seconds")
        cells = []
        for m in ("map", "map_chol"):
            ref = refs[m]
            if not ref or t == m:
                cells.append("")
                continue
            common = [o for o in rows if o in ref]
            d = np.array([float(rows[o]["error_logK"]) - float(ref[o]["error_logK"]) for o in common])
            ratio = np.mean([float(ref[o]["seconds"]) for o in common]) / np.mean([float(rows[o]["seconds"]) for o in common])
            cells.append("%+.4f +- %.4f, %.1fx" % (d.mean(), 2 * d.std(ddof=1) / np.sqrt(len(d)), ratio))
        print("| %s | %d | %d | %.4f (%.4f) | %.4f | %s / %s | %.3f | %s | %s |" % (t, k, len(rows), e.mean(), np.median(e), f("error_p").mean(),
                                                                          cov(f("coverage_logK")), cov(f("coverage_p")), s.mean(), cells[0], cells[1]))
