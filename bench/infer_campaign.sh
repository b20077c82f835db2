#!/bin/bash
# Observation campaigns on the 64x64 Darcy benchmark (issue 7): synthetic
# observation sets of p from held-out solver samples (test64.h5), 16 and 64
# noisy sensors (sigma 0.01, p spans about +-0.3), then
#   infer -infer_type guidance: the unconditional U-Net of the 64x64
#     benchmark (unet64.h5) guided by the likelihood, N posterior samples;
#   infer -infer_type map: the TAO MAP estimate (KL prior of the data);
# each as a campaign (-obs_dir) on 2 ranks (2 groups of 1 rank, dynamic
# load balancing), then bench/infer_campaign.py tabulates error of the
# posterior mean / MAP logK against the truth, 90% band coverage and time
# per observation.
# Usage: bench/infer_campaign.sh BUILD BENCH64_DIR [NOBS] [NPOST]
set -euo pipefail
BUILD=${1:-build}; B64=$(readlink -f "${2:-bench64}"); NOBS=${3:-200}; NPOST=${4:-32}
SRC=$(cd "$(dirname "$0")" && pwd)
OUT=$B64/campaign; mkdir -p "$OUT"
cp "$BUILD/physflow" "$OUT/physflow_bin"; BIN=$OUT/physflow_bin
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1
cd "$OUT"
for k in 16 64; do
  mkdir -p obs$k
  for ((i = 0; i < NOBS; i++)); do
    f=obs$k/o$(printf %04d $i).h5
    [ -s "$f" ] || "$BIN" observe -data "$B64/test64.h5" -index $i -field p -nobs $k -noise 0.01 -seed 7 -o "$f" >/dev/null
  done
  for t in map guidance; do
    /usr/bin/time -f "%e" -o "wall_${t}_$k.txt" mpiexec -q -n 2 "$BIN" infer -model "$B64/unet64.h5" -obs_dir obs$k -infer_type $t \
      -n $NPOST -sampler heun -sampler_steps 10 -pf_group_size 1 -o post_${t}_$k >"log_${t}_$k.txt"
  done
done
/usr/bin/python3 "$SRC/infer_campaign.py" "$OUT"
