#!/usr/bin/python3
"""Compare datasets of two HDF5 files, norm-wise.

usage: h5compare.py A.h5 B.h5 [--dataset /history/loss ...] [--rtol 1e-5]
                    [--atol 0] [--slice a:b]

For each dataset: shapes must match; the error is
    max_abs = max |a - b|,  max_rel = max |a - b| / max |a|
(relative to the largest magnitude in A's dataset). A dataset passes if
max_rel <= rtol or max_abs <= atol. Non-finite entries (NaN/Inf) must sit at
the same positions with the same values in both files and are left out of
the norms. --slice a:b (Python slice syntax, negative indices allowed) is
applied to the first axis of every compared dataset. Without --dataset every
dataset of A is compared. Exit 0 if all pass, 1 otherwise (also for missing
files or datasets), 2 for usage errors.
"""
import argparse
import sys

import numpy as np

try:
    import h5py
except ImportError:  # pragma: no cover
    print("h5compare.py: error: h5py is not available for %s" % sys.executable,
          file=sys.stderr)
    sys.exit(1)


def parse_slice(text):
    parts = text.split(":")
    if len(parts) not in (2, 3):
        raise argparse.ArgumentTypeError("--slice expects a:b or a:b:c, got '%s'" % text)
    try:
        vals = [int(p) if p.strip() else None for p in parts]
    except ValueError:
        raise argparse.ArgumentTypeError("--slice expects integers, got '%s'" % text)
    if len(vals) == 3 and vals[2] == 0:
        raise argparse.ArgumentTypeError("--slice step must not be zero")
    return slice(*vals)


def all_datasets(f):
    names = []

    def visit(name, obj):
        if isinstance(obj, h5py.Dataset):
            names.append("/" + name)
    f.visititems(visit)
    return names


def compare(name, a, b, rtol, atol):
    """Returns (ok, message)."""
    if a.shape != b.shape:
        return False, "%s: FAIL: shape mismatch %s vs %s" % (name, a.shape, b.shape)
    if a.dtype.kind not in "biufc" or b.dtype.kind not in "biufc":
        same = np.array_equal(a, b)
        return same, "%s: non-numeric (%s), %s" % (name, a.dtype, "identical, OK" if same else "FAIL: different")
    a = a.astype(np.complex128 if "c" in (a.dtype.kind, b.dtype.kind) else np.float64)
    b = b.astype(a.dtype)
    if a.size == 0:
        return True, "%s: empty, OK" % name
    fa, fb = np.isfinite(a), np.isfinite(b)
    if not np.array_equal(fa, fb):
        nbad = int(np.count_nonzero(fa != fb))
        return False, "%s: FAIL: non-finite values at different positions (%d entries)" % (name, nbad)
    nonfin = ~fa
    if nonfin.any():
        av, bv = a[nonfin], b[nonfin]
        if not np.all((av == bv) | (np.isnan(av) & np.isnan(bv))):
            return False, "%s: FAIL: non-finite values differ (NaN vs Inf or sign)" % name
    af, bf = a[fa], b[fa]
    if af.size == 0:
        return True, "%s: %s all non-finite, identical pattern, OK" % (name, a.shape)
    max_abs = float(np.max(np.abs(af - bf)))
    scale = float(np.max(np.abs(af)))
    if scale > 0:
        max_rel = max_abs / scale
    else:
        max_rel = 0.0 if max_abs == 0 else float("inf")
    ok = max_rel <= rtol or max_abs <= atol
    where = np.unravel_index(int(np.argmax(np.abs(np.where(fa, a, 0) - np.where(fa, b, 0)))),
                             a.shape) if a.ndim else ()
    msg = ("%s: shape %s max_abs %.3e max_rel %.3e (max|a| %.3e) rtol %g atol %g %s"
           % (name, a.shape, max_abs, max_rel, scale, rtol, atol, "OK" if ok else "FAIL"))
    if not ok and a.ndim:
        msg += "; worst at index %s: %r vs %r" % (tuple(int(i) for i in where),
                                                  a[where].item(), b[where].item())
    if nonfin.any():
        msg += " [%d matching non-finite entries]" % int(np.count_nonzero(nonfin))
    return ok, msg


def main(argv=None):
    ap = argparse.ArgumentParser(
        description="compare HDF5 datasets norm-wise: max|a-b|/max|a| <= rtol or max|a-b| <= atol")
    ap.add_argument("a", metavar="A.h5")
    ap.add_argument("b", metavar="B.h5")
    ap.add_argument("--dataset", action="append", default=[],
                    help="dataset path (repeatable); default: every dataset of A")
    ap.add_argument("--rtol", type=float, default=1e-5)
    ap.add_argument("--atol", type=float, default=0.0)
    ap.add_argument("--slice", dest="slc", type=parse_slice, default=None,
                    help="a:b applied to the first axis of every dataset")
    args = ap.parse_args(argv)

    files = []
    for path in (args.a, args.b):
        try:
            files.append(h5py.File(path, "r"))
        except (OSError, ValueError) as e:
            print("h5compare.py: FAIL: cannot open %s: %s" % (path, e))
            return 1
    fa, fb = files
    names = args.dataset or all_datasets(fa)
    if not names:
        print("h5compare.py: FAIL: %s has no datasets to compare" % args.a)
        return 1

    ok_all = True
    for name in names:
        key = name if name.startswith("/") else "/" + name
        missing = [p for p, f in ((args.a, fa), (args.b, fb))
                   if key not in f or not isinstance(f[key], h5py.Dataset)]
        if missing:
            print("%s: FAIL: dataset missing in %s" % (key, ", ".join(missing)))
            ok_all = False
            continue
        da, db = fa[key], fb[key]
        if args.slc is not None:
            if da.ndim == 0 or db.ndim == 0:
                if not args.dataset:  # listed automatically: skip scalars
                    print("%s: scalar, skipped under --slice" % key)
                    continue
                print("%s: FAIL: --slice given but the dataset is a scalar" % key)
                ok_all = False
                continue
            a = np.asarray(da[...])[args.slc]
            b = np.asarray(db[...])[args.slc]
            if a.shape[0] == 0:
                print("%s: FAIL: --slice selects no entries (first axis %d in A)"
                      % (key, da.shape[0]))
                ok_all = False
                continue
        else:
            a, b = np.asarray(da[...]), np.asarray(db[...])
        ok, msg = compare(key, a, b, args.rtol, args.atol)
        print(msg)
        ok_all &= ok

    for f in files:
        f.close()
    print("h5compare: %s (%s vs %s, %d dataset%s)"
          % ("PASS" if ok_all else "FAIL", args.a, args.b, len(names), "" if len(names) == 1 else "s"))
    return 0 if ok_all else 1


if __name__ == "__main__":
    sys.exit(main())
