#!/usr/bin/python3
"""Side-by-side scatter plots of 2-D samples stored in physflow HDF5 files.

usage: plot_toy.py --out fig.png [--title T] file1.h5[:label] [file2.h5[:label] ...]

Each file must hold a dataset /samples of shape [n, 2]. One panel per file,
all panels share the same axis limits. If a file has a root attribute `nfe`
it is shown in the panel title. A label after ':' names the panel (default:
the file name).
"""
import argparse
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

try:
    import h5py
except ImportError:  # pragma: no cover
    print("plot_toy.py: error: h5py is not available for %s" % sys.executable,
          file=sys.stderr)
    sys.exit(2)


def fail(msg):
    print("plot_toy.py: error: %s" % msg, file=sys.stderr)
    sys.exit(1)


def split_spec(spec):
    """'path.h5:label' -> (path, label); a ':' is only a label separator if
    what precedes it is an existing file or ends in .h5/.hdf5."""
    if ":" in spec:
        path, label = spec.rsplit(":", 1)
        if os.path.exists(path) or path.endswith((".h5", ".hdf5")) or not os.path.exists(spec):
            return path, (label if label else os.path.basename(path))
    return spec, os.path.basename(spec)


def load(path):
    if not os.path.isfile(path):
        fail("no such file: %s" % path)
    try:
        with h5py.File(path, "r") as f:
            if "samples" not in f or not isinstance(f["samples"], h5py.Dataset):
                fail("%s has no dataset /samples" % path)
            s = np.asarray(f["samples"][...], dtype=np.float64)
            nfe = f.attrs.get("nfe", None)
    except OSError as e:
        fail("cannot read %s as HDF5: %s" % (path, e))
    if s.ndim != 2 or s.shape[1] != 2:
        fail("%s: /samples has shape %s, expected [n, 2]" % (path, s.shape))
    if nfe is not None:
        nfe = np.asarray(nfe).reshape(-1)
        nfe = nfe[0] if nfe.size else None
        if isinstance(nfe, bytes):
            nfe = nfe.decode()
        elif isinstance(nfe, (np.floating, float)) and float(nfe).is_integer():
            nfe = int(nfe)
    return s, nfe


def main(argv=None):
    ap = argparse.ArgumentParser(description="scatter plots of /samples [n,2], one panel per file")
    ap.add_argument("--out", required=True, help="output image (png, pdf, svg, ...)")
    ap.add_argument("--title", default=None, help="figure title")
    ap.add_argument("--size", type=float, default=3.5, help="panel size in inches")
    ap.add_argument("--marker-size", dest="ms", type=float, default=2.0)
    ap.add_argument("--alpha", type=float, default=0.4)
    ap.add_argument("files", nargs="+", metavar="file.h5[:label]")
    a = ap.parse_args(argv)

    panels = []
    for spec in a.files:
        path, label = split_spec(spec)
        s, nfe = load(path)
        panels.append((s, label, nfe))

    finite = [s[np.all(np.isfinite(s), axis=1)] for s, _, _ in panels]
    allpts = np.concatenate([f for f in finite if f.size] or [np.zeros((1, 2))], axis=0)
    # robust common limits: 0.5/99.5 percentiles plus a margin, so a few
    # wild samples do not squash every panel
    lo = np.percentile(allpts, 0.5, axis=0)
    hi = np.percentile(allpts, 99.5, axis=0)
    span = np.maximum(hi - lo, 1e-6)
    lo, hi = lo - 0.08 * span, hi + 0.08 * span

    n = len(panels)
    fig, axes = plt.subplots(1, n, figsize=(a.size * n, a.size + (0.4 if a.title else 0.0)),
                             squeeze=False, sharex=True, sharey=True)
    for ax, (s, label, nfe), fin in zip(axes[0], panels, finite):
        ax.scatter(fin[:, 0], fin[:, 1], s=a.ms, alpha=a.alpha, linewidths=0,
                   rasterized=True)
        title = label if nfe is None else "%s (NFE %s)" % (label, nfe)
        if len(fin) != len(s):
            title += " [%d non-finite]" % (len(s) - len(fin))
        ax.set_title(title, fontsize=10)
        ax.set_xlim(lo[0], hi[0])
        ax.set_ylim(lo[1], hi[1])
        ax.set_aspect("equal", adjustable="box")
        ax.tick_params(labelsize=8)
    if a.title:
        fig.suptitle(a.title)
    fig.tight_layout()
    try:
        fig.savefig(a.out, dpi=150)
    except (OSError, ValueError) as e:
        fail("cannot write %s: %s" % (a.out, e))
    return 0


if __name__ == "__main__":
    sys.exit(main())
