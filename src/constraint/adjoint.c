/* Adjoint matching on the flow (see include/physflow/constraint.h):
 * Domingo-Enrich et al. 2024 ("Adjoint Matching", arXiv 2409.08861) in the
 * form Tauberschmidt et al. 2025 (arXiv 2508.09156) use for physics
 * fine-tuning of flow-matching models. */
#include <math.h>
#include <physflow/constraint.h>
#include <physflow/optim.h>
#include <physflow/private/netimpl.h>
#include <physflow/rng.h>

#define AM_EPS 0.01 /* regularisation of eta = (1-t+e)/(t+e) */

typedef struct {
  PetscInt K, B, n;
  double  *t, *h, *sig, *cc;   /* grid [K+1], steps, sigma_i, c_i = sigma^2/(2 eta) */
  pfreal  *X, *A, *vb;         /* states [K+1][B n], adjoints [K+1][B n], base velocity [K][B n] */
  pfreal  *v, *dv, *dx, *tb, *e;
  const PetscBool *held;       /* [n] given components (NULL: none) */
  PFHeldFill       fill;
  void            *fillctx;
} AMWork;

static inline PetscBool IsHeld(const AMWork *w, PetscInt j) { return (PetscBool)(w->held && w->held[j]); }

/* the held components of the B states x[B][n] get no adjoint */
static void ZeroHeld(const AMWork *w, pfreal *x) { PFHeldZero(w->held, w->B, w->n, x); }

/* t_i = 1 - (1 - i/K)^2: steps shrink towards t = 1, where the residual's gradient acts */
static void Grid(AMWork *w, double kappa)
{
  for (PetscInt i = 0; i <= w->K; i++) {
    double u = 1 - (double)i / (double)w->K;
    w->t[i]  = 1 - u * u;
  }
  for (PetscInt i = 0; i < w->K; i++) {
    double eta = (1 - w->t[i] + AM_EPS) / (w->t[i] + AM_EPS);
    w->h[i]    = w->t[i + 1] - w->t[i];
    w->sig[i]  = sqrt(2 * (1 - kappa) * eta);
    w->cc[i]   = 1 - kappa; /* sigma^2 / (2 eta) */
  }
}

static void SetTime(AMWork *w, double t)
{
  for (PetscInt b = 0; b < w->B; b++) w->tb[b] = (pfreal)t;
}


/* 1. trajectories of the model under the memoryless SDE (noise keyed by
 *    iteration, global sample, step and component); X_0 = x0 if given;
 *    held components keep their X_0 values (from the fill function) */
