/* Endpoint fine-tuning (see include/physflow/constraint.h): the residual of
 * the fine-tuned model's own Heun or Euler samples, differentiated through
 * the sampler, with the input fields anchored to the base model's sample for
 * the same noise. */
#include <string.h>
#include <physflow/constraint.h>
#include <physflow/optim.h>
#include <physflow/private/netimpl.h>
#include <physflow/rng.h>
#include <physflow/signals.h>
#include <physflow/trainer.h>
#include <math.h>

typedef struct {
  PetscInt B, n, K;
  PetscBool heun;
  PetscBool keep;          /* each network evaluation of a kept forward has an activation set of its own */
  pfreal  *X, *Y;          /* states x_k [K+1][B n], Heun predictors y_k [K][B n] */
  pfreal  *v, *dv, *g, *gy, *dx, *tb;
  const PetscBool *held;   /* [n] given components: no velocity (NULL: none) */
} SamplerWork;

/* zero the held components of B states (velocities, or their cotangents:
 * a held component does not move, so nothing flows back through its velocity) */
static void ZeroHeld(const SamplerWork *w, pfreal *v) { PFHeldZero(w->held, w->B, w->n, v); }

/* network evaluations of one pass of the sampler: 2 per Heun step, 1 per Euler step */
static PetscInt NumEvals(const SamplerWork *w) { return w->heun ? 2 * w->K : w->K; }

