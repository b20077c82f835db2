"""Tables of bench/guide_darcy.sh (issue 10, Darcy guidance).

Observable guidance of mean_logK over a region: the region mean reached
against the target, and how far the field statistics (per-vertex mean and
std of logK and p) move outside the region -- against the base model and
against the max-ent answer (4000 other base samples reweighted by the tilt
exp(-lambda f) the guide computed).  Path guidance of the outflow through
the right side: the fraction of samples above the threshold, their PDE
consistency (physflow eval: re-solve distance, residual), and inside the
subset how close the fields are to the base samples that fall there.
Also writes guide_darcy.png (flux histograms, mean logK fields)."""
import json
import os
import sys

import h5py
import numpy as np

os.chdir(sys.argv[1] if len(sys.argv) > 1 else ".")
REGION = (0.25, 0.75, 0.25, 0.75)


def load(path):
    f = h5py.File(path, "r")
    return f["coords"][:], f["cells"][:], f["fields/logK"][:], f["fields/p"][:]


xy, cells, _, _ = load("s_base.h5")
mass = np.zeros(len(xy))
for c in cells:  # lumped masses: a quarter of each cell's area per vertex
    p = xy[c]
    a = 0.5 * abs(np.dot(p[:, 0], np.roll(p[:, 1], -1)) - np.dot(p[:, 1], np.roll(p[:, 0], -1)))
    mass[c] += a / len(c)
inside = (xy[:, 0] >= REGION[0]) & (xy[:, 0] <= REGION[1]) & (xy[:, 1] >= REGION[2]) & (xy[:, 1] <= REGION[3])
wreg = mass * inside / (mass * inside).sum()


def region_mean(K):
    return K @ wreg


def stats(K, P, w=None):
    w = np.ones(len(K)) / len(K) if w is None else w / w.sum()
    out = []
    for F in (K, P):
        m = w @ F
        out += [m, np.sqrt(np.maximum(w @ (F - m) ** 2, 0))]
    return out  # mean K, std K, mean p, std p (per vertex)


def rms(a, b, sel):
    return float(np.sqrt(np.mean((a[sel] - b[sel]) ** 2)))


def guide_attrs(path):
    return dict(h5py.File(path, "r")["guide"].attrs)


def checks(name):
    d = np.loadtxt("e_%s_checks.txt" % name)
    return d[:, -1]  # the boundary_flux column


def ev(name):
    return json.load(open("e_%s.json" % name))


def seconds(name):
    try:
        return float(open(name + ".time").read().split()[-1])
    except (OSError, ValueError, IndexError):
        return float("nan")


# ---- observable guidance ----
g = guide_attrs("guided_obs.h5")
lam, target = float(g["lambda"]), float(g["target"])
_, _, Kb, Pb = load("s_base_big.h5")
fb = region_mean(Kb)
w = np.exp(-lam * (fb - fb.mean()))
ref = stats(Kb, Pb, w)
_, _, K0, P0 = load("s_base.h5")
base = stats(K0, P0)
out = ~inside
print("## Observable guidance: mean_logK over [0.25,0.75]^2, target one base std up\n")
print("max-ent tilt lambda = %.4g, target %.4f; base std of the observable %.4f; max-ent reweighted mean (4000 other base samples) %.4f, effective sample size %.0f\n"
      % (lam, target, fb.std(), (w @ fb) / w.sum(), w.sum() ** 2 / (w ** 2).sum()))
print("| model | region mean (target %.3f) | off target / base std | outside: mean logK vs max-ent (RMS) | std logK | mean p | std p | outside: mean logK moved from base (RMS) | re-solve median | excess work | time (s) |" % target)
print("|---|---|---|---|---|---|---|---|---|---|---|")
rows = [("base", "base", None, ""), ("guided (MEW)", "guided_obs", "guided", "s_guided_obs"), ("naive fine-tune", "naive_obs", "naive", "s_naive_obs")]
for label, name, tfile, sfile in rows:
    _, _, K, P = load("s_%s.h5" % name)
    st = stats(K, P)
    f = region_mean(K)
    e = ev(name)
    work = "-"
    if tfile == "guided":
        work = "%.3g" % float(g["excess_work"])
    tm = seconds(tfile) if tfile else float("nan")
    print("| %s | %.4f | %.3f | %.4f | %.4f | %.4f | %.4f | %.4f | %.3g | %s | %s |" % (
        label, f.mean(), abs(f.mean() - target) / fb.std(), rms(st[0], ref[0], out), rms(st[1], ref[1], out),
        rms(st[2], ref[2], out), rms(st[3], ref[3], out), rms(st[0], base[0], out), e["resolve"]["median"], work,
        "%.0f" % tm if tm == tm else "-"))
