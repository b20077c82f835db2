#!/bin/bash
# physflow train (OT-CFM, checkpointing), sample and eval under valgrind
# memcheck: no invalid accesses, no uninitialised reads, no definite leaks.
set -u
VG=$1; SUPP=$2; BIN=${PF_BIN:?}
dir=$(mktemp -d); trap 'rm -rf "$dir"' EXIT; cd "$dir"
vg() { "$VG" --error-exitcode=97 --leak-check=full --errors-for-leak-kinds=definite --num-callers=40 --suppressions="$SUPP" -q "$@"; }
fail=0
vg "$BIN" train -toy moons -flow_type otcfm -train_steps 6 -batch_size 16 -mlp_width 16 -mlp_depth 1 -checkpoint_every 2 -o m.h5 > log 2>&1 || { echo "FAIL: train under valgrind"; cat log; fail=1; }
vg "$BIN" sample -model m.h5 -n 20 -sampler dopri5 -o s.h5 > log 2>&1 || { echo "FAIL: sample under valgrind"; cat log; fail=1; }
vg "$BIN" datagen -toy moons -n 50 -o r.h5 > log 2>&1 || { echo "FAIL: datagen under valgrind"; cat log; fail=1; }
vg "$BIN" eval -samples s.h5 -reference r.h5 -plot none > log 2>&1 || { echo "FAIL: eval under valgrind"; cat log; fail=1; }
# the PDE path: Darcy datagen, the domain-decomposed mesh network, mesh
# U-Net (2 levels), mesh sampling and the physics/distribution evaluation (tiny sizes)
vg "$BIN" datagen -physics darcy -mesh_faces 4 -n 3 -darcy_kl_terms 8 -o dd.h5 > log 2>&1 || { echo "FAIL: darcy datagen under valgrind"; cat log; fail=1; }
vg "$BIN" train -data dd.h5 -net_type meshunet -mesh_levels 2 -mesh_width 4 -mesh_depth 1 -mesh_groups 2 -mesh_temb_dim 4 -train_steps 2 -batch_size 2 -o mm.h5 > log 2>&1 || { echo "FAIL: meshunet train under valgrind"; cat log; fail=1; }
# PBFM: 3 unrolled steps in their own activation sets, on 1 row of the batch
vg "$BIN" train -data dd.h5 -net_type meshunet -mesh_levels 2 -mesh_width 4 -mesh_depth 1 -mesh_groups 2 -mesh_temb_dim 4 -train_steps 2 -batch_size 2 \
  -constraint pbfm -pbfm_unroll 3 -pbfm_unroll_grow 0 -pbfm_batch 1 -o mpb.h5 > log 2>&1 || { echo "FAIL: PBFM train under valgrind"; cat log; fail=1; }
