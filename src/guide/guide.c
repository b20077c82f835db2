/* Minimum-excess-work guidance at sampling time, and the tuning of its
 * schedule (include/physflow/guide.h) */
#include <math.h>
#include <physflow/guide.h>
#include <physflow/private/netimpl.h>

const char *const PFGuideScheduleTypes[] = {"exp", "power", "PFGuideScheduleType", "PF_GUIDE_", NULL};
const char *const PFGuideDriftTypes[]    = {"x1hat", "tweedie", "PFGuideDriftType", "PF_GUIDE_", NULL};

double PFGuideAlpha(const PFGuideSchedule *s, double t)
{
  return s->kind == PF_GUIDE_POWER ? s->a * pow(1 - t, s->b) : s->a * exp(-s->b * (1 - t));
}

double PFGuideClampB(PFGuideScheduleType kind, double b)
{
  return kind == PF_GUIDE_POWER ? PetscMin(PetscMax(b, 0.0), 20.0) : PetscMin(PetscMax(b, -50.0), 50.0);
}

typedef struct {
  PFNet                  net;
  PFObservable           obs;
  const PFGuideSchedule *s;
  PetscInt               n, maxbatch, nevals;
  pfreal                *tbuf, *x1, *grad, *jt;
  double                *f, *dv2, work; /* dv2 [2 maxbatch]: |drift|^2, |v|^2 per state */
} GuideCtx;

/* v_g = v - alpha(t) lambda grad f(x + (1 - t) v), accumulating |dv|^2 */
static PetscErrorCode GuideVelocity(void *vctx, double t, PetscInt nloc, const pfreal *x, pfreal *v)
{
  GuideCtx    *g       = (GuideCtx *)vctx;
  const int    tweedie = g->s->drift == PF_GUIDE_TWEEDIE;
  const double c       = -PFGuideAlpha(g->s, t) * g->s->lambda * (tweedie ? (1 - t) / (t + 0.05) : 1);

  PetscFunctionBegin;
  g->nevals++;
  for (PetscInt b0 = 0; b0 < nloc; b0 += g->maxbatch) {
    const PetscInt nb = PetscMin(g->maxbatch, nloc - b0);
    const size_t   N  = (size_t)nb * g->n;
    pfreal        *vb = v + (size_t)b0 * g->n;
    const pfreal  *xb = x + (size_t)b0 * g->n;
    for (PetscInt j = 0; j < nb; j++) g->tbuf[j] = (pfreal)t;
    PetscCall(PFNetForward(g->net, nb, xb, g->tbuf, vb));
    for (size_t q = 0; q < N; q++) g->x1[q] = xb[q] + (pfreal)(1 - t) * vb[q];
    PetscCall(PFObservableEval(g->obs, nb, g->x1, g->f, g->grad));
    if (tweedie) {
      /* J^T grad = grad + (1 - t) (dv/dx)^T grad: one backward */
      for (size_t q = 0; q < N; q++) g->jt[q] = (pfreal)(1 - t) * g->grad[q];
      PetscCall(PFNetBackward(g->net, nb, g->jt, g->x1));
      for (size_t q = 0; q < N; q++) g->grad[q] += g->x1[q];
    }
    for (PetscInt j = 0; j < nb; j++) {
      const size_t o = (size_t)j * g->n;
      g->dv2[2 * j] = g->dv2[2 * j + 1] = 0;
      for (PetscInt i = 0; i < g->n; i++) g->dv2[2 * j] += PetscSqr(c * (double)g->grad[o + i]), g->dv2[2 * j + 1] += PetscSqr((double)vb[o + i]);
    }
    /* mesh states: the norms are sums over the group (one reduction a chunk) */
    if (g->obs->phys) PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, g->dv2, (PetscMPIInt)(2 * nb), MPI_DOUBLE, MPI_SUM, g->obs->comm));
    for (PetscInt j = 0; j < nb; j++) {
      const size_t o = (size_t)j * g->n;
      double       f = 1, d2 = g->dv2[2 * j], v2 = g->dv2[2 * j + 1];
      /* a gradient that overflowed or a state without a value (a flux of
       * exp(logK) at a wild early estimate; a solve that failed) gives no
       * drift for this state at this time; with clip, the drift of a
       * state is at most clip times its base velocity */
      if (!isfinite(d2)) f = 0;
      else if (g->s->clip > 0 && d2 > g->s->clip * g->s->clip * v2) f = g->s->clip * sqrt(v2 / d2);
      for (PetscInt i = 0; i < g->n; i++) {
        double dv = f == 0 ? 0 : f * c * (double)g->grad[o + i];
        vb[o + i] += (pfreal)dv;
        g->work += dv * dv;
      }
    }
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFGuideSampleCount(PFObservable obs, PetscInt nloc, double *count)
{
  PetscMPIInt grank = 0;

  PetscFunctionBegin;
  /* mesh states: the group's ranks share each sample */
  if (obs && obs->phys) PetscCallMPI(MPI_Comm_rank(obs->comm, &grank));
  *count = grank == 0 ? (double)nloc : 0.0;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFGuideSample(PFFlow flow, PFNet net, PFSampler sampler, PFObservable obs, const PFGuideSchedule *s, MPI_Comm world, uint64_t seed, PetscInt gidx0, PetscInt nloc, pfreal *x, double *work, PetscInt *nfe)
{
  GuideCtx g = {net, obs, s, net->nin, net->maxbatch, 0, NULL, NULL, NULL, NULL, NULL, NULL, 0};
  double   w[2];

  PetscFunctionBegin;
  PetscCheck(g.maxbatch > 0, obs->comm, PETSC_ERR_ORDER, "call PFNetPlan before sampling");
  PetscCall(PetscMalloc6(g.maxbatch, &g.tbuf, (size_t)g.maxbatch * g.n, &g.x1, (size_t)g.maxbatch * g.n, &g.grad, g.maxbatch, &g.f, (size_t)g.maxbatch * g.n, &g.jt, 2 * g.maxbatch, &g.dv2));
  PetscCall(PFFlowSampleVelocity(flow, sampler, seed, gidx0, nloc, g.n, GuideVelocity, &g, x, nfe));
  PetscCall(PetscFree6(g.tbuf, g.x1, g.grad, g.f, g.jt, g.dv2));
  /* the time average over the evaluations of the mean over all samples */
  w[0] = g.work / (double)PetscMax(g.nevals, 1);
  PetscCall(PFGuideSampleCount(obs, nloc, &w[1]));
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, w, 2, MPI_DOUBLE, MPI_SUM, world));
  *work = w[1] > 0 ? w[0] / w[1] : 0;
  PetscFunctionReturn(PETSC_SUCCESS);
}