static PetscErrorCode SamplerWorkCreate(PFConstraint c, PetscInt B, PetscInt n, const PFEndpointParams *p, SamplerWork *w)
{
  const size_t N = (size_t)B * n;

  PetscFunctionBegin;
  PetscCall(PFConstraintGetHeld(c, &w->held, NULL, NULL));
  w->B    = B;
  w->n    = n;
  w->K    = p->steps;
  w->heun = p->heun;
  w->keep = (PetscBool)(p->keep && NumEvals(w) <= PF_NET_MAXSETS);
  PetscCall(PetscMalloc6((size_t)(w->K + 1) * N, &w->X, (size_t)w->K * N, &w->Y, N, &w->v, N, &w->dv, N, &w->g, N, &w->gy));
  PetscCall(PetscMalloc2(N, &w->dx, B, &w->tb));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode SamplerWorkDestroy(SamplerWork *w)
{
  PetscFunctionBegin;
  PetscCall(PetscFree6(w->X, w->Y, w->v, w->dv, w->g, w->gy));
  PetscCall(PetscFree2(w->dx, w->tb));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* with activations kept, the sampler's network evaluations run in
 * activation sets of their own, numbered in order: step k's evaluation at
 * x_k (e = 0) and, for Heun, at y_k (e = 1) is set 2k + e (Euler: k).  Set
 * 0 is the planned workspace, which every other forward uses. */
static PetscErrorCode UseSet(const SamplerWork *w, PFNet net, PetscBool keep, PetscInt k, PetscInt e)
{
  PetscFunctionBegin;
  if (keep) PetscCall(PFNetSelectActivations(net, w->heun ? 2 * k + e : k, w->B));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static void SetTime(SamplerWork *w, double t)
{
  for (PetscInt b = 0; b < w->B; b++) w->tb[b] = (pfreal)t;
}

/* The sampler from t = 0 to 1 in K steps, keeping its states:
 *   Euler  x_{k+1} = x_k + h v(x_k, t_k)
 *   Heun   y_k = x_k + h v(x_k, t_k),  x_{k+1} = x_k + h/2 (v(x_k, t_k) + v(y_k, t_k + h))
 * (physflow sample's euler and heun).  keep (a backward follows; w->keep
 * on): each evaluation's activations stay in a set of their own. */
static PetscErrorCode SamplerForward(SamplerWork *w, PFNet net, const pfreal *x0, PetscBool keep)
{
  const size_t N = (size_t)w->B * w->n;
  const double h = 1.0 / (double)w->K;

  PetscFunctionBegin;
  keep = (PetscBool)(keep && w->keep);
  PetscCall(PetscArraycpy(w->X, x0, N));
  for (PetscInt k = 0; k < w->K; k++) {
    pfreal *x = w->X + (size_t)k * N, *xn = x + N, *y = w->Y + (size_t)k * N;
    SetTime(w, k * h);
    PetscCall(UseSet(w, net, keep, k, 0));
    PetscCall(PFNetForward(net, w->B, x, w->tb, w->v));
    ZeroHeld(w, w->v);
    if (!w->heun) {
      for (size_t q = 0; q < N; q++) xn[q] = x[q] + (pfreal)h * w->v[q];
      continue;
    }
    for (size_t q = 0; q < N; q++) {
      y[q]  = x[q] + (pfreal)h * w->v[q];
      xn[q] = x[q] + (pfreal)(h / 2) * w->v[q];
    }
    SetTime(w, (k + 1) * h);
    PetscCall(UseSet(w, net, keep, k, 1));
    PetscCall(PFNetForward(net, w->B, y, w->tb, w->v));
    ZeroHeld(w, w->v);
    for (size_t q = 0; q < N; q++) xn[q] += (pfreal)(h / 2) * w->v[q];
  }
  PetscCall(UseSet(w, net, keep, 0, 0));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Back-propagates g = dL/dx_K through the sampler into the net's parameter
 * gradient.  Each network evaluation's backward finds its activations in
 * its own set (w->keep: the forward was SamplerForward(..., PETSC_TRUE)) or
 * recomputes its forward first (one set of activations: memory flat in the
 * steps, 2K - 1 more forwards for Heun).  Ends in set 0. */
static PetscErrorCode SamplerBackward(SamplerWork *w, PFNet net)
{
  const size_t N = (size_t)w->B * w->n;
  const double h = 1.0 / (double)w->K;

  PetscFunctionBegin;
  for (PetscInt k = w->K - 1; k >= 0; k--) {
    const pfreal *x = w->X + (size_t)k * N, *y = w->Y + (size_t)k * N;
    double        a = w->heun ? h / 2 : h;
    if (w->heun) {
      /* through v(y_k): dL/dy = J_y^T (h/2 g) */
      SetTime(w, (k + 1) * h);
      PetscCall(UseSet(w, net, w->keep, k, 1));
      if (!w->keep) PetscCall(PFNetForward(net, w->B, y, w->tb, w->v));
      for (size_t q = 0; q < N; q++) w->dv[q] = (pfreal)a * w->g[q];
      ZeroHeld(w, w->dv);
      PetscCall(PFNetBackward(net, w->B, w->dv, w->gy));
    }
    /* through v(x_k): its weight is h/2 g + h dL/dy (Heun) or h g (Euler) */
    SetTime(w, k * h);
    PetscCall(UseSet(w, net, w->keep, k, 0));
    if (!w->keep) PetscCall(PFNetForward(net, w->B, x, w->tb, w->v));
    for (size_t q = 0; q < N; q++) w->dv[q] = (pfreal)a * w->g[q] + (w->heun ? (pfreal)h * w->gy[q] : 0);
    ZeroHeld(w, w->dv);
    PetscCall(PFNetBackward(net, w->B, w->dv, w->dx));
    for (size_t q = 0; q < N; q++) w->g[q] += w->dx[q] + (w->heun ? w->gy[q] : 0);
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* -endpoint_train_only a,b,...: the parameter views whose names start with
 * one of the prefixes are trained, the others frozen (their gradient is
 * zeroed, so AdamW leaves them).  mask[np]: 1 trained, 0 frozen; NULL when
 * the list is empty (all trained). */
static PetscErrorCode TrainedMask(MPI_Comm comm, PFNet ft, const char list[], pfreal **mask)
{
  char               buf[256], *tok, *save = NULL;
  PetscInt           nv;
  const PFParamView *vw;
  size_t             np, ntrained = 0;

  PetscFunctionBegin;
  *mask = NULL;
  if (!list[0]) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCall(PFNetGetParameters(ft, &np, NULL, NULL));
  PetscCall(PFNetGetParamViews(ft, &nv, &vw));
  PetscCall(PetscCalloc1(np + 1, mask));
  PetscCall(PetscStrncpy(buf, list, sizeof(buf)));
  for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
    size_t len = strlen(tok);
    for (PetscInt k = 0; k < nv; k++) {
      const size_t sz = (size_t)vw[k].rows * (size_t)vw[k].cols;
      if (strncmp(vw[k].name, tok, len) || (*mask)[vw[k].offset] != 0) continue;
      for (size_t q = 0; q < sz; q++) (*mask)[vw[k].offset + q] = 1;
      ntrained += sz;
    }
  }
  PetscCheck(ntrained > 0, comm, PETSC_ERR_ARG_WRONG, "-endpoint_train_only %s: no parameter view of the network starts with these prefixes", list);
  PetscCall(PetscPrintf(comm, "physflow finetune: training %zu of %zu parameters (-endpoint_train_only %s)\n", ntrained, np, list));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* the world's mean loss of the samples the sampler work holds (anchored to x1b) */
static PetscErrorCode SamplesLoss(PFConstraint c, SamplerWork *w, const pfreal *x1b, double anchor, PetscInt Bg, const double *one, MPI_Comm world, double *L)
{
  double loc = 0;

  PetscFunctionBegin;
  PetscCall(PFConstraintSetAnchor(c, x1b, anchor, NULL));
  PetscCall(PFConstraintStateLoss(c, w->B, Bg, w->X + (size_t)w->K * w->B * w->n, one, &loc, w->g));
  PetscCall(PFConstraintSetAnchor(c, NULL, 0, NULL));
  PetscCallMPI(MPI_Allreduce(&loc, L, 1, MPI_DOUBLE, MPI_SUM, world));
  *L /= (double)Bg;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* the same for the batch from noise x0 (keep: a backward follows) */
static PetscErrorCode BatchLoss(PFConstraint c, SamplerWork *w, PFNet ft, const pfreal *x0, const pfreal *x1b, double anchor, PetscInt Bg, const double *one, MPI_Comm world, PetscBool keep, double *L)
{
  PetscFunctionBegin;
  PetscCall(SamplerForward(w, ft, x0, keep));
  PetscCall(SamplesLoss(c, w, x1b, anchor, Bg, one, world, L));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* the RMS of v over the trained parameters (mask NULL: all), and their number */
static double TrainedRMS(size_t np, const pfreal *v, const pfreal *mask, double *cnt)
{
  double s = 0, c = 0;
  for (size_t q = 0; q < np; q++)
    if (!mask || mask[q] != 0) s += (double)v[q] * (double)v[q], c += 1;
  if (cnt) *cnt = c;
  return sqrt(s / PetscMax(c, 1.0));
}

/* -endpoint_probe: the batch's loss after steps of the given sizes along
 * -sign(G) (what Adam's first update does) and along -G scaled to the
 * same RMS per parameter; the parameters are restored.  Tells a step that
 * overshoots on this very batch from one that does not carry to others. */
static PetscErrorCode Probe(PFConstraint c, SamplerWork *w, PFNet ft, const PFEndpointParams *p, const pfreal *x0, const pfreal *x1b, PetscInt Bg, const double *one, const pfreal *G, const pfreal *mask, MPI_Comm world, double L0)
{
  size_t  np = ft->nparams;
  pfreal *P, *save;
  double  cnt, rms = TrainedRMS(np, G, mask, &cnt);

  PetscFunctionBegin;
  PetscCall(PFNetGetParameters(ft, NULL, &P, NULL));
  PetscCall(PetscMalloc1(np, &save));
  PetscCall(PetscArraycpy(save, P, np));
  PetscCall(PetscPrintf(world, "  probe: loss of the first batch %.6e (gradient RMS %.3e over %.0f parameters)\n", L0, rms, cnt));
  for (PetscInt k = 0; k < p->nprobe; k++) {
    const double h = p->probe[k];
    double       Ls, Lg;
    for (size_t q = 0; q < np; q++) P[q] = save[q] - (pfreal)(G[q] > 0 ? h : G[q] < 0 ? -h : 0);
    PetscCall(BatchLoss(c, w, ft, x0, x1b, p->anchor, Bg, one, world, PETSC_FALSE, &Ls));
    for (size_t q = 0; q < np; q++) P[q] = save[q] - (pfreal)(rms > 0 ? h * (double)G[q] / rms : 0);
    PetscCall(BatchLoss(c, w, ft, x0, x1b, p->anchor, Bg, one, world, PETSC_FALSE, &Lg));
    PetscCall(PetscPrintf(world, "  probe: step %.1e  along -sign(g) loss %.6e (%+.2e)  along -g loss %.6e (%+.2e)\n", h, Ls, Ls - L0, Lg, Lg - L0));
  }
  PetscCall(PetscArraycpy(P, save, np));
  PetscCall(PetscFree(save));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* -endpoint_update gd: m = b1 m + (1 - b1) G, P -= lr m / rms(m) (the
 * RMS over the trained parameters).  AdamW's per-parameter scaling moves
 * every parameter by ~lr whatever its share of the gradient; where the
 * gradient sits in a few stiff parameters (the fine levels' output) and
 * the rest is rounding noise, that sign-like step raises the loss at any
 * size (measured with -endpoint_probe), while a step along the gradient
 * lowers it.  Deterministic (m is the same on every rank). */
static PetscErrorCode GradientStep(size_t np, double b1, double lr, const pfreal *mask, pfreal *P, const pfreal *G, pfreal *m)
{
  double rms;

  PetscFunctionBegin;
  for (size_t q = 0; q < np; q++) m[q] = (pfreal)(b1 * (double)m[q] + (1 - b1) * (double)G[q]);
  rms = TrainedRMS(np, m, mask, NULL);
  if (rms > 0)
    for (size_t q = 0; q < np; q++) P[q] -= (pfreal)(lr * (double)m[q] / rms);
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* the starting points of iteration it's trajectories (it < 0: the fixed
 * validation batch): noise keyed by (seed, iteration, global sample,
 * component), partition-independent, then the held components */
static PetscErrorCode BatchNoise(PFConstraint c, SamplerWork *w, uint64_t seed, PetscInt it, PetscInt lo, const PetscInt keys[], pfreal *x0)
{
  const PetscInt n = w->n;

  PetscFunctionBegin;
  for (PetscInt b = 0; b < w->B; b++)
    for (PetscInt j = 0; j < n; j++) {
      PFRNG r;
      PFRNGInit(&r, it < 0 ? seed + 11 : seed, PF_RNG_SAMPLE_X0, (uint64_t)(it < 0 ? 0 : it) * 1000003u + (uint64_t)(lo + b), (uint32_t)keys[j]);
      x0[(size_t)b * n + j] = (pfreal)PFRNGNormal(&r);
    }
  if (w->held) {
    PFHeldFill fill;
    void      *fctx;
    PetscCall(PFConstraintGetHeld(c, NULL, &fill, &fctx));
    for (PetscInt b = 0; b < w->B; b++) PetscCall(fill(fctx, it, lo + b, x0 + (size_t)b * n));
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* -endpoint_newton: the fit's per-component weights of one state: the mean
 * over its free components (counted over the group), or the squared error
 * norm's (-endpoint_newton_metric physical); 0 on the held components.
 * The same every iteration: computed once per run. */
static PetscErrorCode NewtonFitWeights(PFConstraint c, const SamplerWork *w, const PFEndpointParams *p, pfreal wq[])
{
  const PetscInt n = w->n;
  double         nfree = 0;
  MPI_Comm       gcomm;

  PetscFunctionBegin;
  if (p->newton_physical) PetscCall(PFConstraintErrorNormWeights(c, wq));
  else {
    PetscCall(PFConstraintGetComm(c, &gcomm));
    for (PetscInt j = 0; j < n; j++) nfree += w->held && w->held[j] ? 0 : 1;
    PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, &nfree, 1, MPI_DOUBLE, MPI_SUM, gcomm));
    for (PetscInt j = 0; j < n; j++) wq[j] = (pfreal)(1.0 / PetscMax(nfree, 1.0));
  }
  for (PetscInt j = 0; j < n; j++)
    if (w->held && w->held[j]) wq[j] = 0;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* -endpoint_newton_fit sampler: each network evaluation of the sampler
 * (its states kept in w) regresses its own value plus the offset
 * d = x* - x1: the loss's gradient there is -2 d, its value |d|^2 at the
 * current weights.  Returns this rank's share of the loss over Bg. */
static PetscErrorCode SamplerFitGradient(SamplerWork *w, PFNet ft, PetscInt Bg, const pfreal wq[], const pfreal *xs, double *lfm)
{
  const PetscInt n = w->n, nev = NumEvals(w);
  const size_t   N     = (size_t)w->B * n;
  const double   scale = 1.0 / ((double)Bg * (double)nev);
  const pfreal  *x1    = w->X + (size_t)w->K * N;
  double         fm    = 0;

  PetscFunctionBegin;
  for (size_t q = 0; q < N; q++) {
    const double d = (double)xs[q] - (double)x1[q], wd = scale * (double)wq[q % n];
    w->dv[q]       = (pfreal)(-2 * wd * d);
    fm += (double)nev * wd * d * d;
  }
  ZeroHeld(w, w->dv);
  for (PetscInt k = 0; k < w->K; k++)
    for (PetscInt e = 0; e < (w->heun ? 2 : 1); e++) {
      SetTime(w, (double)(k + e) / (double)w->K);
      PetscCall(UseSet(w, ft, w->keep, k, e));
      if (!w->keep) PetscCall(PFNetForward(ft, w->B, (e ? w->Y : w->X) + (size_t)k * N, w->tb, w->v));
      PetscCall(PFNetBackward(ft, w->B, w->dv, w->dx));
    }
  PetscCall(UseSet(w, ft, w->keep, 0, 0));
  *lfm = fm;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* -endpoint_newton_fit straight: flow matching on the straight path from
 * the noise x0 to x* at newton_t random times per sample (keyed by seed,
 * iteration, global sample and draw).  tmp: [B n] work.  Returns this
 * rank's share of the loss over Bg. */
static PetscErrorCode StraightFitGradient(SamplerWork *w, PFNet ft, const PFEndpointParams *p, PetscInt Bg, const pfreal wq[], const pfreal *x0, const pfreal *xs, uint64_t seed, PetscInt it, PetscInt lo, pfreal *tmp, double *lfm)
{
  const PetscInt n     = w->n;
  const size_t   N     = (size_t)w->B * n;
  const double   scale = 1.0 / ((double)Bg * (double)p->newton_t);
  double         fm    = 0;

  PetscFunctionBegin;
  for (PetscInt r = 0; r < p->newton_t; r++) {
    for (PetscInt b = 0; b < w->B; b++) {
      PFRNG rng;
      PFRNGInit(&rng, seed, PF_RNG_FLOW_TIME, (uint64_t)it * 1000003u + (uint64_t)(lo + b), (uint32_t)r);
      w->tb[b] = (pfreal)PFRNGUniform(&rng);
      for (PetscInt j = 0; j < n; j++) {
        const size_t q = (size_t)b * n + j;
        tmp[q]         = (1 - w->tb[b]) * x0[q] + w->tb[b] * xs[q];
      }
    }
    PetscCall(PFNetForward(ft, w->B, tmp, w->tb, w->v));
    for (size_t q = 0; q < N; q++) {
      const double d = (double)w->v[q] - ((double)xs[q] - (double)x0[q]), wd = scale * (double)wq[q % n];
      w->dv[q]       = (pfreal)(2 * wd * d);
      fm += wd * d * d;
    }
    ZeroHeld(w, w->dv);
    PetscCall(PFNetBackward(ft, w->B, w->dv, w->dx));
  }
  *lfm = fm;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* -endpoint_newton, one iteration after the sampler's forward pass: the
 * Newton targets x* of the samples w holds (k damped Newton steps each)
 * and the parameter gradient of the fit, accumulated in the net's gradient
 * buffer.  Returns this rank's share of the samples' error norm (lerr) and
 * of the fit's loss (lfm), both over Bg.  xs, tmp: [B n] work */
static PetscErrorCode NewtonFitGradient(PFConstraint c, SamplerWork *w, PFNet ft, const PFEndpointParams *p, const pfreal wq[], const pfreal *x0, uint64_t seed, PetscInt it, PetscInt lo, PetscInt Bg, pfreal *xs, pfreal *tmp, double *lerr, double *lfm)
{
  const size_t N = (size_t)w->B * w->n;
  double      *esq;
  PetscMPIInt  grank;
  MPI_Comm     gcomm;

  PetscFunctionBegin;
  PetscCall(PFConstraintGetComm(c, &gcomm));
  PetscCallMPI(MPI_Comm_rank(gcomm, &grank));
  PetscCall(PetscMalloc1(w->B + 1, &esq));
  PetscCall(PFConstraintNewtonSolve(c, w->B, w->X + (size_t)w->K * N, p->newton, xs, esq, NULL));
  /* the error norms are group sums: one rank of the group reports them */
  *lerr = 0;
  if (grank == 0)
    for (PetscInt b = 0; b < w->B; b++) *lerr += sqrt(esq[b]) / (double)Bg;
  PetscCall(PetscFree(esq));
  if (p->newton_sampler) PetscCall(SamplerFitGradient(w, ft, Bg, wq, xs, lfm));
  else PetscCall(StraightFitGradient(w, ft, p, Bg, wq, x0, xs, seed, it, lo, tmp, lfm));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFEndpointFinetuneRun(PFConstraint c, MPI_Comm world, PetscInt G, PetscInt gid, PFNet base, PFNet ft, const PetscInt keys[], PetscInt Bg, PFTrainer tr, uint64_t seed)
{
  PFEndpointParams p;
  SamplerWork      w;
  PetscInt         lo, hi, B, n = ft->nin, iters, it0;
  size_t           N, np = ft->nparams;
  pfreal          *x0, *x1b, *x0v, *x1bv, *m, *vv, *red, *mask, *xs = NULL, *tmp = NULL, *wq = NULL;
  double          *one, lr, *history;
  PFAdamWParams    adam;

  PetscFunctionBegin;
  PetscCall(PFConstraintGetEndpointParams(c, &p));
  PetscCall(PFTrainerGetLoopState(tr, &iters, &it0, &adam, &m, &vv, &history));
  lo = (PetscInt)(((PetscInt64)gid * Bg) / G);
  hi = (PetscInt)(((PetscInt64)(gid + 1) * Bg) / G);
  B  = hi - lo;
  PetscCheck(B >= 1, world, PETSC_ERR_ARG_OUTOFRANGE, "-batch_size %" PetscInt_FMT " must be at least the number of groups", Bg);
  N = (size_t)B * n;
  PetscCall(PFNetPlan(base, B));
  PetscCall(PFNetPlan(ft, B));
  PetscCall(SamplerWorkCreate(c, B, n, &p, &w));
  PetscCall(PetscMalloc3(N, &x0, N, &x1b, B, &one));
  PetscCall(PetscCalloc1(np + 3, &red));
  PetscCall(TrainedMask(world, ft, p.train_only, &mask));
  for (PetscInt b = 0; b < B; b++) one[b] = 1;
  if (p.newton) {
    PetscCall(PetscMalloc3(N, &xs, N, &tmp, n, &wq));
    PetscCall(NewtonFitWeights(c, &w, &p, wq));
    if (p.newton_sampler) PetscCall(PetscPrintf(world, "physflow finetune: Newton targets: %" PetscInt_FMT " Newton step(s) from each sample, fitted at the sampler's own states (their velocities shifted by the target's offset; no back-propagation through the sampler)\n", p.newton));
    else PetscCall(PetscPrintf(world, "physflow finetune: Newton targets: %" PetscInt_FMT " Newton step(s) from each sample, fitted by flow matching on the straight path at %" PetscInt_FMT " times per sample (no back-propagation through the sampler)\n", p.newton, p.newton_t));
  }
  PetscCall(PetscPrintf(world, "physflow finetune: endpoint fine-tuning, iterations %" PetscInt_FMT "..%" PetscInt_FMT " of %" PetscInt_FMT " samples through the %" PetscInt_FMT "-step %s sampler, anchor %g, state anchor %g (sample the result with -sampler %s -sampler_steps %" PetscInt_FMT ")\n", it0 + 1, iters, Bg, p.steps, p.heun ? "Heun" : "Euler", p.anchor, p.state_anchor, p.heun ? "heun" : "euler", p.steps));
  if (w.keep && (!p.newton || p.newton_sampler)) {
    /* the extra sets (set 0 is the planned workspace): the memory to expect */
    const PetscInt nev = NumEvals(&w);
    size_t         nw;
    PetscCall(ft->ops.workspacesize(ft, B, &nw));
    PetscCall(PetscPrintf(world, "  activations of the %" PetscInt_FMT " network evaluations kept for the backward: %" PetscInt_FMT " extra sets, %.0f MB on rank 0 (-endpoint_keep_activations 0: recompute them instead)\n", nev, nev - 1, (double)(nev - 1) * (double)nw * sizeof(pfreal) / 1048576.0));
  }
  /* a fixed validation batch and its base samples: the printed losses of
   * the training batches differ by 2x between batches of the same model,
   * this one moves only with the model */
  PetscCall(PetscMalloc2(N, &x0v, N, &x1bv));
  PetscCall(BatchNoise(c, &w, seed, -1, lo, keys, x0v));
  PetscCall(SamplerForward(&w, base, x0v, PETSC_FALSE));
  PetscCall(PetscArraycpy(x1bv, w.X + (size_t)w.K * N, N));
  {
    double Lb;
    PetscCall(SamplesLoss(c, &w, x1bv, p.anchor, Bg, one, world, &Lb));
    PetscCall(PetscPrintf(world, "  validation batch (%" PetscInt_FMT " fixed samples): loss of the base model %.4e\n", Bg, Lb));
  }
  for (PetscInt it = it0; it < iters; it++) {
    double  lloc = 0, aloc;
    pfreal *P, *Gr;
    PetscCall(BatchNoise(c, &w, seed, it, lo, keys, x0));
    PetscCall(PFNetZeroGradient(ft));
    PetscCall(PFNetGetParameters(ft, NULL, &P, &Gr));
    if (p.newton) {
      /* Newton targets: the error norm of the samples and the fit's loss
       * take the residual's and the anchor's places in the report */
      double lerr = 0, lfm = 0;
      PetscCall(SamplerForward(&w, ft, x0, (PetscBool)p.newton_sampler));
      PetscCall(NewtonFitGradient(c, &w, ft, &p, wq, x0, seed, it, lo, Bg, xs, tmp, &lerr, &lfm));
      lloc = (lerr + lfm) * (double)Bg;
      aloc = lfm * (double)Bg;
    } else {
      /* the base model's sample from the same noise: the anchor */
      PetscCall(SamplerForward(&w, base, x0, PETSC_FALSE));
      PetscCall(PetscArraycpy(x1b, w.X + (size_t)w.K * N, N));
      PetscCall(SamplerForward(&w, ft, x0, PETSC_TRUE));
      PetscCall(PFConstraintSetAnchor(c, x1b, p.anchor, NULL));
      PetscCall(PFConstraintStateLoss(c, B, Bg, w.X + (size_t)w.K * N, one, &lloc, w.g));
      PetscCall(PFConstraintSetAnchor(c, NULL, 0, &aloc));
      PetscCall(SamplerBackward(&w, ft));
    }
    /* one allreduce over the world (gradient, residual part, anchor part,
     * signal); the losses are sums over each group's vertices */
    PetscCall(PetscArraycpy(red, Gr, np));
    red[np]     = (pfreal)((lloc - aloc) / (double)Bg);
    red[np + 1] = (pfreal)(aloc / (double)Bg);
    red[np + 2] = (pfreal)(PFSignalsReceived() ? 1 : 0);
    PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, red, (PetscMPIInt)(np + 3), MPIU_PFREAL, MPI_SUM, world));
    PetscCall(PetscArraycpy(Gr, red, np));
    if (mask)
      for (size_t q = 0; q < np; q++) Gr[q] *= mask[q];
    if (it == it0 && p.nprobe) PetscCall(Probe(c, &w, ft, &p, x0, x1b, Bg, one, Gr, mask, world, (double)(red[np] + red[np + 1])));
    /* the trainer's schedule (by default a cosine decay over the
     * iterations: the late ones average out the batch noise; -lr_warmup
     * keeps Adam's first, sign-like steps small) */
    PetscCall(PFTrainerGetLearningRate(tr, it, &lr));
    if (p.gd) PetscCall(GradientStep(np, adam.beta1, lr, mask, P, Gr, m));
    else PFAdamWStep(np, &adam, lr, it + 1, P, Gr, m, vv);
    history[it] = (double)(red[np] + red[np + 1]);
    PetscCall(PFTrainerSetStep(tr, it + 1));
    if (it == it0 || (it + 1) % 10 == 0 || it + 1 == iters) {
      /* the validation loss after this iteration's update */
      double Lv;
      PetscCall(BatchLoss(c, &w, ft, x0v, x1bv, p.anchor, Bg, one, world, PETSC_FALSE, &Lv));
      if (p.newton) PetscCall(PetscPrintf(world, "  iteration %4" PetscInt_FMT "/%" PetscInt_FMT "  error norm of the samples %.4e  flow-matching loss of the targets %.4e  validation batch loss %.4e\n", it + 1, iters, (double)red[np], (double)red[np + 1], Lv));
      else PetscCall(PetscPrintf(world, "  iteration %4" PetscInt_FMT "/%" PetscInt_FMT "  residual of the samples %.4e  anchor %.4e  validation batch loss %.4e\n", it + 1, iters, (double)red[np], (double)red[np + 1], Lv));
    }
    if (red[np + 2] > 0) {
      /* SIGTERM/SIGUSR1: the caller writes the checkpoint; -resume continues */
      PetscCall(PetscPrintf(world, "physflow finetune: signal received: stopping after %" PetscInt_FMT " of %" PetscInt_FMT " iterations (continue with -resume)\n", it + 1, iters));
      break;
    }
  }
  PetscCall(SamplerWorkDestroy(&w));
  PetscCall(PetscFree3(x0, x1b, one));
  PetscCall(PetscFree2(x0v, x1bv));
  PetscCall(PetscFree3(xs, tmp, wq));
  PetscCall(PetscFree(red));
  PetscCall(PetscFree(mask));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* The loss of B samples from noise x0 (summed over the group) and, with
 * grad, its parameter gradient in the net's gradient buffer */
static PetscErrorCode CheckLoss(PFConstraint c, SamplerWork *w, PFNet ft, const pfreal *x0, const pfreal *x1b, double anchor, PetscBool grad, double *L)
{
  double  *one;
  MPI_Comm comm;

  PetscFunctionBegin;
  PetscCall(PFConstraintGetComm(c, &comm));
  PetscCall(PetscMalloc1(w->B, &one));
  for (PetscInt b = 0; b < w->B; b++) one[b] = 1;
  PetscCall(BatchLoss(c, w, ft, x0, x1b, anchor, w->B, one, comm, grad, L));
  if (grad) {
    PetscCall(PFNetZeroGradient(ft));
    PetscCall(SamplerBackward(w, ft));
  }
  PetscCall(PetscFree(one));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFEndpointCheck(PFConstraint c, PFNet ft, PetscInt B, const pfreal *x0, const pfreal *x1b, const pfreal *dir, double h, double *an, double *fd)
{
  PFEndpointParams p;
  SamplerWork      w;
  size_t           np;
  pfreal          *P, *Gr;
  double           L, Lp, Lm;
  MPI_Comm         comm;

  PetscFunctionBegin;
  PetscCall(PFConstraintGetEndpointParams(c, &p));
  PetscCall(PFConstraintGetComm(c, &comm));
  PetscCall(PFNetPlan(ft, B));
  PetscCall(SamplerWorkCreate(c, B, ft->nin, &p, &w));
  PetscCall(PFNetGetParameters(ft, &np, &P, &Gr));
  PetscCall(CheckLoss(c, &w, ft, x0, x1b, p.anchor, PETSC_TRUE, &L));
  /* parameters are replicated within the group: each rank's gradient is its part */
  *an = 0;
  for (size_t i = 0; i < np; i++) *an += (double)Gr[i] * (double)dir[i];
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, an, 1, MPI_DOUBLE, MPI_SUM, comm));
  for (size_t i = 0; i < np; i++) P[i] += (pfreal)h * dir[i];
  PetscCall(CheckLoss(c, &w, ft, x0, x1b, p.anchor, PETSC_FALSE, &Lp));
  for (size_t i = 0; i < np; i++) P[i] -= (pfreal)(2 * h) * dir[i];
  PetscCall(CheckLoss(c, &w, ft, x0, x1b, p.anchor, PETSC_FALSE, &Lm));
  for (size_t i = 0; i < np; i++) P[i] += (pfreal)h * dir[i];
  *fd = (Lp - Lm) / (2 * h);
  PetscCall(SamplerWorkDestroy(&w));
  PetscFunctionReturn(PETSC_SUCCESS);
}
