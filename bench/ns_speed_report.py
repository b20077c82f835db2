#!/usr/bin/python3
"""Table of bench/ns_speed.sh (run in its output directory): the solver's
and the sampler's time per flow on the same ranks, their ratio, and what
the generated flows are worth against the held-out solver flows at the same
Re (re-solve distance, residual, drag and lift)."""
import json
import os
import re
import sys

os.chdir(sys.argv[1] if len(sys.argv) > 1 else ".")


def rate(log):
    m = re.search(r"\(([0-9.]+) samples/s", open(log).read())
    return float(m.group(1)) if m else float("nan")


solver = rate("datagen_test.log")
print("| flows from | s per flow (2 ranks) | speedup vs the solver | re-solve distance (median) | residual |R|/|F| (median) | momentum (median) | c_D mean (solver) | c_D W2 | c_L W2 |")
print("|---|---|---|---|---|---|---|---|---|")
d = json.load(open("e1.json"))
r = d["reference"]
print("| solver (steady Newton from rest) | %.3f | 1 | %.1e | %.3g | %.3g | %.4f | - | - |" % (
    1 / solver, r["resolve"]["median"], r["residual_relative"]["median"], r["momentum"]["median"], r["c_D"]["mean"]))
for k in (1, 4, 20):
    if not os.path.exists("e%d.json" % k):
        continue
    d = json.load(open("e%d.json" % k))
    s = rate("sample_%d.log" % k)
    c = d.get("check_distributions", {})
    w = lambda q: "%.4f" % c[q]["w2"] if q in c else "-"
    print("| model, Euler %d step%s | %.4f | %.0fx | %.3f | %.3g | %.3g | %.4f (%.4f) | %s | %s |" % (
        k, "s" if k > 1 else "", 1 / s, s / solver, d["resolve"]["median"], d["residual_relative"]["median"], d["momentum"]["median"],
        d["c_D"]["mean"], d["reference"]["c_D"]["mean"], w("c_D"), w("c_L")))
