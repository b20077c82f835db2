#!/bin/bash
# Minimum-excess-work guidance on the 8-Gaussians toy (issue 10):
#  observable guidance (x0 half a base std up): the guided samples against
#  the max-ent answer (20000 base samples of another seed resampled by the
#  tilt), with both drift forms, and the naive baseline (the base model
#  fine-tuned on 4000 resampled base samples);
#  path guidance into a box holding ~1% of the base mass (the paper's KDE
#  of guiding samples, and -path_method tilt: observable guidance of minus
#  the distance to the box toward the tilt that puts 60% inside), against
#  the naive baseline (fine-tuned on the 64 guiding samples).
# Usage: bench/guide_toy.sh [build-dir]; writes into $OUT (bench_guide/)
set -euo pipefail
BUILD=${1:-build}; BIN=$(readlink -f "$BUILD/physflow")
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1
OUT=${OUT:-bench_guide}; mkdir -p "$OUT"; cd "$OUT"
"$BIN" train -toy 8gaussians -mlp_width 128 -mlp_depth 3 -train_steps 3000 -batch_size 256 -lr 2e-3 -lr_warmup 100 -seed 1 -o base.h5 >base.log
G="-model base.h5 -observable x0 -observable_shift 0.5"
"$BIN" guide $G -guide_samples 20000 -seed 99 -guide_baseline -guide_finetune_steps 1 -o ref.h5 >ref.log
for d in tweedie x1hat; do /usr/bin/time -f "%e s" -o "guided_$d.time" "$BIN" guide $G -guide_drift $d -o "guided_$d.h5" >"guided_$d.log"; done
/usr/bin/time -f "%e s" -o naive.time "$BIN" guide $G -guide_baseline -o naive.h5 >naive.log
for m in base guided_tweedie guided_x1hat naive; do
  "$BIN" sample -model $m.h5 -n 20000 -seed 5 -sampler heun -sampler_steps 10 -o "s_$m.h5" >"s_$m.log"
  "$BIN" eval -samples "s_$m.h5" -reference ref.h5.reweighted.h5 -o "e_$m.json" >/dev/null 2>&1
  /usr/bin/python3 -c "
import json, re
d = json.load(open('e_$m.json')); log = open('s_$m.log').read(); w = re.search(r'excess work ([0-9.e+-]+)', log)
print('%-16s mean x0 %.4f (max-ent %.4f)  SWD to the max-ent answer %.4f  MMD2 %.2e  excess work %s' % ('$m', d['mean_samples'][0], d['mean_reference'][0], d['sliced_wasserstein'], d['mmd2'], w.group(1) if w else '-'))"
done
R="5.3,7,-1,1"
/usr/bin/time -f "%e s" -o path.time "$BIN" guide -model base.h5 -guide_type path -path_region $R -guide_samples 20000 -o path.h5 >path.log
/usr/bin/time -f "%e s" -o ptilt.time "$BIN" guide -model base.h5 -guide_type path -path_method tilt -path_region $R -guide_samples 20000 -o ptilt.h5 >ptilt.log
"$BIN" guide -model base.h5 -guide_type path -path_region $R -guide_samples 20000 -guide_baseline -guide_finetune_steps 1000 -o pnaive.h5 >pnaive.log
"$BIN" sample -model base.h5 -n 100000 -seed 8 -sampler heun -sampler_steps 10 -o s_base100k.h5 >/dev/null
for m in path ptilt pnaive; do "$BIN" sample -model $m.h5 -n 20000 -seed 5 -sampler heun -sampler_steps 10 -o "s_$m.h5" >"s_$m.log"; done
/usr/bin/python3 - <<'PY'
import h5py, numpy as np, re
box = (5.3, 7, -1, 1)
def inside(x): return (x[:, 0] >= box[0]) & (x[:, 0] <= box[1]) & (x[:, 1] >= box[2]) & (x[:, 1] <= box[3])
b = h5py.File("s_base100k.h5")["samples"][...]; bi = b[inside(b)]
def swd(a, c, k=256):
    th = np.random.default_rng(0).normal(size=(k, 2)); th /= np.linalg.norm(th, axis=1, keepdims=True)
    q = np.linspace(0, 1, 201)
    return np.mean([np.mean(np.abs(np.quantile(a @ t, q) - np.quantile(c @ t, q))) for t in th])
h = len(bi) // 2
print("base: %.2f%% of 100000 samples in the box; SWD between two halves of them %.4f" % (100 * inside(b).mean(), swd(bi[:h], bi[h:])))
for m in ("path", "ptilt", "pnaive"):
    g = h5py.File("s_%s.h5" % m)["samples"][...]; gi = g[inside(g)]
    w = re.search(r"excess work ([0-9.e+-]+)", open("s_%s.log" % m).read())
    print("%-7s %.1f%% inside; in-region mean %s std %s (base %s / %s); SWD to the base in the box %.4f; excess work %s" % (
        m, 100 * inside(g).mean(), np.round(gi.mean(0), 3), np.round(gi.std(0), 3), np.round(bi.mean(0), 3), np.round(bi.std(0), 3), swd(gi, bi), w.group(1) if w else "-"))
PY
grep -h "s$" *.time | paste -sd' ' | sed 's/^/times (guided_tweedie guided_x1hat naive path ptilt): /'
