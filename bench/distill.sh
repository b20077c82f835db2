#!/bin/bash
# Few-step and one-step students (issue 9) of a flow-matching teacher on
# Darcy: the teacher with 1..20 Euler steps, Heun 10 and RK4 10; the PIDDM
# student (1 step) and the reflow student (1, 2, 4 steps, with straightness)
# distilled from 4000 RK4-10 pairs of the teacher; 1000 samples each against
# held-out solver data (eval -physics darcy), on 2 ranks as 2 groups.
# Usage: bench/distill.sh [build-dir] [teacher.h5 test.h5]
#   (default: the demo's plain flow-matching model and test data, out/demo)
# Prints one line per run (re-solve and residual medians, the four mean/std
# field errors, their mean, the field SWD, samples/s); writes into $OUT
# (default bench_distill/).
set -euo pipefail
BUILD=${1:-build}; BIN=$(readlink -f "$BUILD/physflow"); HERE=$(cd "$(dirname "$0")" && pwd)
TEACHER=$(readlink -f "${2:-out/demo/model_fm.h5}"); TEST=$(readlink -f "${3:-out/demo/data_test.h5}")
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1
OUT=${OUT:-bench_distill}; mkdir -p "$OUT"; cd "$OUT"
M="mpiexec -q -n 2"
run() { # name model [sample options]
  local name=$1 model=$2; shift 2
  $M "$BIN" sample -model "$model" -n 1000 -seed 7 -pf_group_size 1 "$@" -o "s_$name.h5" >"s_$name.log" 2>&1
  $M "$BIN" eval -physics darcy -samples "s_$name.h5" -reference "$TEST" -o "e_$name.json" >/dev/null 2>&1
  /usr/bin/python3 - "$name" <<'PY'
import json, re, sys
n = sys.argv[1]; d = json.load(open("e_%s.json" % n)); D = d["distribution"]
e = [D["logK"]["mean_error"], D["logK"]["std_error"], D["p"]["mean_error"], D["p"]["std_error"]]
log = open("s_%s.log" % n).read()
rate = re.search(r"\(([0-9.]+) samples/s", log); st = re.search(r"straightness ([0-9.e+-]+)", log)
print("%-14s re-solve %.4f residual %.3f | logK %.3f/%.3f p %.3f/%.3f | dist %.4f swd %.4f | %s samples/s%s" % (
    n, d["resolve"]["median"], d["residual_relative"]["median"], *e, sum(e) / 4, D["field_sliced_wasserstein"],
    rate.group(1) if rate else "?", "  straightness %s" % st.group(1) if st else ""))
PY
}
/usr/bin/time -f "piddm distill: %e s, %M KB" $M "$BIN" distill -model "$TEACHER" -distill_type piddm -n_pairs 4000 -pairs pairs.h5 \
  -pf_group_size 1 -train_steps 2000 -batch_size 16 -o piddm.h5 >piddm.log 2>&1
/usr/bin/time -f "reflow distill: %e s, %M KB" $M "$BIN" distill -model "$TEACHER" -distill_type reflow -n_pairs 4000 -pairs pairs.h5 \
  -pf_group_size 1 -train_steps 2000 -batch_size 16 -o reflow.h5 >reflow.log 2>&1
for s in "euler 20" "euler 10" "euler 4" "euler 2" "euler 1" "heun 10" "rk4 10"; do
  set -- $s; run "teacher_$1$2" "$TEACHER" -sampler "$1" -sampler_steps "$2"
done
run teacher_str4 "$TEACHER" -sampler euler -sampler_steps 4 -straightness
run piddm piddm.h5
for k in 1 2 4; do run "reflow_e$k" reflow.h5 -sampler_steps $k -straightness; done
