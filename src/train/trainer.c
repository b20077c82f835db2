#include <unistd.h>
#include <math.h>
#include <physflow/h5util.h>
#include <physflow/log.h>
#include <physflow/private/netimpl.h>
#include <physflow/signals.h>
#include <physflow/trainer.h>
#include <physflow/constraint.h>

struct _p_PFTrainer {
  MPI_Comm    comm;
  PetscMPIInt rank, size;
  PFNet       net;
  PFFlow      flow;
  PFData      data;
  PetscInt    n;              /* values per sample */
  PetscInt    Bg, gidx0, nloc; /* global batch, this rank's rows */
  PetscInt    train_steps, step;
  /* optimisation */
  PFAdamWParams adam;
  double        lr, lr_min_factor, grad_clip, ema_decay;
  PetscInt      lr_warmup, lr_horizon;
  PFLRSchedule  lr_schedule;
  PetscInt     seed;
  /* output */
  char     output[PETSC_MAX_PATH_LEN];
  PetscInt checkpoint_every, monitor_every;
  /* buffers */
  pfreal *x1, *xt, *t, *target, *v, *dv, *loss_weight;
  pfreal *m, *vv, *ema, *reduce; /* reduce: gradient + [loss, stop flag] */
  double *history;
  PetscBool setupcalled;
  PetscBool have_checkpoint; /* a checkpoint of this run exists on disk */
  PetscInt  G, gid;           /* domain groups (G = 0: every rank is its own group) */
  pfreal   *user_weights;
  /* physics in training (-constraint pbfm): the residual loss's gradient is
   * formed apart from the flow-matching one and combined after the allreduce */
  PFConstraint constraint;
  pfreal      *gfm;
  double      *rhistory;
  /* a fixed (noise, sample) coupling (distillation, reflow) */
  PetscBool coupled;
  uint64_t  noise_seed;
  double    t_fixed;
  PetscInt *rows;
  /* the sampler the model is meant for, recorded in its file (/sampler) */
  char     sampler_type[16];
  PetscInt sampler_steps;
};

