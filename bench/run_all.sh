#!/bin/bash
# All benchmarks of BENCHMARKS.md (make bench).  Several minutes.
set -euo pipefail
BUILD=${1:-build}; HERE=$(cd "$(dirname "$0")" && pwd)
echo "## MLP training throughput vs PyTorch"; bash "$HERE/mlp_throughput.sh" "$BUILD"
echo; echo "## Flow matching vs DDPM"; bash "$HERE/fm_vs_ddpm.sh" "$BUILD"
echo; echo "## Darcy datagen"; bash "$HERE/datagen_darcy.sh" "$BUILD"
echo; echo "## Darcy residual + VJP vs the networks"; OPENBLAS_NUM_THREADS=1 "$BUILD/bench_residual"
echo; echo "## Mesh network throughput"; bash "$HERE/meshnet_throughput.sh" "$BUILD"
