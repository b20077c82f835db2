#!/usr/bin/python3
"""OpenBLAS sgemm rate on this machine (the 'peak' the networks are compared to).

numpy's float32 matmul calls the same OpenBLAS library physflow links.
Usage: sgemm_peak.py [--threads T] [--n N] -> one JSON line.
"""
import argparse, json, os, time

ap = argparse.ArgumentParser()
ap.add_argument("--threads", type=int, default=1)
ap.add_argument("--n", type=int, default=2048)
ap.add_argument("--m", type=int, default=None, help="rows (default n): e.g. the batch size")
ap.add_argument("--k", type=int, default=None)
a = ap.parse_args()
os.environ["OPENBLAS_NUM_THREADS"] = str(a.threads)
import numpy as np  # noqa: E402  (after the thread count is set)

m, k, n = a.m or a.n, a.k or a.n, a.n
A = np.random.rand(m, k).astype(np.float32)
B = np.random.rand(k, n).astype(np.float32)
A @ B
reps, t0 = 0, time.perf_counter()
while time.perf_counter() - t0 < 1.0:
    A @ B
    reps += 1
dt = (time.perf_counter() - t0) / reps
print(json.dumps({"threads": a.threads, "m": m, "k": k, "n": n, "gflops_per_s": round(2 * m * n * k / dt * 1e-9, 2)}))
