#!/bin/bash
# Navier-Stokes, issue 8: ONE Re-conditioned base model (bench/ns_speed.sh's
# model.h5, trained on steady flows with Re in [20, 60]) fine-tuned with the
# physics alone for a Reynolds range it was not trained on, and Re inferred
# from velocity probes.
#  1. solver flows at NTEST Reynolds numbers of the new range (the reference;
#     never seen by the fine-tuning, which uses only the residual);
#  2. the base model's flows at those Re (Heun, STEPS steps);
#  3. finetune -constraint endpoint (residual of the model's own Heun samples,
#     back-propagated through the sampler; Re held) and -constraint adjoint
#     (adjoint matching), both with -cond_range RMIN,RMAX;
#  4. eval -physics ns of each against the new range's solver flows: residual,
#     momentum, continuity, re-solve distance, drag and lift distributions;
#     also of the fine-tuned model back in the trained range;
#  5. Re from 8 noisy probes of u (infer -infer_type conditional, grid
#     posterior over the union of both ranges) for NOBS held-out flows of
#     each range, base and fine-tuned models.
# Usage: bench/ns_transfer.sh BUILD SPEED_OUT OUT [NP] [RMIN] [RMAX] [ITERS] [LR] [STEPS]
# The same fine-tuning with 0 iterations (ft_zero.h5) is the control.
# Environment: FT_OPTS extra options of the endpoint fine-tuning (e.g.
# "-constraint_norm l2 -endpoint_state_anchor 1"); ADJOINT=0 skips adjoint
# matching, PROBES=0 the Re inference; EXTRA_SEEDS="1 2" also samples and
# evaluates base, control and endpoint models from those noise seeds.
set -euo pipefail
BUILD=$(readlink -f "${1:-build}"); SP=$(readlink -f "${2:-bench_ns_speed}"); OUT=$(readlink -m "${3:-bench_ns_transfer}")
NP=${4:-2}; RMIN=${5:-60}; RMAX=${6:-80}; ITERS=${7:-300}; LR=${8:-3e-4}; STEPS=${9:-4}; NTEST=32; NOBS=10
HERE=$(dirname "$(readlink -f "$0")")   # before the cd: $0 may be relative
mkdir -p "$OUT"; cd "$OUT"
cp "$BUILD/physflow" ./physflow_bin
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1
RUN="mpiexec -q -n $NP ./physflow_bin"
ln -sf "$SP/cyl.msh" cyl.msh
[ -s test_new.h5 ] || $RUN datagen -physics ns -mesh cyl.msh -Re_min "$RMIN" -Re_max "$RMAX" -n $NTEST -seed 3 -pf_group_size 1 -o test_new.h5 | tail -n 2
S="-sampler heun -sampler_steps $STEPS -pf_group_size 1"
[ -s ft_endpoint.h5 ] || { /usr/bin/time -f "%e s %M KB" $RUN finetune -model "$SP/model.h5" -data "$SP/train.h5" -constraint endpoint -cond_range "$RMIN,$RMAX" \
    -endpoint_steps "$STEPS" -train_steps "$ITERS" -batch_size 8 -lr "$LR" -pf_group_size 1 -seed 5 ${FT_OPTS:-} -o ft_endpoint.h5 > ft_endpoint.log 2> ft_endpoint.time; tail -n 3 ft_endpoint.log; cat ft_endpoint.time; }
# the control: the same command with no update (-train_steps 0), so what
# the options alone do (e.g. -pin_constant) is told from what the steps do
[ -s ft_zero.h5 ] || $RUN finetune -model "$SP/model.h5" -data "$SP/train.h5" -constraint endpoint -cond_range "$RMIN,$RMAX" \
    -endpoint_steps "$STEPS" -train_steps 0 -batch_size 8 -pf_group_size 1 -seed 5 ${FT_OPTS:-} -o ft_zero.h5 > ft_zero.log
[ "${ADJOINT:-1}" = 0 ] || [ -s ft_adjoint.h5 ] || { /usr/bin/time -f "%e s %M KB" $RUN finetune -model "$SP/model.h5" -data "$SP/train.h5" -constraint adjoint -cond_range "$RMIN,$RMAX" \
    -am_iters 40 -am_steps 40 -batch_size 8 -lr 1e-4 -pf_group_size 1 -seed 5 -o ft_adjoint.h5 > ft_adjoint.log 2> ft_adjoint.time; tail -n 2 ft_adjoint.log; cat ft_adjoint.time; }
