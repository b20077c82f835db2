#!/usr/bin/python3
"""Tables of bench/ns_transfer.sh (run in its output directory): physics and
flow statistics of the base and fine-tuned Re-conditioned models against the
solver's flows, and the Re inference campaigns."""
import csv
import json
import os
import sys

import numpy as np

os.chdir(sys.argv[1] if len(sys.argv) > 1 else ".")


def load(name):
    try:
        return json.load(open(name))
    except OSError:
        return None


print("| model | Re range | residual |R|/|F| (median) | momentum (median) | continuity (median) | re-solve (median) | c_D mean / ref | c_D W2 (rel. to ref std) | c_L mean / ref | c_L W2 | fields SWD |")
print("|---|---|---|---|---|---|---|---|---|---|---|")
rows = [("solver (reference)", "new", "e_base.json", True), ("base", "new", "e_base.json", False),
        ("the fine-tuning's options, 0 iterations", "new", "e_ft_zero.json", False),
        ("fine-tuned, endpoint", "new", "e_ft_endpoint.json", False), ("fine-tuned, adjoint matching", "new", "e_ft_adjoint.json", False),
        ("solver (reference)", "trained", "e_base_old.json", True), ("base", "trained", "e_base_old.json", False),
        ("fine-tuned, endpoint", "trained", "e_ft_old.json", False)]
for label, rng, f, ref in rows:
    d = load(f)
    if d is None:
        continue
    s = d["reference"] if ref else d
    cd = d["check_distributions"]
    if ref:
        print("| %s | %s | %.3g | %.3g | %.3g | - | %.4f | - | %.4f | - | - |" % (
            label, rng, s["residual_relative"]["median"], s["momentum"]["median"], s["continuity"]["median"], cd["c_D"]["ref_mean"], cd["c_L"]["ref_mean"]))
        continue
    print("| %s | %s | %.3g | %.3g | %.3g | %.3g | %.4f / %.4f | %.4f (%.3f) | %.4f / %.4f | %.4f | %.4g |" % (
        label, rng, s["residual_relative"]["median"], s["momentum"]["median"], s["continuity"]["median"], s["resolve"]["median"],
        cd["c_D"]["mean"], cd["c_D"]["ref_mean"], cd["c_D"]["w2"], cd["c_D"]["w2_rel"] or float("nan"), cd["c_L"]["mean"], cd["c_L"]["ref_mean"], cd["c_L"]["w2"],
        d["distribution"]["field_sliced_wasserstein"]))
b, e = load("e_base.json"), load("e_ft_endpoint.json")
if b and e:
    print()
    print("new range, endpoint fine-tuning vs base: residual %.1fx lower (median), c_D W2 ratio %.2f, c_L W2 ratio %.2f" % (
        b["residual_relative"]["median"] / e["residual_relative"]["median"],
        e["check_distributions"]["c_D"]["w2"] / b["check_distributions"]["c_D"]["w2"],
        e["check_distributions"]["c_L"]["w2"] / b["check_distributions"]["c_L"]["w2"]))
seeds = sorted({int(f.split("_seed")[1][:-5]) for f in os.listdir(".") if f.startswith("e_base_seed") and f.endswith(".json")})
if seeds:
    print()
    print("| sample noise seed | model | residual (median) | re-solve (median) | c_D W2 | c_L mean | c_L W2 | c_L W2 / base's |")
    print("|---|---|---|---|---|---|---|---|")
    for sd in [0] + seeds:
        sfx = "" if sd == 0 else "_seed%d" % sd
        base = load("e_base%s.json" % sfx)
        for m, label in (("base", "base"), ("ft_zero", "control (0 iterations)"), ("ft_endpoint", "fine-tuned, endpoint")):
            d = load("e_%s%s.json" % (m, sfx))
            if d is None or base is None:
                continue
            cd = d["check_distributions"]
            print("| %d | %s | %.3g | %.3g | %.4f | %.4f | %.4f | %.2f |" % (sd, label, d["residual_relative"]["median"], d["resolve"]["median"], cd["c_D"]["w2"],
                                                                   cd["c_L"]["mean"], cd["c_L"]["w2"], cd["c_L"]["w2"] / base["check_distributions"]["c_L"]["w2"]))
print()
print("| model | observations | ok | Re error of the posterior mean, new range (mean) | trained range | Re in the 90% band | s per observation |")
print("|---|---|---|---|---|---|---|")
for m in ("base", "ft_endpoint"):
    p = "post_%s/summary.csv" % m
    if not os.path.exists(p):
        continue
    rs = list(csv.DictReader(open(p)))
    ok = [r for r in rs if r["status"] == "ok"]
    new = [float(r["error_Re"]) for r in ok if r["observation"].startswith("new")]
    old = [float(r["error_Re"]) for r in ok if r["observation"].startswith("old")]
    cov = [float(r["coverage_Re"]) for r in ok]
    sec = [float(r["seconds"]) for r in ok]
    print("| %s | %d | %d | %.4f | %.4f | %.0f%% | %.2f |" % (m, len(rs), len(ok), np.mean(new) if new else np.nan, np.mean(old) if old else np.nan,
                                                        100 * np.mean(np.array(cov) > 0.5) if cov else np.nan, np.mean(sec) if sec else np.nan))
