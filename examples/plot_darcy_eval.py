#!/usr/bin/python3
"""Plots for physflow eval -physics darcy: mean/std fields of generated
samples against the reference (solver) data, and residual histograms.

plot_darcy_eval.py --samples s.h5 --reference r.h5 --out prefix
                   [--residuals s_residuals.txt] [--ref-residuals r_residuals.txt]
                   [--runs LABEL=EVALPREFIX ...]
writes prefix_meanstd.png and (with --residuals or --runs) prefix_residuals.png:
histograms of the relative residual and, from eval's EVALPREFIX_checks.txt
files (--runs; EVALPREFIX is the eval JSON path without .json), of the
re-solve consistency, one colour per run.
"""
import argparse

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from meshplot import die as _die, open_mesh_file, triangulation  # noqa: E402


def die(msg):
    _die("plot_darcy_eval.py", msg)


def load(path):
    return open_mesh_file(path, ("fields", "coords"), "plot_darcy_eval.py", "{path} is not a mesh dataset/samples file")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--samples", required=True)
    ap.add_argument("--reference", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--residuals")
    ap.add_argument("--ref-residuals")
    ap.add_argument("--runs", nargs="*", default=[], help="LABEL=EVALPREFIX: residual and re-solve histograms per eval run")
    a = ap.parse_args()
    S, R = load(a.samples), load(a.reference)
    _, _, tri = triangulation(R)
    fields = [k for k in R["fields"].keys() if k in S["fields"]]
    fig, ax = plt.subplots(2, 2 * len(fields), figsize=(3.3 * 2 * len(fields), 6.0), squeeze=False)
    for j, name in enumerate(fields):
        r, s = R["fields"][name][:], S["fields"][name][:]
        for k, (stat, fn) in enumerate((("mean", np.mean), ("std", np.std))):
            fr, fs = fn(r, axis=0), fn(s, axis=0)
            lo, hi = min(fr.min(), fs.min()), max(fr.max(), fs.max())
            for i, (lab, v) in enumerate((("reference", fr), ("samples", fs))):
                axx = ax[i][2 * j + k]
                im = axx.tripcolor(tri, v, shading="gouraud", vmin=lo, vmax=hi)
                axx.set_aspect("equal")
                axx.set_xticks([])
                axx.set_yticks([])
                axx.set_title(f"{stat} {name}, {lab}", fontsize=9)
                fig.colorbar(im, ax=axx, fraction=0.046, pad=0.03)
    fig.suptitle(f"{a.samples} ({S['fields'][fields[0]].shape[0]}) vs {a.reference} ({R['fields'][fields[0]].shape[0]})", fontsize=10)
    fig.tight_layout()
    fig.savefig(a.out + "_meanstd.png", dpi=100)
    runs = []
    for path, lab in ((a.residuals, "samples"), (a.ref_residuals, "reference (solver)")):
        if path:
            runs.append((lab, np.loadtxt(path, ndmin=1), None))
    for spec in a.runs:
        if "=" not in spec:
            die(f"--runs takes LABEL=EVALPREFIX, got '{spec}'")
        lab, pre = spec.split("=", 1)
        res = np.loadtxt(pre + "_residuals.txt", ndmin=1)
        chk = None
        try:
            with open(pre + "_checks.txt") as f:
                names = f.readline().lstrip("#").split()
            c = np.loadtxt(pre + "_checks.txt", ndmin=2)
            if "resolve" in names:
                chk = c[:, names.index("resolve")]
        except OSError:
            pass
        runs.append((lab, res, chk))
    if runs:
        ncol = 2 if any(c is not None for _, _, c in runs) else 1
        fig, ax = plt.subplots(1, ncol, figsize=(5.5 * ncol, 3.6), squeeze=False)
        for lab, res, chk in runs:
            ax[0][0].hist(np.log10(np.maximum(res, 1e-300)), bins=40, alpha=0.55, label=lab)
            if chk is not None and ncol == 2:
                ax[0][1].hist(np.log10(np.maximum(chk, 1e-300)), bins=40, alpha=0.55, label=lab)
        ax[0][0].set_xlabel("log10 relative residual ||R|| / ||F||")
        ax[0][0].set_ylabel("samples")
        ax[0][0].legend(fontsize=8)
        if ncol == 2:
            ax[0][1].set_xlabel("log10 re-solve distance (state vs the solver's for its inputs)")
            ax[0][1].legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(a.out + "_residuals.png", dpi=100)

if __name__ == "__main__":
    main()
