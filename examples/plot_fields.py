#!/usr/bin/python3
"""Plot mesh fields of physflow datasets/samples (/coords, /cells, /fields/<name>).

plot_fields.py --out fig.png [--samples 0,1,2] [--fields logK,p] [--title T] file.h5
One row per sample, one column per field; quads are split into triangles for
matplotlib's tripcolor (Gouraud shading of the nodal values).
"""
import argparse

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from meshplot import die as _die, open_mesh_file, triangulation  # noqa: E402


def die(msg):
    _die("plot_fields.py", msg)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("file")
    ap.add_argument("--out", required=True)
    ap.add_argument("--samples", default="0,1,2")
    ap.add_argument("--fields", default=None)
    ap.add_argument("--title", default=None)
    a = ap.parse_args()
    f = open_mesh_file(a.file, ("coords", "cells", "fields"), "plot_fields.py", "{path} has no /{need}: not a mesh dataset or samples file")
    _, _, tri = triangulation(f)
    fields = a.fields.split(",") if a.fields else list(f["fields"].keys())
    n = f["fields"][fields[0]].shape[0]
    rows = [int(s) for s in a.samples.split(",") if int(s) < n]
    if not rows:
        die("no such samples")
    fig, axes = plt.subplots(len(rows), len(fields), figsize=(3.2 * len(fields), 2.9 * len(rows)), squeeze=False)
    for i, s in enumerate(rows):
        for j, name in enumerate(fields):
            if name not in f["fields"]:
                die(f"{a.file} has no field {name}")
            v = f["fields"][name][s]
            ax = axes[i][j]
            im = ax.tripcolor(tri, v, shading="gouraud", cmap="viridis" if name != "p" else "RdBu_r")
            ax.set_aspect("equal")
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_title(f"{name}, sample {s}", fontsize=9)
            fig.colorbar(im, ax=ax, fraction=0.046, pad=0.03)
    if a.title:
        fig.suptitle(a.title)
    fig.tight_layout()
    fig.savefig(a.out, dpi=110)


if __name__ == "__main__":
    main()