vg "$BIN" sample -model mm.h5 -n 2 -sampler_steps 2 -o ms.h5 > log 2>&1 || { echo "FAIL: mesh sample under valgrind"; cat log; fail=1; }
vg "$BIN" eval -physics darcy -samples ms.h5 -reference dd.h5 > log 2>&1 || { echo "FAIL: darcy eval under valgrind"; cat log; fail=1; }
/usr/bin/python3 -c "import json,sys; json.loads(open('log').read().strip().splitlines()[-1])" || { echo "FAIL: eval printed invalid JSON"; fail=1; }
# observations, guided posterior and MAP, observable guidance (tiny sizes)
vg "$BIN" observe -data dd.h5 -index 1 -nobs 4 -noise 0.01 -o ob.h5 > log 2>&1 || { echo "FAIL: observe under valgrind"; cat log; fail=1; }
vg "$BIN" infer -model mm.h5 -obs ob.h5 -n 2 -sampler_steps 2 -o po.h5 > log 2>&1 || { echo "FAIL: infer under valgrind"; cat log; fail=1; }
vg "$BIN" infer -model mm.h5 -obs ob.h5 -infer_type map -map_tao_max_it 3 -o pm.h5 > log 2>&1 || { echo "FAIL: infer -infer_type map under valgrind"; cat log; fail=1; }
vg "$BIN" infer -model mm.h5 -obs ob.h5 -infer_type mcmc -mcmc_proposal laplace -map_tao_max_it 3 -n 4 -mcmc_chains 2 -mcmc_burn 3 -mcmc_thin 1 -o pmc.h5 > log 2>&1 || { echo "FAIL: infer -infer_type mcmc (laplace) under valgrind"; cat log; fail=1; }
vg "$BIN" guide -model mm.h5 -observable mean_logK -observable_region 0,0.5,0,0.5 -observable_shift 0.5 -guide_samples 4 -guide_tune_samples 2 -guide_tune_evals 4 -sampler_steps 2 -o gm.h5 > log 2>&1 || { echo "FAIL: guide under valgrind"; cat log; fail=1; }
vg "$BIN" sample -model gm.h5 -n 2 -o gs.h5 > log 2>&1 || { echo "FAIL: guided sample under valgrind"; cat log; fail=1; }
# conditional models (observation channels) and the latent predictor
MU="-net_type meshunet -mesh_levels 2 -mesh_width 4 -mesh_depth 1 -mesh_groups 2 -mesh_temb_dim 4"
vg "$BIN" train -data dd.h5 $MU -train_steps 2 -batch_size 2 -condition obs -cond_nobs 2,4 -o mc.h5 > log 2>&1 || { echo "FAIL: conditional train under valgrind"; cat log; fail=1; }
vg "$BIN" infer -model mc.h5 -obs ob.h5 -infer_type conditional -n 2 -sampler_steps 2 -o pc.h5 > log 2>&1 || { echo "FAIL: conditional infer under valgrind"; cat log; fail=1; }
vg "$BIN" infer -model mc.h5 -obs ob.h5 -infer_type conditional -n 2 -sampler_steps 2 -infer_gn_steps 1 -o pcg.h5 > log 2>&1 || { echo "FAIL: conditional infer -infer_gn_steps under valgrind"; cat log; fail=1; }
# Laplace samples at the refined estimate: states solved, and linearised (one factorisation, many right-hand sides)
vg "$BIN" infer -model mc.h5 -obs ob.h5 -infer_type conditional -n 3 -sampler_steps 1 -infer_gn_steps 1 -infer_gn_spread laplace -o pcl.h5 > log 2>&1 || { echo "FAIL: infer -infer_gn_spread laplace under valgrind"; cat log; fail=1; }
vg "$BIN" infer -model mc.h5 -obs ob.h5 -infer_type conditional -n 3 -sampler_steps 1 -infer_gn_steps 1 -infer_gn_spread laplace -infer_laplace_state linear -o pcll.h5 > log 2>&1 || { echo "FAIL: infer -infer_laplace_state linear under valgrind"; cat log; fail=1; }
"$BIN" train -data dd.h5 -fields p $MU -train_steps 2 -batch_size 2 -o mp.h5 > log 2>&1
vg "$BIN" latent -model mp.h5 -n 2 -sampler_steps 2 $MU -train_steps 2 -batch_size 2 -eval_data dd.h5 -eval_n 2 -o phi.h5 > log 2>&1 || { echo "FAIL: latent under valgrind"; cat log; fail=1; }
vg "$BIN" infer -model mp.h5 -latent phi.h5 -infer_type latent -obs ob.h5 -n 2 -sampler_steps 2 -o pl.h5 > log 2>&1 || { echo "FAIL: latent infer under valgrind"; cat log; fail=1; }
# pinned boundary values (Navier-Stokes on a coarse DFG mesh; the solver runs outside valgrind):
# training, sampling and endpoint fine-tuning with its probe, validation batch and gradient steps
if command -v gmsh > /dev/null; then
  gmsh -2 -format msh41 "$(dirname "$SUPP")/../examples/meshes/dfg_cylinder.geo" -clscale 4 -o c.msh > /dev/null 2>&1
  "$BIN" datagen -physics ns -mesh c.msh -Re_min 20 -Re_max 30 -n 3 -seed 1 -o dn.h5 > log 2>&1 || { echo "FAIL: ns datagen"; cat log; fail=1; }
  vg "$BIN" train -data dn.h5 $MU -train_steps 2 -batch_size 2 -condition Re -pin_constant -o mn.h5 > log 2>&1 || { echo "FAIL: pinned train under valgrind"; cat log; fail=1; }
  vg "$BIN" sample -model mn.h5 -n 2 -cond_value 25 -sampler_steps 2 -o sn.h5 > log 2>&1 || { echo "FAIL: pinned sample under valgrind"; cat log; fail=1; }
  vg "$BIN" finetune -model mn.h5 -constraint endpoint -cond_range 25,30 -train_steps 2 -endpoint_steps 2 -batch_size 2 -constraint_norm l2 -endpoint_update gd -lr 1e-4 -endpoint_probe 1e-6 -o fn.h5 > log 2>&1 || { echo "FAIL: pinned endpoint finetune under valgrind"; cat log; fail=1; }
else
  echo "FAIL: gmsh not found"; fail=1
fi
[ $fail = 0 ] && echo "valgrind: train, sample, datagen, eval (toy and Darcy/mesh network), observe, infer (guidance, map, mcmc with the Laplace proposal, conditional and its Gauss-Newton refinement, latent), latent, guide, pinned ns train/sample/endpoint finetune clean"
exit $fail
