#!/bin/bash
# All benchmarks of BENCHMARKS.md (make bench).  Minutes, not seconds.
set -euo pipefail
BUILD=${1:-build}; HERE=$(cd "$(dirname "$0")" && pwd)
echo "## MLP training throughput vs PyTorch"; bash "$HERE/mlp_throughput.sh" "$BUILD"
echo; echo "## Flow matching vs DDPM"; bash "$HERE/fm_vs_ddpm.sh" "$BUILD"
