#!/bin/bash
# The C MLP against the PyTorch reference (bench/torch_mlp.py) on the same
# weights: forward output, parameter gradients and input gradients.
#   double-precision C build vs PyTorch float64: relative 1e-9
#   float32 C build vs PyTorch float64:          relative 1e-4
# Skipped (exit 77) only when Debian's python3-torch is not installed.
set -u
DUMP=$1; DUMP64=$2; BIN=${PF_BIN:?}; PY=${PF_PYTHON:-/usr/bin/python3}; SRC=${PF_SOURCE_DIR:?}
if ! "$PY" -c "import torch" 2>/dev/null; then echo "SKIP: python3-torch is not installed (apt-get install python3-torch)"; exit 77; fi
dir=$(mktemp -d); trap 'rm -rf "$dir"' EXIT; cd "$dir"
fail=0
for act in silu gelu; do
  "$BIN" train -toy 8gaussians -mlp_width 32 -mlp_depth 2 -mlp_temb_dim 16 -mlp_act $act -train_steps 30 -batch_size 64 -o m_$act.h5 >/dev/null || exit 1
  "$PY" - <<'PY' || exit 1
import h5py, numpy as np
r = np.random.default_rng(5)
with h5py.File("in.h5", "w") as f:
    f["x"] = r.normal(size=(17, 2)) * 3
    f["t"] = r.uniform(size=17)
    f["dv"] = r.normal(size=(17, 2))
PY
  "$PY" "$SRC/bench/torch_mlp.py" reference --model m_$act.h5 --input in.h5 --output ref.h5 || { echo "FAIL: torch reference"; exit 1; }
  "$DUMP64" m_$act.h5 in.h5 c64.h5 || { echo "FAIL: net_dump_f64"; exit 1; }
  "$DUMP" m_$act.h5 in.h5 c32.h5 || { echo "FAIL: net_dump"; exit 1; }
  echo "[$act] double C vs torch float64:"
  "$PY" "$SRC/tests/h5compare.py" c64.h5 ref.h5 --dataset /v --dataset /grad_params --dataset /grad_x --rtol 1e-9 || fail=1
  echo "[$act] float32 C vs torch float64:"
  "$PY" "$SRC/tests/h5compare.py" c32.h5 ref.h5 --dataset /v --dataset /grad_params --dataset /grad_x --rtol 1e-4 || fail=1
done
exit $fail
