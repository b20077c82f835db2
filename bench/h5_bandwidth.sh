#!/bin/bash
# Parallel HDF5 bandwidth of the dataset format (BENCHMARKS.md, issue 11):
#  write: physflow datagen on 1 and 2 ranks (-log_view: PFIO = the collective
#         row writes, flushes, /completed marks and the final rename), bytes
#         = N samples x vertices x fields x 8;
#  read:  the training read pattern, one whole row of one field per sample
#         in shuffled order (src/io/meshdata.c: one hyperslab H5Dread per
#         row), timed with h5py on the same file, page cache warm and after
#         dropping it (cold: only as root).
# Usage: bench/h5_bandwidth.sh [build-dir]   (FACES, N env)
set -euo pipefail
BUILD=${1:-build}; BIN=$(readlink -f "$BUILD/physflow")
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1
FACES=${FACES:-63}; N=${N:-1024}
tmp=$(mktemp -d "${TMPDIR:-/var/tmp}/pf_h5bw.XXXXXX"); trap 'rm -rf "$tmp"' EXIT; cd "$tmp"
nv=$(((FACES + 1) * (FACES + 1)))
for np in 1 2; do
  mpiexec -q -n $np "$BIN" datagen -physics darcy -mesh_faces "$FACES" -n "$N" -seed 1 -o "w$np.h5" -log_view >"w$np.log" 2>&1
  t=$(awk '$1 == "PFIO" {print $4}' "w$np.log")
  echo "write, $np rank(s): $N samples x $nv vertices x 2 fields: $(awk -v n="$N" -v v="$nv" -v t="$t" 'BEGIN {printf "%.1f MB in %.3f s of PFIO: %.0f MB/s", n*v*16/1e6, t, n*v*16/1e6/t}')"
done
/usr/bin/python3 - w1.h5 "$N" <<'PY'
import sys, time, os, h5py, numpy as np
path, n = sys.argv[1], int(sys.argv[2])
def read(label):
    f = h5py.File(path, "r"); d = f["fields/p"]
    order = np.random.default_rng(0).permutation(n)
    t0 = time.perf_counter()
    for i in order:
        row = d[int(i), :]
    t = time.perf_counter() - t0
    mb = n * d.shape[1] * 8 / 1e6
    print(f"read ({label}): {n} shuffled rows of {d.shape[1]} doubles, one H5Dread each: {mb:.1f} MB in {t:.3f} s: {mb/t:.0f} MB/s, {t/n*1e3:.3f} ms per row; chunks {d.chunks}")
    f.close()
read("page cache warm")
if os.geteuid() == 0:
    os.system("sync; echo 3 > /proc/sys/vm/drop_caches")
    read("page cache dropped")
PY