for m in base ft_zero ft_endpoint ft_adjoint; do
  [ $m != ft_adjoint ] || [ -s ft_adjoint.h5 ] || continue
  M=$([ $m = base ] && echo "$SP/model.h5" || echo $m.h5)
  [ -s s_$m.h5 ] || $RUN sample -model "$M" -n $NTEST -cond_data test_new.h5 $S -o s_$m.h5 | tail -n 1
  [ -s e_$m.json ] || $RUN eval -physics ns -samples s_$m.h5 -reference test_new.h5 -o e_$m.json > /dev/null
done
# the same comparison from other noise (EXTRA_SEEDS="1 2"): 32 samples
# give W2 distances that move by ~20% between noise draws
for sd in ${EXTRA_SEEDS:-}; do
  for m in base ft_zero ft_endpoint; do
    M=$([ $m = base ] && echo "$SP/model.h5" || echo $m.h5)
    [ -s s_${m}_seed$sd.h5 ] || $RUN sample -model "$M" -n $NTEST -seed "$sd" -cond_data test_new.h5 $S -o s_${m}_seed$sd.h5 | tail -n 1
    [ -s e_${m}_seed$sd.json ] || $RUN eval -physics ns -samples s_${m}_seed$sd.h5 -reference test_new.h5 -plot none -o e_${m}_seed$sd.json > /dev/null
  done
done
# the fine-tuned model back in the trained range
[ -s s_ft_old.h5 ] || $RUN sample -model ft_endpoint.h5 -n $NTEST -cond_data "$SP/test.h5" $S -o s_ft_old.h5 | tail -n 1
[ -s e_ft_old.json ] || $RUN eval -physics ns -samples s_ft_old.h5 -reference "$SP/test.h5" -o e_ft_old.json > /dev/null
[ -s s_base_old.h5 ] || $RUN sample -model "$SP/model.h5" -n $NTEST -cond_data "$SP/test.h5" $S -o s_base_old.h5 | tail -n 1
[ -s e_base_old.json ] || $RUN eval -physics ns -samples s_base_old.h5 -reference "$SP/test.h5" -o e_base_old.json > /dev/null
# Re from probes: held-out flows of both ranges
[ "${PROBES:-1}" = 0 ] && { /usr/bin/python3 "$HERE/ns_transfer_report.py" .; exit 0; }
mkdir -p obs
for i in $(seq 0 $((NOBS - 1))); do
  [ -s obs/new_$i.h5 ] || ./physflow_bin observe -data test_new.h5 -index $i -field u -nobs 8 -noise 0.005 -seed $((100 + i)) -o obs/new_$i.h5 > /dev/null
  [ -s obs/old_$i.h5 ] || ./physflow_bin observe -data "$SP/test.h5" -index $i -field u -nobs 8 -noise 0.005 -seed $((200 + i)) -o obs/old_$i.h5 > /dev/null
done
# each model's own error in u (RMS over the vertices, against the solver at
# the same Re), measured on the trained range's test flows, is added to the
# probes' noise: the surrogate is not exact
for m in base ft_endpoint; do
  M=$([ $m = base ] && echo "$SP/model.h5" || echo $m.h5)
  SO=$([ $m = base ] && echo s_base_old.h5 || echo s_ft_old.h5)
  MS=$(/usr/bin/python3 -c "
import h5py, numpy as np
print('%.4g' % np.sqrt(np.mean((h5py.File('$SO')['fields/u'][:] - h5py.File('$SP/test.h5')['fields/u'][:]) ** 2)))")
  echo "$m: model error in u (RMS) $MS" | tee model_sigma_$m.txt
  [ -s post_$m/summary.json ] || $RUN infer -model "$M" -infer_type conditional -cond_range 20,$RMAX -infer_grid 81 -infer_model_sigma "$MS" -obs_dir obs -n 32 $S -o post_$m > infer_$m.log
done
/usr/bin/python3 "$HERE/ns_transfer_report.py" .
