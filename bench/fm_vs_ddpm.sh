#!/bin/bash
# Flow matching with few steps vs the VP/DDPM baseline with many steps, on
# two moons: same MLP (width 128, depth 3), same data, same training budget
# (6000 steps, batch 256).  Usage: bench/fm_vs_ddpm.sh [build-dir] -> Markdown table.
set -euo pipefail
BUILD=${1:-build}; BIN=$(readlink -f "$BUILD/physflow")
export OPENBLAS_NUM_THREADS=1
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT; cd "$tmp"
"$BIN" datagen -toy moons -n 20000 -seed 1 -o train.h5 >/dev/null
"$BIN" datagen -toy moons -n 5000 -seed 2 -o test.h5 >/dev/null
for flow in cfm otcfm vp; do
  "$BIN" train -data train.h5 -flow_type $flow -mlp_width 128 -mlp_depth 3 -train_steps 6000 -batch_size 256 \
    -lr 2e-3 -lr_warmup 100 -seed 1 -o $flow.h5 -monitor_every 100000 >/dev/null
done
echo "| model | sampler | NFE | sliced Wasserstein | MMD^2 | ms per 5000 samples |"
echo "|---|---|---|---|---|---|"
row() { # flow sampler steps
  local t0=$(date +%s.%N)
  "$BIN" sample -model $1.h5 -n 5000 -sampler $2 -sampler_steps $3 -seed 9 -o s.h5 >/dev/null
  local t1=$(date +%s.%N)
  "$BIN" eval -samples s.h5 -reference test.h5 -plot none | /usr/bin/python3 -c "
import json,sys; d=json.load(sys.stdin)
print(f\"| $1 | $2 | {d['nfe']} | {d['sliced_wasserstein']:.4f} | {d['mmd2']:.2e} | {($t1-$t0)*1000:.0f} |\")"
}
row cfm euler 10; row cfm euler 20; row cfm heun 5; row cfm rk4 5; row cfm dopri5 1
row otcfm euler 2; row otcfm euler 10
row vp ddpm 10; row vp ddpm 100; row vp ddpm 200; row vp ddim 10; row vp ddim 200