PetscErrorCode PFTrainerCreate(MPI_Comm comm, PFNet net, PFFlow flow, PFData data, PFTrainer *tr)
{
  PFTrainer t;

  PetscFunctionBegin;
  PetscCall(PetscNew(&t));
  t->comm = comm;
  PetscCallMPI(MPI_Comm_rank(comm, &t->rank));
  PetscCallMPI(MPI_Comm_size(comm, &t->size));
  t->net               = net;
  t->flow              = flow;
  t->data              = data;
  t->Bg                = 256;
  t->train_steps       = 1000;
  t->adam.beta1        = 0.9;
  t->adam.beta2        = 0.999;
  t->adam.eps          = 1e-8;
  t->adam.weight_decay = 0.0;
  t->lr                = 1e-3;
  t->lr_min_factor     = 0.0;
  t->lr_warmup         = 0;
  t->lr_horizon        = -1;
  t->lr_schedule       = PF_LR_COSINE;
  t->grad_clip         = 0.0;
  t->ema_decay         = 0.999;
  t->seed              = 0;
  t->checkpoint_every  = 0;
  t->monitor_every     = -1;
  PetscCall(PetscStrncpy(t->output, "model.h5", sizeof(t->output)));
  *tr = t;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFTrainerSetData(PFTrainer tr, PFData data)
{
  PetscFunctionBegin;
  PetscCheck(!tr->setupcalled, tr->comm, PETSC_ERR_ORDER, "set the data before PFTrainerSetUp");
  tr->data = data;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFTrainerSetDomain(PFTrainer tr, PetscInt G, PetscInt gid, const pfreal weights[])
{
  PetscInt n;

  PetscFunctionBegin;
  PetscCheck(!tr->setupcalled, tr->comm, PETSC_ERR_ORDER, "set the domain before PFTrainerSetUp");
  PetscCheck(G >= 1 && gid >= 0 && gid < G, tr->comm, PETSC_ERR_ARG_OUTOFRANGE, "invalid group %" PetscInt_FMT " of %" PetscInt_FMT, gid, G);
  PetscCall(PFNetGetInputSize(tr->net, &n));
  tr->G   = G;
  tr->gid = gid;
  PetscCall(PetscFree(tr->user_weights));
  PetscCall(PetscMalloc1(n + 1, &tr->user_weights));
  PetscCall(PetscArraycpy(tr->user_weights, weights, n));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFTrainerGetSeed(PFTrainer tr, uint64_t *seed)
{
  PetscFunctionBegin;
  *seed = (uint64_t)tr->seed;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFTrainerSetFromOptions(PFTrainer tr)
{
  PetscFunctionBegin;
  PetscOptionsBegin(tr->comm, NULL, "Training options", "PFTrainer");
  PetscCall(PetscOptionsInt("-train_steps", "Total optimisation steps (a resumed run continues up to this)", "PFTrainer", tr->train_steps, &tr->train_steps, NULL));
  PetscCall(PetscOptionsInt("-batch_size", "Global batch size (split over ranks)", "PFTrainer", tr->Bg, &tr->Bg, NULL));
  PetscCall(PetscOptionsReal("-lr", "Peak learning rate", "PFTrainer", tr->lr, &tr->lr, NULL));
  PetscCall(PetscOptionsEnum("-lr_schedule", "Learning-rate schedule after warm-up", "PFTrainer", PFLRSchedules, (PetscEnum)tr->lr_schedule, (PetscEnum *)&tr->lr_schedule, NULL));
  PetscCall(PetscOptionsInt("-lr_warmup", "Linear warm-up steps", "PFTrainer", tr->lr_warmup, &tr->lr_warmup, NULL));
  PetscCall(PetscOptionsInt("-lr_schedule_steps", "Step at which the cosine reaches its minimum (default: -train_steps)", "PFTrainer", tr->lr_horizon, &tr->lr_horizon, NULL));
  PetscCall(PetscOptionsReal("-lr_min_factor", "Final learning rate as a fraction of -lr", "PFTrainer", tr->lr_min_factor, &tr->lr_min_factor, NULL));
  PetscCall(PetscOptionsReal("-weight_decay", "AdamW decoupled weight decay", "PFTrainer", tr->adam.weight_decay, &tr->adam.weight_decay, NULL));
  PetscCall(PetscOptionsReal("-adam_beta1", "AdamW beta1", "PFTrainer", tr->adam.beta1, &tr->adam.beta1, NULL));
  PetscCall(PetscOptionsReal("-adam_beta2", "AdamW beta2", "PFTrainer", tr->adam.beta2, &tr->adam.beta2, NULL));
  PetscCall(PetscOptionsReal("-adam_eps", "AdamW epsilon", "PFTrainer", tr->adam.eps, &tr->adam.eps, NULL));
  PetscCall(PetscOptionsReal("-grad_clip", "Clip the global gradient norm to this (0: off)", "PFTrainer", tr->grad_clip, &tr->grad_clip, NULL));
  PetscCall(PetscOptionsReal("-ema_decay", "Decay of the exponential moving average of the weights", "PFTrainer", tr->ema_decay, &tr->ema_decay, NULL));
  PetscCall(PetscOptionsInt("-seed", "Seed of all randomness (weights, noise, times, shuffling)", "PFTrainer", tr->seed, &tr->seed, NULL));
  PetscCall(PetscOptionsString("-o", "Output model/checkpoint file", "PFTrainer", tr->output, tr->output, sizeof(tr->output), NULL));
  PetscCall(PetscOptionsInt("-checkpoint_every", "Rewrite the checkpoint every K steps (0: only at the end)", "PFTrainer", tr->checkpoint_every, &tr->checkpoint_every, NULL));
  PetscCall(PetscOptionsInt("-monitor_every", "Print progress every K steps (default: 20 lines per run)", "PFTrainer", tr->monitor_every, &tr->monitor_every, NULL));
  PetscOptionsEnd();
  PetscCheck(tr->train_steps >= 0, tr->comm, PETSC_ERR_ARG_OUTOFRANGE, "-train_steps must be >= 0, got %" PetscInt_FMT, tr->train_steps);

  PetscCheck(tr->lr > 0 && isfinite(tr->lr), tr->comm, PETSC_ERR_ARG_OUTOFRANGE, "-lr must be positive, got %g", tr->lr);
  PetscCheck(tr->adam.beta1 >= 0 && tr->adam.beta1 < 1 && tr->adam.beta2 >= 0 && tr->adam.beta2 < 1, tr->comm, PETSC_ERR_ARG_OUTOFRANGE, "-adam_beta1/-adam_beta2 must be in [0,1)");
  PetscCheck(tr->ema_decay >= 0 && tr->ema_decay < 1, tr->comm, PETSC_ERR_ARG_OUTOFRANGE, "-ema_decay must be in [0,1), got %g", tr->ema_decay);
  PetscCheck(tr->grad_clip >= 0, tr->comm, PETSC_ERR_ARG_OUTOFRANGE, "-grad_clip must be >= 0");
  PetscCheck(tr->checkpoint_every >= 0, tr->comm, PETSC_ERR_ARG_OUTOFRANGE, "-checkpoint_every must be >= 0");
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFTrainerSetUp(PFTrainer tr)
{
  size_t np;

  PetscFunctionBegin;
  if (tr->setupcalled) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCheck(tr->data, tr->comm, PETSC_ERR_ORDER, "PFTrainerSetData must be called before PFTrainerSetUp");
  if (tr->lr_horizon < 0) tr->lr_horizon = tr->train_steps;
  if (tr->monitor_every < 0) tr->monitor_every = PetscMax(1, tr->train_steps / 20);
  PetscCall(PFDataGetSampleSize(tr->data, &tr->n));
  if (!tr->G) PetscCall(PFNetSetInputSize(tr->net, tr->n));
  PetscCall(PFNetSetUp(tr->net));
  PetscCall(PFNetInitializeWeights(tr->net, (uint64_t)tr->seed));
  {
    /* contiguous, balanced split of the global batch over the groups (or
     * the ranks): group g owns rows [g Bg / G, (g+1) Bg / G) */
    PetscInt G = tr->G ? tr->G : tr->size, g = tr->G ? tr->gid : tr->rank;
    PetscCheck(tr->Bg >= G, tr->comm, PETSC_ERR_ARG_OUTOFRANGE, "-batch_size %" PetscInt_FMT " must be at least the number of %s (%" PetscInt_FMT ")", tr->Bg, tr->G ? "rank groups" : "ranks", G);
    tr->gidx0 = (PetscInt)(((PetscInt64)g * tr->Bg) / G);
    tr->nloc  = (PetscInt)(((PetscInt64)(g + 1) * tr->Bg) / G) - tr->gidx0;
  }
  PetscCall(PFNetPlan(tr->net, PetscMax(tr->nloc, 1)));
  np = tr->net->nparams;
  PetscCall(PetscMalloc6(tr->nloc * tr->n, &tr->x1, tr->nloc * tr->n, &tr->xt, tr->nloc, &tr->t, tr->nloc * tr->n, &tr->target, tr->nloc * tr->n, &tr->v, tr->nloc * tr->n, &tr->dv));
  PetscCall(PetscMalloc1(tr->n, &tr->loss_weight));
  PetscCall(PetscMalloc1(tr->nloc + 1, &tr->rows));
  /* the loss is the mean over the components of a sample; mesh problems
   * replace these weights by the lumped vertex masses */
  for (PetscInt i = 0; i < tr->n; i++) tr->loss_weight[i] = tr->user_weights ? tr->user_weights[i] : (pfreal)(1.0 / (double)tr->n);
  PetscCall(PetscCalloc1(np, &tr->m));
  PetscCall(PetscCalloc1(np, &tr->vv));
  PetscCall(PetscMalloc1(np, &tr->ema));
  /* gradient + [loss, stop]; with a constraint both gradients + [2 losses, stop] */
  PetscCall(PetscMalloc1(tr->constraint ? 2 * np + 3 : np + 2, &tr->reduce));
  if (tr->constraint) {
    PetscCall(PetscMalloc1(np + 1, &tr->gfm));
    PetscCall(PetscCalloc1(tr->train_steps + 1, &tr->rhistory));
  }
  PetscCall(PetscArraycpy(tr->ema, tr->net->params, np));
  PetscCall(PetscCalloc1(tr->train_steps + 1, &tr->history));
  tr->step        = 0;
  tr->setupcalled = PETSC_TRUE;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* One optimisation step; returns the global mean loss and whether any rank
 * received a stop signal (both travel in the gradient allreduce). */
/* the learning rate of 0-based step s (after PFTrainerSetUp resolved the horizon) */
static double ScheduledLR(PFTrainer tr, PetscInt s)
{
  return PFLearningRate(tr->lr_schedule, tr->lr, tr->lr_min_factor, tr->lr_warmup, tr->lr_horizon, s);
}

static PetscErrorCode TrainStep(PFTrainer tr, double *loss, PetscBool *stop, double *gnorm)
{
  const PetscInt n  = tr->n;
  const size_t   np = tr->net->nparams;
  double         local = 0;
  pfreal        *params, *grads;

  PetscFunctionBegin;
  PetscCall(PFNetGetParameters(tr->net, NULL, &params, &grads));
  PetscCall(PFNetZeroGradient(tr->net));
  PetscCall(PFDataGetBatch(tr->data, tr->step, tr->Bg, tr->gidx0, tr->nloc, tr->x1));
  if (tr->coupled) {
    PetscCall(PFDataGetBatchIndices(tr->data, tr->step, tr->Bg, tr->gidx0, tr->nloc, tr->rows));
    PetscCall(PFFlowCoupledPairs(tr->flow, (uint64_t)tr->seed, tr->step, tr->gidx0, tr->nloc, n, tr->noise_seed, tr->rows, tr->x1, tr->t_fixed, tr->xt, tr->t, tr->target));
  } else PetscCall(PFFlowTrainingPairs(tr->flow, (uint64_t)tr->seed, tr->step, tr->Bg, tr->gidx0, tr->nloc, n, tr->x1, tr->xt, tr->t, tr->target));
  if (tr->nloc > 0) {
    PetscCall(PFNetForward(tr->net, tr->nloc, tr->xt, tr->t, tr->v));
    /* L = (1/Bg) sum_j sum_c w_c (v - u)^2 ;  dL/dv = (2/Bg) w_c (v - u) */
    const pfreal scale = (pfreal)(2.0 / (double)tr->Bg);
    for (PetscInt j = 0; j < tr->nloc; j++)
      for (PetscInt c = 0; c < n; c++) {
        pfreal e = tr->v[j * n + c] - tr->target[j * n + c];
        local += (double)(tr->loss_weight[c] * e * e);
        tr->dv[j * n + c] = scale * tr->loss_weight[c] * e;
      }
    PetscCall(PFNetBackward(tr->net, tr->nloc, tr->dv, NULL));
  }
  if (tr->constraint) {
    /* the residual loss of the same training states, its gradient apart:
     * one allreduce carries [g_fm, g_residual, losses, stop flag] */
    double   rlocal = 0;
    PetscInt nun    = PFConstraintUnrollSteps(tr->constraint, tr->step, tr->train_steps);
    PetscInt nres = 0, kres = 0;
    PetscCall(PetscArraycpy(tr->gfm, grads, np));
    PetscCall(PFNetZeroGradient(tr->net));
    /* -pbfm_batch: this rank's rows of the residual loss, packed to the
     * front (x_t, t and v are not needed after this) */
    for (PetscInt j = 0; j < tr->Bg; j++) {
      if (!PFConstraintResidualRow(tr->constraint, j, tr->Bg)) continue;
      kres++;
      if (j < tr->gidx0 || j >= tr->gidx0 + tr->nloc) continue;
      if (j - tr->gidx0 != nres) {
        PetscCall(PetscArraycpy(tr->xt + (size_t)nres * n, tr->xt + (size_t)(j - tr->gidx0) * n, n));
        PetscCall(PetscArraycpy(tr->v + (size_t)nres * n, tr->v + (size_t)(j - tr->gidx0) * n, n));
        tr->t[nres] = tr->t[j - tr->gidx0];
      }
      nres++;
    }
    if (nres > 0) PetscCall(PFConstraintResidualGradient(tr->constraint, tr->net, nres, kres, tr->xt, tr->t, tr->v, nun, &rlocal, NULL));
    PetscCall(PetscArraycpy(tr->reduce, tr->gfm, np));
    PetscCall(PetscArraycpy(tr->reduce + np, grads, np));
    tr->reduce[2 * np]     = (pfreal)(local / (double)tr->Bg);
    tr->reduce[2 * np + 1] = (pfreal)(rlocal / (double)kres);
    tr->reduce[2 * np + 2] = (pfreal)(PFSignalsReceived() ? 1 : 0);
    PetscCall(PetscLogEventBegin(PF_EVENT_Allreduce, 0, 0, 0, 0));
    PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, tr->reduce, (int)(2 * np + 3), MPIU_PFREAL, MPI_SUM, tr->comm));
    PetscCall(PetscLogEventEnd(PF_EVENT_Allreduce, 0, 0, 0, 0));
    {
      PFConstraintCombine how;
      double              w;
      PetscCall(PFConstraintGetCombine(tr->constraint, &how, &w));
      if (how == PF_COMBINE_CONFIG) PetscCall(PFConFIGCombine(MPI_COMM_SELF, np, tr->reduce, tr->reduce + np, grads));
      else
        for (size_t i = 0; i < np; i++) grads[i] = tr->reduce[i] + (pfreal)w * tr->reduce[np + i];
    }
    *loss                  = (double)tr->reduce[2 * np];
    tr->rhistory[tr->step] = (double)tr->reduce[2 * np + 1];
    *stop                  = tr->reduce[2 * np + 2] > 0 ? PETSC_TRUE : PETSC_FALSE;
  } else {
    PetscCall(PetscArraycpy(tr->reduce, grads, np));
    tr->reduce[np]     = (pfreal)(local / (double)tr->Bg);
    tr->reduce[np + 1] = (pfreal)(PFSignalsReceived() ? 1 : 0);
    PetscCall(PetscLogEventBegin(PF_EVENT_Allreduce, 0, 0, 0, 0));
    PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, tr->reduce, (int)(np + 2), MPIU_PFREAL, MPI_SUM, tr->comm));
    PetscCall(PetscLogEventEnd(PF_EVENT_Allreduce, 0, 0, 0, 0));
    PetscCall(PetscArraycpy(grads, tr->reduce, np));
    *loss = (double)tr->reduce[np];
    *stop = tr->reduce[np + 1] > 0 ? PETSC_TRUE : PETSC_FALSE;
  }
  *gnorm = PFGlobalNorm(np, grads);
  PetscCheck(isfinite(*loss) && isfinite(*gnorm), tr->comm, PETSC_ERR_FP, "training diverged at step %" PetscInt_FMT " (loss %g, gradient norm %g): lower -lr or set -grad_clip%s%s%s", tr->step + 1, *loss, *gnorm, tr->have_checkpoint ? " (the last checkpoint, '" : " (no checkpoint was written)", tr->have_checkpoint ? tr->output : "", tr->have_checkpoint ? "', is intact)" : "");
  PetscCall(PetscLogEventBegin(PF_EVENT_Optimizer, 0, 0, 0, 0));
  if (tr->grad_clip > 0 && *gnorm > tr->grad_clip) {
    pfreal c = (pfreal)(tr->grad_clip / *gnorm);
    for (size_t i = 0; i < np; i++) grads[i] *= c;
  }
  double lr = ScheduledLR(tr, tr->step);
  PFAdamWStep(np, &tr->adam, lr, tr->step + 1, params, grads, tr->m, tr->vv);
  PFEMAUpdate(np, tr->ema_decay, tr->step, params, tr->ema);
  PetscCall(PetscLogEventEnd(PF_EVENT_Optimizer, 0, 0, 0, 0));
  tr->history[tr->step] = *loss;
  tr->step++;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFTrainerTrain(PFTrainer tr, PetscBool *interrupted)
{
  PetscLogDouble t0, tnow, tlast;
  PetscInt       first = tr->step;
  double         flops;

  PetscFunctionBegin;
  PetscCall(PFTrainerSetUp(tr));
  PetscCall(PFCheckWritable(tr->comm, tr->output));
  PetscCall(PFSignalsInstall());
  *interrupted = PETSC_FALSE;
  PetscCall(PFNetGetFlops(tr->net, &flops));
  PetscCall(PetscTime(&t0));
  tlast = t0;
  PetscCall(PetscPrintf(tr->comm, "physflow train: steps %" PetscInt_FMT "..%" PetscInt_FMT ", global batch %" PetscInt_FMT " on %d rank(s), %zu parameters\n", tr->step + 1, tr->train_steps, tr->Bg, tr->size, tr->net->nparams));
  while (tr->step < tr->train_steps) {
    double    loss, gnorm;
    PetscBool stop;
    PetscCall(TrainStep(tr, &loss, &stop, &gnorm));
    PetscCall(PetscTime(&tnow));
    if (tr->step % tr->monitor_every == 0 || tr->step == tr->train_steps) {
      double rate = (double)(tr->step - first) * (double)tr->Bg / (tnow - t0);
      double eta  = (double)(tr->train_steps - tr->step) * (double)tr->Bg / rate;
      char res[64] = "";
      if (tr->constraint) PetscCall(PetscSNPrintf(res, sizeof(res), "  residual %.4f (unroll %" PetscInt_FMT ")", tr->rhistory[tr->step - 1], PFConstraintUnrollSteps(tr->constraint, tr->step - 1, tr->train_steps)));
      PetscCall(PetscPrintf(tr->comm, "  step %6" PetscInt_FMT "/%" PetscInt_FMT "  loss %.5f%s  lr %.2e  |g| %.3e  %.0f samples/s  ETA %.0fs\n", tr->step, tr->train_steps, loss, res, ScheduledLR(tr, tr->step - 1), gnorm, rate, eta));
      tlast = tnow;
    }
    if (stop) {
      PetscCall(PetscPrintf(tr->comm, "physflow train: signal received at step %" PetscInt_FMT "; writing checkpoint '%s' and stopping (continue with -resume %s)\n", tr->step, tr->output, tr->output));
      PetscCall(PFTrainerSaveCheckpoint(tr, tr->output));
      *interrupted = PETSC_TRUE;
      PetscFunctionReturn(PETSC_SUCCESS);
    }
    if (tr->checkpoint_every > 0 && tr->step % tr->checkpoint_every == 0 && tr->step < tr->train_steps) PetscCall(PFTrainerSaveCheckpoint(tr, tr->output));
  }
  (void)tlast;
  PetscCall(PetscTime(&tnow));
  if (tr->step > first) {
    double sps = (double)(tr->step - first) * (double)tr->Bg / (tnow - t0);
    PetscCall(PetscPrintf(tr->comm, "physflow train: %" PetscInt_FMT " steps in %.3f s: %.1f samples/s, %.2f GFLOP/s (network GEMMs, fwd+bwd)\n", tr->step - first, tnow - t0, sps, 3.0 * flops * sps * 1e-9));
  }
  PetscCall(PFTrainerSaveCheckpoint(tr, tr->output));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode WriteCheckpoint(PFTrainer tr, const char path[])
{
  PFH5Temp  t;
  hsize_t   dn[1] = {tr->net->nparams}, dh[1] = {(hsize_t)tr->step}, d1[1] = {1}, d2[1] = {2};
  long long step  = tr->step;
  uint64_t  rng[2] = {(uint64_t)tr->seed, (uint64_t)tr->step};
  hid_t     g;

  PetscFunctionBegin;
  PetscCall(PFH5CreateTemp(path, &t));
  PetscCall(PFH5WriteStandardAttrs(t.fid, "model"));
  PetscCall(PFNetWriteH5(tr->net, t.fid));
  PetscCall(PFFlowWriteH5(tr->flow, t.fid));
  PetscCall(PFDataWriteH5(tr->data, t.fid));
  PetscCall(PFH5WriteArray(t.fid, "ema", H5T_NATIVE_PFREAL, H5T_IEEE_F32LE, 1, dn, tr->ema));
  PetscCall(PFH5WriteArray(t.fid, "adam/m", H5T_NATIVE_PFREAL, H5T_IEEE_F32LE, 1, dn, tr->m));
  PetscCall(PFH5WriteArray(t.fid, "adam/v", H5T_NATIVE_PFREAL, H5T_IEEE_F32LE, 1, dn, tr->vv));
  PetscCall(PFH5WriteArray(t.fid, "step", H5T_NATIVE_LLONG, H5T_STD_I64LE, 1, d1, &step));
  /* counter-based RNG: the whole state is (seed, next counter) */
  PetscCall(PFH5WriteArray(t.fid, "rng", H5T_NATIVE_UINT64, H5T_STD_U64LE, 1, d2, rng));
  PetscCall(PFH5WriteArray(t.fid, "history/loss", H5T_NATIVE_DOUBLE, H5T_IEEE_F64LE, 1, dh, tr->history));
  if (tr->constraint) PetscCall(PFH5WriteArray(t.fid, "history/residual", H5T_NATIVE_DOUBLE, H5T_IEEE_F64LE, 1, dh, tr->rhistory));
  g = H5Gcreate2(t.fid, "train", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  PetscCall(PFH5WriteAttrInt(g, "batch_size", tr->Bg));
  PetscCall(PFH5WriteAttrInt(g, "train_steps", tr->train_steps));
  PetscCall(PFH5WriteAttrReal(g, "lr", tr->lr));
  PetscCall(PFH5WriteAttrInt(g, "ranks", tr->size));
  {
    PFConstraintType ct;
    PetscCall(PFConstraintGetType(tr->constraint, &ct));
    PetscCall(PFH5WriteAttrString(g, "constraint", PFConstraintTypes[ct]));
  }
  if (tr->coupled) {
    PetscCall(PFH5WriteAttrInt(g, "coupling_noise_seed", (PetscInt)tr->noise_seed));
    PetscCall(PFH5WriteAttrReal(g, "coupling_time", tr->t_fixed));
  }
  H5Gclose(g);
  if (tr->sampler_steps > 0) {
    g = H5Gcreate2(t.fid, "sampler", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    PetscCall(PFH5WriteAttrString(g, "type", tr->sampler_type));
    PetscCall(PFH5WriteAttrInt(g, "steps", tr->sampler_steps));
    H5Gclose(g);
  }
  PetscCall(PFH5CommitTemp(&t));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFTrainerSaveCheckpoint(PFTrainer tr, const char path[])
{
  PetscErrorCode ierr = PETSC_SUCCESS;

  PetscFunctionBegin;
  PetscCall(PetscLogEventBegin(PF_EVENT_IO, 0, 0, 0, 0));
  /* parameters are identical on every rank, so rank 0 writes; the outcome
   * is broadcast so a failed write stops all ranks together */
  if (tr->rank == 0) {
    ierr = WriteCheckpoint(tr, path);
    if (ierr) {
      PFH5Temp t;
      PetscCall(PetscSNPrintf(t.tmp, sizeof(t.tmp), "%s.tmp.%d", path, (int)getpid()));
      t.fid = -1;
      PetscCall(PFH5AbortTemp(&t));
    }
  }
  PetscCallMPI(MPI_Bcast(&ierr, 1, MPI_INT, 0, tr->comm));
  PetscCheck(!ierr, tr->comm, PETSC_ERR_FILE_WRITE, "could not write checkpoint '%s'", path);
  tr->have_checkpoint = PETSC_TRUE;
  PetscCall(PetscLogEventEnd(PF_EVENT_IO, 0, 0, 0, 0));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFTrainerLoadCheckpoint(PFTrainer tr, const char path[])
{
  hid_t     fid;
  long long step;
  size_t    np;

  PetscFunctionBegin;
  PetscCall(PFTrainerSetUp(tr));
  PetscCall(PetscLogEventBegin(PF_EVENT_IO, 0, 0, 0, 0));
  PetscCall(PFH5OpenRead(path, &fid));
  PetscCall(PFH5CheckKind(fid, path, "model"));
  /* the checkpoint must describe the same network as the options (same
   * type and parameter count; mesh networks cannot be rebuilt from the file
   * alone, so the options' network is compared instead) */
  np = tr->net->nparams;
  {
    char      type[64];
    PetscInt  nparams;
    PetscBool same;
    hid_t     g;
    PetscCheck(H5Lexists(fid, "arch", H5P_DEFAULT) > 0, tr->comm, PETSC_ERR_FILE_UNEXPECTED, "'%s' holds no network (group /arch missing)", path);
    g = H5Gopen2(fid, "arch", H5P_DEFAULT);
    PetscCall(PFH5ReadAttrString(g, "net_type", type, sizeof(type)));
    PetscCall(PFH5ReadAttrInt(g, "nparams", &nparams));
    H5Gclose(g);
    PetscCall(PetscStrcmp(type, tr->net->type, &same));
    PetscCheck(same && (size_t)nparams == np, tr->comm, PETSC_ERR_ARG_INCOMP, "'%s' holds a %s network with %" PetscInt_FMT " parameters, but the options give a %s network with %zu: resume with the same architecture options", path, type, nparams, tr->net->type, np);
  }
  PetscCall(PFH5ReadArray(fid, path, "params", H5T_NATIVE_PFREAL, np, tr->net->params));
  PetscCall(PFH5ReadArray(fid, path, "ema", H5T_NATIVE_PFREAL, np, tr->ema));
  PetscCall(PFH5ReadArray(fid, path, "adam/m", H5T_NATIVE_PFREAL, np, tr->m));
  PetscCall(PFH5ReadArray(fid, path, "adam/v", H5T_NATIVE_PFREAL, np, tr->vv));
  PetscCall(PFH5ReadArray(fid, path, "step", H5T_NATIVE_LLONG, 1, &step));
  PetscCheck(step >= 0, tr->comm, PETSC_ERR_FILE_UNEXPECTED, "'%s': invalid step %lld", path, step);
  PetscCheck(step <= tr->train_steps, tr->comm, PETSC_ERR_ARG_OUTOFRANGE, "'%s' is already at step %lld, beyond -train_steps %" PetscInt_FMT, path, step, tr->train_steps);
  PetscCall(PFH5ReadArray(fid, path, "history/loss", H5T_NATIVE_DOUBLE, (size_t)step, tr->history));
  if (tr->constraint) {
    PetscCheck(H5Lexists(fid, "history/residual", H5P_DEFAULT) > 0, tr->comm, PETSC_ERR_ARG_INCOMP, "'%s' was trained without -constraint: resume with the same options", path);
    PetscCall(PFH5ReadArray(fid, path, "history/residual", H5T_NATIVE_DOUBLE, (size_t)step, tr->rhistory));
  }
  PetscCall(PFH5Close(&fid));
  tr->step            = (PetscInt)step;
  tr->have_checkpoint = PETSC_TRUE;
  PetscCall(PetscLogEventEnd(PF_EVENT_IO, 0, 0, 0, 0));
  PetscCall(PetscPrintf(tr->comm, "physflow train: resumed from '%s' at step %" PetscInt_FMT "\n", path, tr->step));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFTrainerInitFromModel(PFTrainer tr, const char path[], PetscBool use_ema)
{
  hid_t  fid;
  size_t np;

  PetscFunctionBegin;
  PetscCall(PFTrainerSetUp(tr));
  np = tr->net->nparams;
  PetscCall(PFH5OpenRead(path, &fid));
  PetscCall(PFH5CheckKind(fid, path, "model"));
  PetscCall(PFH5ReadArray(fid, path, use_ema ? "ema" : "params", H5T_NATIVE_PFREAL, np, tr->net->params));
  PetscCall(PFH5Close(&fid));
  for (size_t i = 0; i < np; i++) PetscCheck(isfinite((double)tr->net->params[i]), tr->comm, PETSC_ERR_FP, "'%s': parameter %zu is not finite", path, i);
  PetscCall(PetscArraycpy(tr->ema, tr->net->params, np));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFTrainerSyncEMA(PFTrainer tr)
{
  PetscFunctionBegin;
  PetscCall(PetscArraycpy(tr->ema, tr->net->params, tr->net->nparams));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFTrainerSetConstraint(PFTrainer tr, PFConstraint c)
{
  PFConstraintType type;

  PetscFunctionBegin;
  PetscCheck(!tr->setupcalled, tr->comm, PETSC_ERR_ORDER, "PFTrainerSetConstraint must come before PFTrainerSetUp");
  PetscCall(PFConstraintGetType(c, &type));
  tr->constraint = type == PF_CONSTRAINT_NONE ? NULL : c;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFTrainerSetCoupling(PFTrainer tr, uint64_t noise_seed, double t_fixed)
{
  PetscFunctionBegin;
  tr->coupled    = PETSC_TRUE;
  tr->noise_seed = noise_seed;
  tr->t_fixed    = t_fixed;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFTrainerSetSampler(PFTrainer tr, const char type[], PetscInt steps)
{
  PetscFunctionBegin;
  PetscCall(PetscStrncpy(tr->sampler_type, type, sizeof(tr->sampler_type)));
  tr->sampler_steps = steps;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFTrainerGetLoopState(PFTrainer tr, PetscInt *train_steps, PetscInt *step, PFAdamWParams *adam, pfreal **m, pfreal **v, double **history)
{
  PetscFunctionBegin;
  PetscCheck(tr->setupcalled, tr->comm, PETSC_ERR_ORDER, "PFTrainerSetUp must come first");
  *train_steps = tr->train_steps;
  *step        = tr->step;
  *adam        = tr->adam;
  *m           = tr->m;
  *v           = tr->vv;
  *history     = tr->history;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFTrainerGetLearningRate(PFTrainer tr, PetscInt s, double *lr)
{
  PetscFunctionBegin;
  PetscCheck(tr->setupcalled, tr->comm, PETSC_ERR_ORDER, "PFTrainerSetUp must come first");
  *lr = ScheduledLR(tr, s);
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFTrainerSetStep(PFTrainer tr, PetscInt step)
{
  PetscFunctionBegin;
  PetscCheck(step >= 0 && step <= tr->train_steps, tr->comm, PETSC_ERR_ARG_OUTOFRANGE, "step %" PetscInt_FMT " outside [0, %" PetscInt_FMT "]", step, tr->train_steps);
  tr->step = step;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFTrainerGetStep(PFTrainer tr, PetscInt *step)
{
  PetscFunctionBegin;
  *step = tr->step;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFTrainerGetHistory(PFTrainer tr, PetscInt *n, const double **loss)
{
  PetscFunctionBegin;
  *n    = tr->step;
  *loss = tr->history;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFTrainerView(PFTrainer tr, PetscViewer viewer)
{
  PetscFunctionBegin;
  if (!viewer) PetscCall(PetscViewerASCIIGetStdout(tr->comm, &viewer));
  PetscCall(PetscViewerASCIIPrintf(viewer, "PFTrainer: %" PetscInt_FMT " steps, global batch %" PetscInt_FMT " over %d rank(s), AdamW lr %g (%s, warm-up %" PetscInt_FMT "), weight decay %g, EMA %g, clip %g, seed %" PetscInt_FMT "\n", tr->train_steps, tr->Bg, tr->size, tr->lr, PFLRSchedules[tr->lr_schedule], tr->lr_warmup, tr->adam.weight_decay, tr->ema_decay, tr->grad_clip, tr->seed));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFTrainerDestroy(PFTrainer *tr)
{
  PetscFunctionBegin;
  if (!*tr) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCall(PetscFree6((*tr)->x1, (*tr)->xt, (*tr)->t, (*tr)->target, (*tr)->v, (*tr)->dv));
  PetscCall(PetscFree((*tr)->loss_weight));
  PetscCall(PetscFree((*tr)->user_weights));
  PetscCall(PetscFree((*tr)->rows));
  PetscCall(PetscFree((*tr)->m));
  PetscCall(PetscFree((*tr)->vv));
  PetscCall(PetscFree((*tr)->ema));
  PetscCall(PetscFree((*tr)->reduce));
  PetscCall(PetscFree((*tr)->gfm));
  PetscCall(PetscFree((*tr)->rhistory));
  PetscCall(PetscFree((*tr)->history));
  PetscCall(PetscFree(*tr));
  PetscFunctionReturn(PETSC_SUCCESS);
}
