"""Helpers shared by the PyTorch benchmark/reference scripts: thread
pinning, and the pass/fail checker of their self-tests; and by the
report scripts: the distribution error of an eval file.

Debian's torch calls the system OpenBLAS, whose thread pool ignores
torch.set_num_threads: the pool size must be in the environment before
numpy/torch load, so the scripts call preset_thread_env() first thing.
"""
import os
import time


def preset_thread_env(argv):
    """OPENBLAS_NUM_THREADS from --threads N (default 1); passive OpenMP
    waiting with several threads, so idle workers do not spin on 2 cores."""
    n = None
    for i, a in enumerate(argv):
        if a == "--threads" and i + 1 < len(argv):
            n = argv[i + 1]
        elif a.startswith("--threads="):
            n = a.split("=", 1)[1]
    if n is None or not n.isdigit() or int(n) < 1:
        n = "1"
    os.environ.setdefault("OPENBLAS_NUM_THREADS", n)
    if int(n) > 1:
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


class Checker:
    """Prints one aligned line per check; .ok is False once any check fails."""

    def __init__(self, width=48):
        self.width = width
        self.ok = True

    def __call__(self, name, err, tol):
        good = bool(err <= tol)
        self.ok &= good
        print("%-*s %.3e (tol %.1e) %s" % (self.width, name, err, tol, "ok" if good else "FAIL"))


def time_steps(step, warmup, steps):
    """Runs step() warmup times untimed, then steps times; returns
    (seconds of the timed part, the last step's return value)."""
    for _ in range(warmup):
        step()
    out = None
    t0 = time.perf_counter()
    for _ in range(steps):
        out = step()
    return time.perf_counter() - t0, out


def dist_error(e):
    """The distribution error of a `physflow eval -physics darcy` JSON: the
    mean of the mean-field and std-field errors of logK and p."""
    d = e["distribution"]
    return sum(d[f][k] for f in ("logK", "p") for k in ("mean_error", "std_error")) / 4