print("| max-ent answer (reweighted base) | %.4f | %.3f | 0 | 0 | 0 | 0 | %.4f | | | |" % ((w @ fb) / w.sum(), abs((w @ fb) / w.sum() - target) / fb.std(), rms(ref[0], base[0], out)))

# ---- path guidance ----
gp = guide_attrs("guided_path.h5")
thr = float(gp["threshold"])
qb = checks("base_big")
_, _, Kb, Pb = load("s_base_big.h5")
sel = qb >= thr
bsub = stats(Kb[sel], Pb[sel])
print("\n## Path guidance: outflow through the right side >= %.4f (the base samples' 99%% quantile)\n" % thr)
print("base samples above it: %d of %d (%.2f%%); tuned a = %.3g, b = %.3g, h0 = %.3g\n" % (sel.sum(), len(qb), 100 * sel.mean(), gp["a"], gp["b"], gp["h0"]))
print("| samples | fraction >= threshold | median flux | re-solve median | re-solve 90% | residual median | in subset: mean logK vs base subset (RMS) | in subset: std logK vs base subset (RMS) | in subset: mean logK std per vertex |")
print("|---|---|---|---|---|---|---|---|---|")
for label, name in (("solver (test data)", "test"), ("base", "base"), ("path-guided, KDE of the guides (the paper's)", "guided_path"), ("path-guided, tilt in the flux", "tilt_path"), ("naive fine-tune on the guides", "naive_path")):
    q = checks(name)
    e = ev(name)
    rs = np.loadtxt("e_%s_checks.txt" % name)[:, 0]
    f = "s_%s.h5" % name if name != "test" else "flux_test.h5"
    _, _, K, P = load(f)
    s = q >= thr
    if s.sum() >= 2:
        st = stats(K[s], P[s])
        cmp = "%.4f | %.4f | %.4f" % (rms(st[0], bsub[0], np.ones(len(xy), bool)), rms(st[1], bsub[1], np.ones(len(xy), bool)), st[1].mean())
    else:
        cmp = "- | - | -"
    print("| %s | %.3f | %.4f | %.3g | %.3g | %.3g | %s |" % (label, s.mean(), np.median(q), e["resolve"]["median"], np.quantile(rs, 0.9), e["residual_relative"]["median"], cmp))
print("| base samples in the subset (%d) | 1 | %.4f | | | | 0 | 0 | %.4f |" % (sel.sum(), np.median(qb[sel]), bsub[1].mean()))

try:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(1, 2, figsize=(11, 4))
    bins = np.linspace(min(qb.min(), checks("guided_path").min()), max(qb.max(), checks("guided_path").max()), 60)
    for name, lab in (("base_big", "base"), ("guided_path", "path-guided (KDE)"), ("tilt_path", "path-guided (tilt)"), ("naive_path", "naive fine-tune")):
        ax[0].hist(checks(name), bins=bins, density=True, histtype="step", label=lab)
    ax[0].axvline(thr, color="k", ls="--", label="threshold (99%)")
    ax[0].set_xlabel("outflow through the right side")
    ax[0].legend()
    for name, lab in (("base", "base"), ("guided_obs", "guided"), ("naive_obs", "naive")):
        _, _, K, _ = load("s_%s.h5" % name)
        ax[1].hist(region_mean(K), bins=50, density=True, histtype="step", label=lab)
    ax[1].hist(fb, bins=50, weights=w / w.sum() * len(fb) / len(fb), density=True, histtype="step", ls=":", label="max-ent (reweighted)")
    ax[1].axvline(target, color="k", ls="--", label="target")
    ax[1].set_xlabel("mean logK over [0.25,0.75]^2")
    ax[1].legend()
    fig.tight_layout()
    fig.savefig("guide_darcy.png", dpi=110)
except ImportError:
    pass
