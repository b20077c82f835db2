"""Table of bench/infer_campaign.sh: per method and sensor count, the mean
(and median) relative L2 error of the posterior mean (MAP: the estimate)
of logK and p against the truth, the coverage of the 90% bands, and the
time per observation (the campaign's wall time x ranks / observations,
and the per-observation time recorded in the results).  A campaign rerun
only does what is missing, so the wall time of a partly resumed campaign
is not per observation: the recorded time is the one to read."""
import csv
import os
import sys

import numpy as np

os.chdir(sys.argv[1] if len(sys.argv) > 1 else ".")
METHODS = ("map", "map_chol", "kalman", "conditional", "conditional_fast", "conditional_mean", "conditional_kalman", "conditional_kalman_mean", "conditional_kadj", "conditional_kadj_mean", "conditional_kadj_t0", "conditional_kadj_t0_mean", "conditional_kadj_t0_gn_mean", "conditional_kadj_t0_gn_mean_chol", "conditional_kadj_t0_one_gn", "conditional_kadj_t0_one_gn_chol", "conditional_kadj_t0_laplace_chol", "conditional_kadj_t0_laplace_lin_chol", "conditional_kadj_t0_gn", "guidance", "latent", "latent_am", "mcmc", "mcmc_laplace")
print("| method | sensors | observations ok | error logK mean (median) | error p mean | coverage logK | coverage p | s per observation (recorded) | core-s per observation (wall x 2 ranks / n) |")
print("|---|---|---|---|---|---|---|---|---|")
for k in (16, 64):
    for t in METHODS:
        path = "post_%s_%d/summary.csv" % (t, k)
        if not os.path.exists(path):
            continue
        rows = [r for r in csv.DictReader(open(path)) if r["status"] == "ok"]
        n = len(list(csv.DictReader(open(path))))
        e = np.array([float(r["error_logK"]) for r in rows])
        ep = np.array([float(r["error_p"]) for r in rows])
        c = np.array([float(r["coverage_logK"] or "nan") for r in rows])
        cp = np.array([float(r["coverage_p"] or "nan") for r in rows])
        s = np.array([float(r["seconds"]) for r in rows])
        try:
            wall = float(open("wall_%s_%d.txt" % (t, k)).read().split()[-1])
        except (OSError, ValueError, IndexError):
            wall = float("nan")
        if "_mean" in t:  # two near-identical samples (one Euler step): no band
            c = cp = np.full(len(rows), np.nan)
        cov = lambda a: "-" if np.all(np.isnan(a)) else "%.3f" % np.nanmean(a)
        print("| %s | %d | %d / %d | %.4f (%.4f) | %.4f | %s | %s | %.2f | %.2f |" % (
            t, k, len(rows), n, e.mean(), np.median(e), ep.mean(), cov(c), cov(cp), s.mean(), 2 * wall / max(n, 1)))

# the same methods on the observations the MCMC reference has (the first
# NSUB): error and coverage against the exact posterior's on equal terms
print()
print("On the observations with an MCMC reference:")
print()
print("| method | sensors | observations | error logK mean | error p mean | coverage logK | coverage p |")
print("|---|---|---|---|---|---|---|")
for k in (16, 64):
    ref = "post_mcmc_laplace_%d/summary.csv" % k  # the better-mixing chains if run
    if not os.path.exists(ref):
        ref = "post_mcmc_%d/summary.csv" % k
    if not os.path.exists(ref):
        continue
    keep = set(r["observation"] for r in csv.DictReader(open(ref)) if r["status"] == "ok")
    for t in METHODS:
        path = "post_%s_%d/summary.csv" % (t, k)
        if not os.path.exists(path):
            continue
        rows = [r for r in csv.DictReader(open(path)) if r["status"] == "ok" and r["observation"] in keep]
        if not rows:
            continue
        f = lambda key: np.array([float(r[key] or "nan") for r in rows])
        cov = lambda a: "-" if np.all(np.isnan(a)) else "%.3f" % np.nanmean(a)
        print("| %s | %d | %d | %.4f | %.4f | %s | %s |" % (t, k, len(rows), f("error_logK").mean(), f("error_p").mean(),
                                                          cov(f("coverage_logK")), cov(f("coverage_p"))))

# paired against the MAP on the same observations: the mean difference of
# the logK errors (2 standard errors) and the ratio of the recorded times;
# a *_chol method against the MAP with the same (factorising) solver
print()
print("Paired with the MAP (same observations):")
print()
print("| method | sensors | against | observations | error logK - MAP's, mean +- 2 s.e. | better than the MAP on | MAP time / method time (recorded means) |")
print("|---|---|---|---|---|---|---|")
for k in (16, 64):
    refs = {}
    for m in ("map", "map_chol"):
        mp = "post_%s_%d/summary.csv" % (m, k)
        if os.path.exists(mp):
            refs[m] = {r["observation"]: r for r in csv.DictReader(open(mp)) if r["status"] == "ok"}
    for t in METHODS:
        path = "post_%s_%d/summary.csv" % (t, k)
        ref = refs.get("map_chol" if t.endswith("_chol") else "map")
        if t.startswith("map") or ref is None or not os.path.exists(path):
            continue
        rows = [r for r in csv.DictReader(open(path)) if r["status"] == "ok" and r["observation"] in ref]
        if len(rows) < 2:
            continue
        d = np.array([float(r["error_logK"]) - float(ref[r["observation"]]["error_logK"]) for r in rows])
        tm = np.mean([float(ref[r["observation"]]["seconds"]) for r in rows]) / np.mean([float(r["seconds"]) for r in rows])
        print("| %s | %d | %s | %d | %+.4f +- %.4f | %.0f%% | %.1f |" % (t, k, "map_chol" if t.endswith("_chol") else "map", len(rows), d.mean(), 2 * d.std(ddof=1) / np.sqrt(len(d)), 100 * np.mean(d < 0), tm))
