#!/usr/bin/python3
"""Table of bench/pbfm_trend.sh: for each training length and sampler, the
mean (median) relative residual of plain flow matching's and PBFM's samples,
their ratio, the re-solve distances and PBFM's distribution error relative
to flow matching's (issue 6's targets: residual ratio >= 8 at a
distribution-error ratio <= 1.1). Writes DIR/pbfm_trend.md (and prints it) and
DIR/pbfm_trend.png: both models' residuals and their ratio against the
training length, log-log.

usage: pbfm_trend_report.py DIR [FM_TAG PBFM_TAG]
"""
import glob
import json
import os
import re
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.ticker  # noqa: E402
from benchutil import dist_error  # noqa: E402

D = sys.argv[1] if len(sys.argv) > 1 else "pbfm_trend"
FM, PB = (sys.argv[2], sys.argv[3]) if len(sys.argv) > 3 else ("fm", "pbfm")
SAMPLERS = {"e20": "Euler 20", "h10": "Heun 10, last step Euler"}


evals = {}
for path in glob.glob(os.path.join(D, "e_*.json")):
    m = re.fullmatch(r"e_(\w+?)_(\d+)_(e20|h10)\.json", os.path.basename(path))
    if m and m.group(1) in (FM, PB):
        evals[(m.group(1), int(m.group(2)), m.group(3))] = json.load(open(path))

lines = ["| sampler | training steps | FM residual mean (median) | PBFM residual mean (median) | residual ratio FM / PBFM "
         "| re-solve median FM / PBFM | distribution error FM / PBFM (ratio) |",
         "|---|---|---|---|---|---|---|"]
for smp, label in SAMPLERS.items():
    for steps in sorted({s for (_, s, k) in evals if k == smp}):
        f, p = evals.get((FM, steps, smp)), evals.get((PB, steps, smp))
        if not f or not p:
            continue
        rf, rp = f["residual_relative"], p["residual_relative"]
        df, dp = dist_error(f), dist_error(p)
        lines.append("| %s | %d | %.3f (%.3f) | %.3f (%.3f) | **%.2f** | %.3f / %.3f | %.3f / %.3f (%.2f) |" % (
            label, steps, rf["mean"], rf["median"], rp["mean"], rp["median"], rf["mean"] / rp["mean"],
            f["resolve"]["median"], p["resolve"]["median"], df, dp, dp / df))
text = "\n".join(lines) + "\n"
open(os.path.join(D, "pbfm_trend.md"), "w").write(text)
print(text, end="")

fig, (ax, axr) = plt.subplots(1, 2, figsize=(10, 4))
for smp, label in SAMPLERS.items():
    steps = sorted(s for (t, s, k) in evals if k == smp and t == FM and (PB, s, k) in evals)
    if not steps:
        continue
    rf = [evals[(FM, s, smp)]["residual_relative"]["mean"] for s in steps]
    rp = [evals[(PB, s, smp)]["residual_relative"]["mean"] for s in steps]
    line, = ax.loglog(steps, rf, "o-", label="flow matching, " + label)
    ax.loglog(steps, rp, "s--", color=line.get_color(), label="PBFM, " + label)
    axr.semilogx(steps, [f / p for f, p in zip(rf, rp)], "o-", color=line.get_color(), label=label)
ax.yaxis.set_minor_formatter(matplotlib.ticker.FormatStrFormatter("%.1f"))
ax.set_xlabel("training steps (batch 16)")
ax.set_ylabel("mean residual |R| / |F| of the samples")
ax.legend(fontsize=7)
axr.axhline(8, color="k", lw=0.8, ls=":")
axr.text(axr.get_xlim()[0], 8, " issue 6's target", va="bottom", fontsize=7)
axr.set_xlabel("training steps (batch 16)")
axr.set_ylabel("residual ratio flow matching / PBFM")
axr.set_ylim(0, 9)
axr.legend(fontsize=7)
fig.tight_layout()
fig.savefig(os.path.join(D, "pbfm_trend.png"), dpi=110)
