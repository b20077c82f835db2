#!/bin/bash
# test_rank_invariance: data-parallel training gives the same run on 1 and 2
# MPI ranks.  The global batch is split over the ranks and all randomness is
# keyed by (seed, step, global sample), so only the summation order of the
# gradient allreduce differs:
#   - /history/loss of 1 vs 2 ranks agree to rtol 1e-5 (h5compare.py norm-wise:
#     max|a-b| / max|a|) -- the acceptance criterion
#   - final /params and /ema agree to rtol 1e-3
# for cfm, otcfm (global OT assignment), a batch not divisible by the ranks
# (101), vp, training from a -data file (epoch shuffles), and with gradient
# clipping + warm-up + weight decay.  Also datagen (bitwise) and sample
# (rtol 1e-5) give the same files on 1 and 2 ranks.
# Environment (set by ctest): PF_BIN, PF_MPIEXEC, PF_PYTHON, PF_SOURCE_DIR.
# set -u, $BIN, $PY, $MPIEXEC, scratch dir, pass/fail, mpi2, compare
. "$(dirname "$0")/common.sh"
LOSS_RTOL=${PF_RANK_LOSS_RTOL:-1e-5}
PARAM_RTOL=${PF_RANK_PARAM_RTOL:-1e-3}
enter_scratch pf_test_rank
# summary lines of compare: label, datasets, max_rel
CMP_LABEL_WIDTH=34
CMP_DSET_WIDTH=26

# train_pair LABEL OPTIONS...: trains on 1 and on 2 ranks, compares
train_pair() {
  local label=$1
  shift
  echo
  echo "== $label: physflow train $*"
  local t0=$SECONDS
  if ! "$BIN" train "$@" -o "$label.1.h5" >"$label.1.log" 2>&1; then
    fail "$label: 1-rank training failed"; tail -n 5 "$label.1.log"; return
  fi
  if ! mpi2 "$BIN" train "$@" -o "$label.2.h5" >"$label.2.log" 2>&1; then
    fail "$label: 2-rank training failed"; tail -n 15 "$label.2.log"; return
  fi
  # guard against a vacuous pass: mpiexec must really have made one 2-rank job
  local ranks
  ranks=$("$PY" -c 'import h5py, sys; print(int(h5py.File(sys.argv[1], "r")["train"].attrs["ranks"]))' "$label.2.h5" 2>/dev/null)
  if grep -q "on 2 rank(s)" "$label.2.log" && [ "$ranks" = 2 ]; then
    pass "$label: the 2-rank run used 2 ranks (/train ranks = $ranks)"
  else
    fail "$label: the mpiexec run did not train on 2 ranks (/train ranks = '$ranks')"
  fi
  # element-wise view of the loss difference, for information
  "$PY" - "$label.1.h5" "$label.2.h5" <<'EOF'
import sys, h5py, numpy as np
a = h5py.File(sys.argv[1], "r")["history/loss"][...]
b = h5py.File(sys.argv[2], "r")["history/loss"][...]
if a.shape == b.shape:
    rel = np.abs(a - b) / np.maximum(np.abs(a), 1e-300)
    print("       loss: %d steps, first %.5f, last %.5f; element-wise max |a-b|/|a| = %.3e, %d/%d steps bitwise equal"
          % (a.size, a[0], a[-1], rel.max(), int(np.sum(a == b)), a.size))
EOF
  compare "$label" "$LOSS_RTOL" "$label.1.h5" "$label.2.h5" /history/loss
  compare "$label" "$PARAM_RTOL" "$label.1.h5" "$label.2.h5" /params /ema
  echo "       ($((SECONDS - t0)) s)"
}

BASE="-toy moons -net_type mlp -mlp_width 64 -mlp_depth 2 -train_steps 200 -seed 7"

train_pair cfm $BASE -batch_size 128
train_pair otcfm $BASE -batch_size 128 -flow_type otcfm
train_pair cfm_b101 $BASE -batch_size 101
train_pair otcfm_b101 $BASE -batch_size 101 -flow_type otcfm
train_pair vp $BASE -batch_size 128 -flow_type vp
train_pair clip_warmup_wd $BASE -batch_size 96 -grad_clip 1.0 -lr_warmup 20 -weight_decay 1e-4 -mlp_act gelu

echo
echo "== datagen on 1 and 2 ranks (sample i is keyed by (seed, i))"
"$BIN" datagen -toy moons -n 701 -seed 3 -o data.1.h5 >/dev/null 2>&1 || fail "datagen 1 rank"
mpi2 "$BIN" datagen -toy moons -n 701 -seed 3 -o data.2.h5 >/dev/null 2>&1 || fail "datagen 2 ranks"
compare datagen 0 data.1.h5 data.2.h5 /samples

# training from a file: 200 steps of 96 over 701 samples = 27 reshuffled epochs
DATA_OPTS="-net_type mlp -mlp_width 64 -mlp_depth 2 -train_steps 200 -seed 7 -batch_size 96"
train_pair data_file -data data.1.h5 $DATA_OPTS

echo
echo "== sample on 1 and 2 ranks (noise of sample i is keyed by (seed, i))"
if [ -s cfm.1.h5 ]; then
  "$BIN" sample -model cfm.1.h5 -n 501 -seed 5 -sampler heun -sampler_steps 10 -o s.1.h5 >/dev/null 2>&1 || fail "sample 1 rank"
  mpi2 "$BIN" sample -model cfm.1.h5 -n 501 -seed 5 -sampler heun -sampler_steps 10 -o s.2.h5 >/dev/null 2>&1 || fail "sample 2 ranks"
  compare sample 1e-5 s.1.h5 s.2.h5 /samples
fi

echo
echo "== summary (h5compare max_rel = max|a-b| / max|a|)"
printf "%b" "$SUMMARY"
echo "test_rank_invariance: $npass checks passed, $nfail failed ($SECONDS s)"
[ "$nfail" -eq 0 ]