typedef struct {
  PFFlow                   flow;
  PFNet                    net;
  PFSampler                sampler;
  PFObservable             obs;
  MPI_Comm                 world;
  const PFGuideTuneParams *tp;
  uint64_t                 seed;
  PetscInt                 gidx0, nloc, neval;
  pfreal                  *x;
  double                  *f, lambda, mean, work;
  PFGuideScheduleType      kind;
  PFGuideDriftType         drift;
  double                   clip;
} TuneCtx;

/* the tuning objective at theta = (log a, b) */
static PetscErrorCode Objective(void *vctx, const double th[], double *J)
{
  TuneCtx        *c = (TuneCtx *)vctx;
  PFGuideSchedule s = {c->lambda, exp(th[0]), PFGuideClampB(c->kind, th[1]), c->kind, c->drift, c->clip};
  PetscInt        nfe;
  double          m[2] = {0, 0};

  PetscFunctionBegin;
  PetscCall(PFGuideSample(c->flow, c->net, c->sampler, c->obs, &s, c->world, c->seed, c->gidx0, c->nloc, c->x, &c->work, &nfe));
  PetscCall(PFObservableEval(c->obs, c->nloc, c->x, c->f, NULL));
  PetscCall(PFGuideSampleCount(c->obs, c->nloc, &m[1]));
  if (m[1] > 0) {
    /* states without a value (a failed solve of a wild field) are left
     * out of the mean (and counted as not reached by the schedule) */
    m[1] = 0;
    for (PetscInt j = 0; j < c->nloc; j++)
      if (isfinite(c->f[j])) m[0] += c->f[j], m[1] += 1;
  }
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, m, 2, MPI_DOUBLE, MPI_SUM, c->world));
  c->mean = m[0] / m[1];
  *J      = (c->mean - c->tp->target) * (c->mean - c->tp->target) / c->tp->var + c->tp->gamma * c->work;
  if (!isfinite(*J)) *J = INFINITY;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFGuideTune(PFFlow flow, PFNet net, PFSampler sampler, PFObservable obs, MPI_Comm world, const PFGuideTuneParams *tp, uint64_t seed, PetscInt gidx0, PetscInt nloc, PFGuideSchedule *s, double *mean, double *work)
{
  TuneCtx c = {flow, net, sampler, obs, world, tp, seed, gidx0, nloc, 0, NULL, NULL, s->lambda, 0, 0, s->kind, s->drift, s->clip};
  double  th[2] = {log(s->a), s->b}, step[2] = {1, s->kind == PF_GUIDE_POWER ? 1 : 2}, J;

  PetscFunctionBegin;
  PetscCall(PetscMalloc2((size_t)PetscMax(nloc, 1) * net->nin, &c.x, PetscMax(nloc, 1), &c.f));
  {
    /* a coarse scan of the strength first (16a, 4a, a, a/4, a/16): a
     * strong tilt can make the starting schedule blow up the sampler (J =
     * inf), from where the simplex only retreats to no guidance at all */
    double best = INFINITY, la = th[0];
    for (int k = -2; k < 3; k++) {
      double t2[2] = {la - k * log(4.0), th[1]}, Jk;
      PetscCall(Objective(&c, t2, &Jk));
      if (Jk < best) best = Jk, th[0] = t2[0];
    }
  }
  PetscCall(PFNelderMead(world, 2, th, step, Objective, &c, PetscMax(tp->maxeval - 5, 4), &J));
  /* the chosen schedule's mean and work (the last run need not be the best) */
  PetscCall(Objective(&c, th, &J));
  s->a  = exp(th[0]);
  s->b  = PFGuideClampB(s->kind, th[1]);
  *mean = c.mean;
  *work = c.work;
  PetscCall(PetscFree2(c.x, c.f));
  PetscFunctionReturn(PETSC_SUCCESS);
}
