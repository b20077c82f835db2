#!/bin/bash
# The issue-9 comparison table on the 64x64 Darcy benchmark (BENCHMARKS.md):
# the teacher (the 4-level mesh U-Net of the 64x64 flow-matching benchmark,
# unet64.h5) with Euler 20/10/4 and dopri5, with DPS guidance; reflow and
# PIDDM students distilled from 1000 RK4-10 pairs (800 steps); the DDPM (VP)
# baseline trained with the same network and budget, sampled with 200/100/10
# ancestral steps.  Samples (1000, or 200-500 for the slow samplers) against
# 1000 held-out solver samples; 2 ranks as 2 groups.  Hours on 2 cores.
# Usage: bench/distill64.sh [build-dir] [dir with train64.h5 test64.h5 unet64.h5]
#   (made by the commands of the 64x64 flow-matching benchmark)
set -euo pipefail
BUILD=${1:-build}; BIN=$(readlink -f "$BUILD/physflow"); D=$(readlink -f "${2:-bench64}")
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1
OUT=${OUT:-bench_distill64}; mkdir -p "$OUT"; cd "$OUT"
M="mpiexec -q -n 2"
T="/usr/bin/time -f %e,%M"
[ -s vp64.h5 ] || $T -o vp64.time $M "$BIN" train -data "$D/train64.h5" -net_type meshunet -mesh_levels 4 -mesh_width 32 -mesh_depth 2 -mesh_groups 8 \
  -flow_type vp -train_steps 3000 -batch_size 16 -lr 1e-3 -lr_warmup 100 -seed 1 -o vp64.h5 >vp64.log 2>&1
[ -s piddm64.h5 ] || $T -o piddm64.time $M "$BIN" distill -model "$D/unet64.h5" -distill_type piddm -n_pairs 1000 -pairs pairs64.h5 -pf_group_size 1 \
  -train_steps 800 -batch_size 16 -o piddm64.h5 >piddm64.log 2>&1
[ -s reflow64.h5 ] || $T -o reflow64.time $M "$BIN" distill -model "$D/unet64.h5" -distill_type reflow -n_pairs 1000 -pairs pairs64.h5 -pf_group_size 1 \
  -train_steps 800 -batch_size 16 -o reflow64.h5 >reflow64.log 2>&1
smp() { # name model n [sample options]
  local name=$1 model=$2 n=$3; shift 3
  [ -s "e_$name.json" ] && return
  $M "$BIN" sample -model "$model" -n "$n" -seed 7 -pf_group_size 1 "$@" -o "s_$name.h5" >"s_$name.log" 2>&1
  $M "$BIN" eval -physics darcy -samples "s_$name.h5" -reference "$D/test64.h5" -o "e_$name.json" >"ev_$name.log" 2>&1
}
smp piddm64 piddm64.h5 1000
smp reflow64_e1 reflow64.h5 1000 -sampler_steps 1 -straightness
smp reflow64_e2 reflow64.h5 1000 -sampler_steps 2 -straightness
smp t_euler4 "$D/unet64.h5" 1000 -sampler euler -sampler_steps 4 -straightness
smp t_euler20k "$D/unet64.h5" 1000 -sampler euler -sampler_steps 20
smp vp_ddpm10 vp64.h5 500 -sampler ddpm -sampler_steps 10
smp t_euler10 "$D/unet64.h5" 300 -sampler euler -sampler_steps 10
smp t_dopri5 "$D/unet64.h5" 200 -sampler dopri5
smp t_dps20 "$D/unet64.h5" 200 -sampler euler -sampler_steps 20 -guidance dps -guidance_scale 10
smp vp_ddpm100 vp64.h5 200 -sampler ddpm -sampler_steps 100
smp vp_ddpm200 vp64.h5 200 -sampler ddpm -sampler_steps 200
/usr/bin/python3 - <<'PY'
import json, os, re
rows = [("teacher", "euler 20", "t_euler20k"), ("teacher", "euler 10", "t_euler10"), ("teacher", "euler 4", "t_euler4"),
        ("teacher", "dopri5", "t_dopri5"), ("teacher + DPS (scale 10)", "euler 20", "t_dps20"),
        ("reflow student", "euler 1", "reflow64_e1"), ("reflow student", "euler 2", "reflow64_e2"), ("PIDDM student", "euler 1", "piddm64"),
        ("DDPM (VP)", "ddpm 200", "vp_ddpm200"), ("DDPM (VP)", "ddpm 100", "vp_ddpm100"), ("DDPM (VP)", "ddpm 10", "vp_ddpm10")]
for model, smp, name in rows:
    d = json.load(open("e_%s.json" % name)); D = d["distribution"]
    e = [D["logK"]["mean_error"], D["logK"]["std_error"], D["p"]["mean_error"], D["p"]["std_error"]]
    m = re.search(r"\(NFE (\d+)\) in ([0-9.]+) s \(([0-9.]+) samples/s", open("s_%s.log" % name).read())
    print("| %s | %s (%s) | %d | %.4f | %.2f | %.3f / %.3f | %.3f / %.3f | %.4f | %.4f | %.1f ms |" % (
        model, smp, m.group(1), d["n_samples"], d["resolve"]["median"], d["residual_relative"]["median"], *e, sum(e) / 4,
        D["field_sliced_wasserstein"], 1000.0 / float(m.group(3))))
PY
