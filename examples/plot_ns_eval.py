#!/usr/bin/python3
"""Plots for physflow eval -physics ns: flows past the cylinder.

plot_ns_eval.py --samples s.h5 [--reference r.h5] --out prefix [--eval EVALPREFIX] [--n 3]
writes prefix_flow.png: velocity magnitude |u| and vorticity
w = dv/dx - du/dy (per triangle, from the linear interpolant of the vertex
values) of the first n generated flows (and of n reference flows), each
titled with its Re; and, with --eval (the eval JSON path without .json,
whose _checks.txt and _refchecks.txt eval writes), prefix_forces.png:
histograms of the drag and lift coefficients of the samples against the
reference's.
"""
import argparse

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from meshplot import die as _die, open_mesh_file, triangulation  # noqa: E402


def die(msg):
    _die("plot_ns_eval.py", msg)


def load(path):
    return open_mesh_file(path, ("coords", "cells", "fields/u", "fields/v"), "plot_ns_eval.py", "{path} has no /{need}: not Navier-Stokes fields")


def vorticity(xy, tris, u, v):
    """curl of the piecewise-linear velocity on each triangle"""
    p0, p1, p2 = xy[tris[:, 0]], xy[tris[:, 1]], xy[tris[:, 2]]
    d1, d2 = p1 - p0, p2 - p0
    det = d1[:, 0] * d2[:, 1] - d1[:, 1] * d2[:, 0]

    def grad(f):
        f1, f2 = f[tris[:, 1]] - f[tris[:, 0]], f[tris[:, 2]] - f[tris[:, 0]]
        return (f1 * d2[:, 1] - f2 * d1[:, 1]) / det, (f2 * d1[:, 0] - f1 * d2[:, 0]) / det

    dvdx, _ = grad(v)
    _, dudy = grad(u)
    return dvdx - dudy


def checks(path):
    with open(path) as f:
        names = f.readline().lstrip("#").split()
    return names, np.loadtxt(path, ndmin=2)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--samples", required=True)
    ap.add_argument("--reference")
    ap.add_argument("--out", required=True)
    ap.add_argument("--eval", help="eval JSON path without .json (its _checks.txt, _refchecks.txt)")
    ap.add_argument("--n", type=int, default=3)
    a = ap.parse_args()
    files = [("generated", load(a.samples))]
    if a.reference:
        files.append(("solver", load(a.reference)))
    f0 = files[0][1]
    xy, tris, tri = triangulation(f0)
    rows = []
    for lab, f in files:
        n = min(a.n, f["fields/u"].shape[0])
        re = f["params/Re"][:] if "params/Re" in f else (f["fields/Re"][:, 0] if "fields/Re" in f else None)
        for i in range(n):
            rows.append((lab, i, f["fields/u"][i], f["fields/v"][i], None if re is None else float(re[i])))
    if not rows:
        die("no samples to plot")
    # colour scales of the solver's flows when given (a poor model's outliers would wash them out)
    scale = [r for r in rows if r[0] == "solver"] or rows
    wmax = max(np.percentile(np.abs(vorticity(xy, tris, u, v)), 99) for _, _, u, v, _ in scale)
    umax = max(np.hypot(u, v).max() for _, _, u, v, _ in scale)
    fig, ax = plt.subplots(len(rows), 2, figsize=(11, 1.45 * len(rows) + 0.6), squeeze=False)
    for r, (lab, i, u, v, re) in enumerate(rows):
        title = f"{lab} {i}" + (f", Re {re:.1f}" if re is not None else "")
        im = ax[r][0].tripcolor(tri, np.hypot(u, v), shading="gouraud", cmap="viridis", vmin=0, vmax=umax)
        fig.colorbar(im, ax=ax[r][0], fraction=0.02, pad=0.01)
        ax[r][0].set_title(f"|u|, {title}", fontsize=8)
        im = ax[r][1].tripcolor(tri, facecolors=vorticity(xy, tris, u, v), cmap="RdBu_r", vmin=-wmax, vmax=wmax)
        fig.colorbar(im, ax=ax[r][1], fraction=0.02, pad=0.01)
        ax[r][1].set_title(f"vorticity, {title}", fontsize=8)
        for c in (0, 1):
            ax[r][c].set_aspect("equal")
            ax[r][c].set_xticks([])
            ax[r][c].set_yticks([])
    fig.tight_layout()
    fig.savefig(a.out + "_flow.png", dpi=100)
    if a.eval:
        runs = []
        for suffix, lab in (("_checks.txt", "generated"), ("_refchecks.txt", "solver")):
            try:
                runs.append((lab,) + checks(a.eval + suffix))
            except OSError:
                pass
        want = [q for q in ("c_D", "c_L") if runs and q in runs[0][1]]
        if want:
            fig, ax = plt.subplots(1, len(want), figsize=(5 * len(want), 3.4), squeeze=False)
            for k, q in enumerate(want):
                for lab, names, c in runs:
                    ax[0][k].hist(c[:, names.index(q)], bins=30, alpha=0.55, label=lab)
                ax[0][k].set_xlabel(q)
                ax[0][k].set_ylabel("flows")
                ax[0][k].legend(fontsize=8)
            fig.tight_layout()
            fig.savefig(a.out + "_forces.png", dpi=100)


if __name__ == "__main__":
    main()
