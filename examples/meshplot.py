"""Helpers shared by the mesh plot scripts (plot_fields.py,
plot_darcy_eval.py, plot_ns_eval.py): one-line errors, opening a physflow
mesh file (dataset or samples), and its cells as matplotlib triangles."""
import sys

import numpy as np


def die(prog, msg):
    print(f"{prog}: error: {msg}", file=sys.stderr)
    sys.exit(1)


def open_mesh_file(path, need, prog, missing):
    """h5py file at path with every dataset of need; otherwise one error
    line: missing.format(path=..., need=the first absent one)"""
    import h5py
    try:
        f = h5py.File(path, "r")
    except Exception as e:  # noqa: BLE001
        die(prog, f"cannot open {path}: {e}")
    for n in need:
        if n not in f:
            die(prog, missing.format(path=path, need=n))
    return f


def triangulation(f):
    """(coords, triangles, matplotlib Triangulation) of a mesh file's
    /coords and /cells (quadrilaterals split in two)"""
    import matplotlib.tri as mtri
    xy = f["coords"][:]
    cells = f["cells"][:].astype(int)
    tris = cells if cells.shape[1] == 3 else np.vstack([cells[:, [0, 1, 2]], cells[:, [0, 2, 3]]])
    return xy, tris, mtri.Triangulation(xy[:, 0], xy[:, 1], tris)