static PetscErrorCode Rollout(AMWork *w, PFNet ft, const PetscInt keys[], uint64_t seed, PetscInt it, PetscInt lo, const pfreal *x0)
{
  const PetscInt K = w->K;
  const size_t   N = (size_t)w->B * w->n;

  PetscFunctionBegin;
  for (PetscInt b = 0; b < w->B; b++)
    for (PetscInt j = 0; j < w->n; j++) {
      PFRNG r;
      PFRNGInit(&r, seed, PF_RNG_SAMPLE_X0, (uint64_t)it * 1000003u + (uint64_t)(lo + b), (uint32_t)keys[j]);
      w->X[(size_t)b * w->n + j] = x0 ? x0[(size_t)b * w->n + j] : (pfreal)PFRNGNormal(&r);
    }
  if (w->held && !x0)
    for (PetscInt b = 0; b < w->B; b++) PetscCall(w->fill(w->fillctx, it, lo + b, w->X + (size_t)b * w->n));
  for (PetscInt i = 0; i < K; i++) {
    pfreal *x = w->X + (size_t)i * N, *xn = w->X + (size_t)(i + 1) * N;
    SetTime(w, w->t[i]);
    PetscCall(PFNetForward(ft, w->B, x, w->tb, w->v));
    for (PetscInt b = 0; b < w->B; b++)
      for (PetscInt j = 0; j < w->n; j++) {
        size_t q = (size_t)b * w->n + j;
        if (IsHeld(w, j)) xn[q] = x[q];
        else if (i == K - 1) xn[q] = x[q] + (pfreal)w->h[i] * w->v[q];
        else {
          PFRNG  r;
          double bq = (1 + w->cc[i]) * w->v[q] - w->cc[i] * x[q] / (w->t[i] + w->h[i]);
          PFRNGInit(&r, seed + 1, PF_RNG_SAMPLE_X0, ((uint64_t)it * 1000003u + (uint64_t)(lo + b)) * 4096u + (uint64_t)i, (uint32_t)keys[j]);
          xn[q] = (pfreal)(x[q] + w->h[i] * bq + sqrt(w->h[i]) * w->sig[i] * PFRNGNormal(&r));
        }
      }
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* 2. the lean adjoint through the frozen base network, from
 *    a(1) = lambda grad R(X_1); stores the base velocities for the loss */
static PetscErrorCode LeanAdjoint(AMWork *w, PFConstraint c, PFNet base, double lambda, double *rloc)
{
  const PetscInt K = w->K;
  const size_t   N = (size_t)w->B * w->n;
  double        *lam;

  PetscFunctionBegin;
  PetscCall(PetscMalloc1(w->B, &lam));
  for (PetscInt b = 0; b < w->B; b++) lam[b] = lambda;
  PetscCall(PFConstraintStateLoss(c, w->B, 1, w->X + (size_t)K * N, lam, rloc, w->A + (size_t)K * N));
  PetscCall(PetscFree(lam));
  ZeroHeld(w, w->A + (size_t)K * N);
  for (PetscInt i = K - 1; i >= 0; i--) {
    const pfreal *an = w->A + (size_t)(i + 1) * N;
    pfreal       *ai = w->A + (size_t)i * N;
    double        ci = i == K - 1 ? 0 : w->cc[i];
    SetTime(w, w->t[i]);
    PetscCall(PFNetForward(base, w->B, w->X + (size_t)i * N, w->tb, w->vb + (size_t)i * N));
    for (size_t q = 0; q < N; q++) w->dv[q] = (pfreal)(w->h[i] * (1 + ci)) * an[q];
    PetscCall(PFNetBackward(base, w->B, w->dv, w->dx));
    for (size_t q = 0; q < N; q++) ai[q] = an[q] + w->dx[q] - (pfreal)(w->h[i] * ci / (w->t[i] + w->h[i])) * an[q];
    ZeroHeld(w, ai);
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode WorkCreate(AMWork *w, PFConstraint c, const PFAdjointParams *p, PetscInt B, PetscInt n)
{
  const PetscInt K = p->steps;
  size_t         N = (size_t)B * n;

  PetscFunctionBegin;
  PetscCall(PFConstraintGetHeld(c, &w->held, &w->fill, &w->fillctx));
  w->K = K;
  w->B = B;
  w->n = n;
  PetscCall(PetscMalloc4(K + 1, &w->t, K, &w->h, K, &w->sig, K, &w->cc));
  PetscCall(PetscMalloc3((K + 1) * N + 1, &w->X, (K + 1) * N + 1, &w->A, K * N + 1, &w->vb));
  PetscCall(PetscMalloc5(N + 1, &w->v, N + 1, &w->dv, N + 1, &w->dx, B, &w->tb, N + 1, &w->e));
  Grid(w, p->kappa);
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode WorkDestroy(AMWork *w)
{
  PetscFunctionBegin;
  PetscCall(PetscFree4(w->t, w->h, w->sig, w->cc));
  PetscCall(PetscFree3(w->X, w->A, w->vb));
  PetscCall(PetscFree5(w->v, w->dv, w->dx, w->tb, w->e));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFAdjointMatchingCheck(PFConstraint c, PFNet base, const PetscInt keys[], PetscInt B, uint64_t seed, const pfreal *dir, double h, double *an, double *fd)
{
  PFAdjointParams p;
  AMWork          w;
  MPI_Comm        gcomm;
  pfreal         *x0, *g;
  double          r, rp, rm, *one;
  size_t          N;

  PetscFunctionBegin;
  PetscCall(PFConstraintGetAdjointParams(c, &p));
  PetscCall(PFConstraintGetComm(c, &gcomm));
  PetscCall(PFNetPlan(base, B));
  PetscCall(WorkCreate(&w, c, &p, B, base->nin));
  N = (size_t)B * w.n;
  PetscCall(PetscMalloc3(N, &x0, N, &g, B, &one));
  for (PetscInt b = 0; b < B; b++) one[b] = 1;
  PetscCall(Rollout(&w, base, keys, seed, 0, 0, NULL));
  PetscCall(PetscArraycpy(x0, w.X, N));
  PetscCall(LeanAdjoint(&w, c, base, 1.0, &r));
  *an = 0;
  for (size_t q = 0; q < N; q++) *an += (double)w.A[q] * (double)dir[q];
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, an, 1, MPI_DOUBLE, MPI_SUM, gcomm));
  for (size_t q = 0; q < N; q++) x0[q] += (pfreal)h * dir[q];
  PetscCall(Rollout(&w, base, keys, seed, 0, 0, x0));
  PetscCall(PFConstraintStateLoss(c, B, 1, w.X + (size_t)w.K * N, one, &rp, g));
  for (size_t q = 0; q < N; q++) x0[q] -= (pfreal)(2 * h) * dir[q];
  PetscCall(Rollout(&w, base, keys, seed, 0, 0, x0));
  PetscCall(PFConstraintStateLoss(c, B, 1, w.X + (size_t)w.K * N, one, &rm, g));
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, &rp, 1, MPI_DOUBLE, MPI_SUM, gcomm));
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, &rm, 1, MPI_DOUBLE, MPI_SUM, gcomm));
  *fd = (rp - rm) / (2 * h);
  PetscCall(PetscFree3(x0, g, one));
  PetscCall(WorkDestroy(&w));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFAdjointMatchingRun(PFConstraint c, MPI_Comm world, PetscInt G, PetscInt gid, PFNet base, PFNet ft, const PetscInt keys[], PetscInt Bg, double lr, uint64_t seed)
{
  PFAdjointParams p;
  AMWork          w;
  PetscInt        lo, hi, K;
  size_t          N, np = ft->nparams;
  pfreal         *m, *vv, *red;
  PFAdamWParams   adam = {0.9, 0.999, 1e-8, 0.0};
  MPI_Comm        gcomm;

  PetscFunctionBegin;
  PetscCall(PFConstraintGetAdjointParams(c, &p));
  PetscCall(PFConstraintGetComm(c, &gcomm));
  K   = p.steps;
  lo  = (PetscInt)(((PetscInt64)gid * Bg) / G);
  hi  = (PetscInt)(((PetscInt64)(gid + 1) * Bg) / G);
  N   = (size_t)(hi - lo) * ft->nin;
  PetscCheck(hi - lo <= 256, world, PETSC_ERR_ARG_OUTOFRANGE, "adjoint matching takes at most 256 trajectories per group per iteration");
  PetscCheck(hi - lo >= 1, world, PETSC_ERR_ARG_OUTOFRANGE, "-batch_size %" PetscInt_FMT " must be at least the number of groups", Bg);
  PetscCall(PFNetPlan(base, hi - lo));
  PetscCall(PFNetPlan(ft, hi - lo));
  PetscCall(WorkCreate(&w, c, &p, hi - lo, ft->nin));
  PetscCall(PetscCalloc3(np, &m, np, &vv, np + 2, &red));
  PetscCall(PetscPrintf(world, "physflow finetune: adjoint matching, %" PetscInt_FMT " iterations of %" PetscInt_FMT " trajectories x %" PetscInt_FMT " SDE steps, lambda %g, kappa %g\n", p.iters, Bg, K, p.lambda, p.kappa));
  for (PetscInt it = 0; it < p.iters; it++) {
    double  rloc = 0, lloc = 0;
    pfreal *P, *Gr;
    PetscCall(Rollout(&w, ft, keys, seed, it, lo, NULL));
    PetscCall(LeanAdjoint(&w, c, base, p.lambda, &rloc));
    /* 3. the regression on a subset of steps: a random part of the first
     *    80%, every step of the last 20% */
    PetscCall(PFNetZeroGradient(ft));
    PetscCall(PFNetGetParameters(ft, NULL, &P, &Gr));
    {
      PetscInt i80 = (PetscInt)(p.tail * K), nsel = 0, *sel;
      PetscCall(PetscMalloc1(p.subset + K + 1, &sel));
      for (PetscInt k = 0; k < p.subset && i80 > 0; k++) {
        PFRNG r;
        PFRNGInit(&r, seed + 2, PF_RNG_SAMPLE_X0, (uint64_t)it, (uint32_t)k);
        sel[nsel++] = (PetscInt)(PFRNGUniform(&r) * i80) % i80;
      }
      for (PetscInt i = i80; i < K; i++) sel[nsel++] = i;
      for (PetscInt s = 0; s < nsel; s++) {
        PetscInt      i  = sel[s];
        double        ci = w.cc[i], si = w.sig[i], term[256]; /* w.B <= 256, checked above */
        const pfreal *ai = w.A + (size_t)i * N, *vbi = w.vb + (size_t)i * N;
        SetTime(&w, w.t[i]);
        PetscCall(PFNetForward(ft, w.B, w.X + (size_t)i * N, w.tb, w.v));
        for (PetscInt b = 0; b < w.B; b++) term[b] = 0;
        for (PetscInt b = 0; b < w.B; b++)
          for (PetscInt j = 0; j < w.n; j++) {
            size_t q = (size_t)b * w.n + j;
            w.e[q]   = IsHeld(&w, j) ? 0 : (pfreal)((1 + ci) * (w.v[q] - vbi[q]) / si + si * ai[q]);
            term[b] += (double)w.e[q] * (double)w.e[q];
          }
        /* the per-trajectory terms are sums over the whole mesh */
        PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, term, (PetscMPIInt)w.B, MPI_DOUBLE, MPI_SUM, gcomm));
        for (PetscInt b = 0; b < w.B; b++) {
          const double scale = term[b] > p.clip ? 0 : 2 * (1 + ci) / si / ((double)Bg * nsel);
          for (PetscInt j = 0; j < w.n; j++) w.dv[(size_t)b * w.n + j] = (pfreal)(scale * w.e[(size_t)b * w.n + j]);
          lloc += PetscMin(term[b], p.clip) / ((double)Bg * nsel);
        }
        PetscCall(PFNetBackward(ft, w.B, w.dv, NULL));
      }
      PetscCall(PetscFree(sel));
    }
    /* 4. one allreduce over the world (gradient, loss, residual), AdamW */
    {
      PetscMPIInt gsize;
      PetscCallMPI(MPI_Comm_size(gcomm, &gsize));
      PetscCall(PetscArraycpy(red, Gr, np));
      /* every rank of a group holds the same loss; count it once per group */
      red[np]     = (pfreal)(lloc / gsize);
      red[np + 1] = (pfreal)(rloc / ((double)Bg * (p.lambda > 0 ? p.lambda : 1)));
      PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, red, (PetscMPIInt)(np + 2), MPIU_PFREAL, MPI_SUM, world));
      PetscCall(PetscArraycpy(Gr, red, np));
      PFAdamWStep(np, &adam, lr, it + 1, P, Gr, m, vv);
      PetscCall(PetscPrintf(world, "  iteration %3" PetscInt_FMT "/%" PetscInt_FMT "  adjoint-matching loss %.4e  residual of the samples |R|^2/|F|^2 %.4e\n", it + 1, p.iters, (double)red[np], (double)red[np + 1]));
    }
  }
  PetscCall(WorkDestroy(&w));
  PetscCall(PetscFree3(m, vv, red));
  PetscFunctionReturn(PETSC_SUCCESS);
}
