/* Path guidance (include/physflow/guide.h): a kernel density estimate of
 * guiding samples pushed back along the base flow, followed while sampling */
#include <math.h>
#include <physflow/guide.h>
#include <physflow/private/netimpl.h>

typedef struct {
  PFNet              net;
  const PFPathGuide *pg;
  PetscInt           n, nevals, nlogit;
  pfreal            *tbuf;
  double            *logit, work; /* logit [nlogit >= batch M] */
  PetscBool          guide;
} PathCtx;

/* v = the base velocity (+ the KDE drift when guiding) */
static PetscErrorCode PathVelocity(void *vctx, double t, PetscInt nloc, const pfreal *x, pfreal *v)
{
  PathCtx           *c  = (PathCtx *)vctx;
  const PFPathGuide *pg = c->pg;

  PetscFunctionBegin;
  c->nevals++;
  PetscCall(PFNetForwardAtTime(c->net, nloc, x, t, c->tbuf, v));
  if (!c->guide) PetscFunctionReturn(PETSC_SUCCESS);
  {
    const PFGuideSchedule s = {0, pg->a, pg->b, pg->kind, PF_GUIDE_X1HAT, 0};
    const double  alpha = PFGuideAlpha(&s, t), h2 = pow(t * pg->h0, 2) + pow(1 - t, 2);
    double        u     = PetscMin(PetscMax(t, 0.0), 1.0) * pg->K, w;
    PetscInt      k     = PetscMin((PetscInt)floor(u), pg->K - 1);
    const pfreal *Y0 = pg->Y + (size_t)k * pg->M * pg->n, *Y1 = Y0 + (size_t)pg->M * pg->n;
    w = u - k;
    if (nloc * pg->M > c->nlogit) {
      PetscCall(PetscFree(c->logit));
      c->nlogit = nloc * pg->M;
      PetscCall(PetscMalloc1(c->nlogit, &c->logit));
    }
    /* squared distances to the guides' interpolated positions (a state
     * split over a group: summed over its ranks) */
    for (PetscInt b = 0; b < nloc; b++) {
      const pfreal *xb = x + (size_t)b * c->n;
      for (PetscInt j = 0; j < pg->M; j++) {
        double d2 = 0;
        for (PetscInt i = 0; i < pg->n; i++) {
          double y = (1 - w) * Y0[j * pg->n + i] + w * Y1[j * pg->n + i] - xb[i];
          d2 += y * y;
        }
        c->logit[b * pg->M + j] = d2;
      }
    }
    if (pg->gcomm != MPI_COMM_SELF) PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, c->logit, (PetscMPIInt)(nloc * pg->M), MPI_DOUBLE, MPI_SUM, pg->gcomm));
    for (PetscInt b = 0; b < nloc; b++) {
      const pfreal *xb = x + (size_t)b * c->n;
      double       *lg = c->logit + b * pg->M, mx = -INFINITY, z = 0;
      /* softmax weights of the kernels */
      for (PetscInt j = 0; j < pg->M; j++) {
        lg[j] = -lg[j] / (2 * h2);
        mx    = PetscMax(mx, lg[j]);
      }
      for (PetscInt j = 0; j < pg->M; j++) z += (lg[j] = exp(lg[j] - mx));
      for (PetscInt i = 0; i < pg->n; i++) {
        double g = 0, dv;
        for (PetscInt j = 0; j < pg->M; j++) g += lg[j] * ((1 - w) * Y0[j * pg->n + i] + w * Y1[j * pg->n + i] - xb[i]);
        dv = alpha * g / (z * h2);
        v[(size_t)b * c->n + i] += (pfreal)dv;
        c->work += dv * dv;
      }
    }
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFPathGuideBuild(PFNet net, MPI_Comm gcomm, PetscInt K, PetscInt M, const pfreal *x1, PFPathGuide *pg)
{
  const PetscInt n = net->nin;
  PFSampler      step;
  PathCtx        c = {net, pg, n, 0, 0, NULL, NULL, 0, PETSC_FALSE};
  PetscInt       nfe = 0;

  PetscFunctionBegin;
  PetscCheck(K >= 1 && M >= 1, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "path guidance needs K >= 1 steps and M >= 1 guiding samples");
  pg->M = M, pg->n = n, pg->K = K, pg->gcomm = gcomm;
  PetscCall(PetscMalloc1((size_t)(K + 1) * M * n, &pg->Y));
  PetscCall(PetscArraycpy(pg->Y + (size_t)K * M * n, x1, (size_t)M * n));
  PetscCall(PFNetPlan(net, PetscMax(net->maxbatch, M)));
  PetscCall(PetscMalloc1(net->maxbatch, &c.tbuf));
  /* backwards in time, one Heun step per grid interval */
  PetscCall(PFSamplerCreate(PETSC_COMM_SELF, &step));
  PetscCall(PFSamplerSetType(step, PFSAMPLERHEUN));
  PetscCall(PFSamplerSetSteps(step, 1));
  for (PetscInt k = K; k > 0; k--) {
    pfreal *y = pg->Y + (size_t)(k - 1) * M * n;
    PetscCall(PetscArraycpy(y, y + (size_t)M * n, (size_t)M * n));
    PetscCall(PFSamplerIntegrate(step, PathVelocity, &c, M, n, (double)k / K, (double)(k - 1) / K, y, &nfe));
  }
  PetscCall(PFSamplerDestroy(&step));
  PetscCall(PetscFree(c.tbuf));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFPathGuideSample(PFFlow flow, PFNet net, PFSampler sampler, const PFPathGuide *pg, MPI_Comm comm, uint64_t seed, PetscInt gidx0, PetscInt nloc, pfreal *x, double *work, PetscInt *nfe)
{
  PathCtx     c = {net, pg, net->nin, 0, 0, NULL, NULL, 0, PETSC_TRUE};
  double      w[2];
  PetscMPIInt grank = 0;

  PetscFunctionBegin;
  PetscCheck(net->maxbatch > 0, comm, PETSC_ERR_ORDER, "call PFNetPlan before sampling");
  PetscCheck(pg->n == net->nin, comm, PETSC_ERR_ARG_SIZ, "the guiding paths have %" PetscInt_FMT " values per state, the network %" PetscInt_FMT, pg->n, net->nin);
  PetscCall(PetscMalloc1(net->maxbatch, &c.tbuf));
  PetscCall(PFFlowSampleVelocity(flow, sampler, seed, gidx0, nloc, c.n, PathVelocity, &c, x, nfe));
  PetscCall(PetscFree(c.tbuf));
  PetscCall(PetscFree(c.logit));
  if (pg->gcomm != MPI_COMM_SELF) PetscCallMPI(MPI_Comm_rank(pg->gcomm, &grank));
  w[0] = c.work / (double)PetscMax(c.nevals, 1);
  w[1] = grank == 0 ? (double)nloc : 0; /* a group's samples count once */
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, w, 2, MPI_DOUBLE, MPI_SUM, comm));
  *work = w[1] > 0 ? w[0] / w[1] : 0;
  PetscFunctionReturn(PETSC_SUCCESS);
}

void PFPathRegionInside(const double box[4], PetscInt n, PetscInt B, const pfreal *x, PetscInt *in)
{
  for (PetscInt b = 0; b < B; b++) {
    double x0 = x[b * n], x1 = n > 1 ? x[b * n + 1] : 0;
    in[b]     = x0 >= box[0] && x0 <= box[1] && x1 >= box[2] && x1 <= box[3];
  }
}

PetscErrorCode PFPathInside(const PFPathTuneParams *tp, PetscInt n, PetscInt B, const pfreal *x, PetscInt *in)
{
  double *f;

  PetscFunctionBegin;
  if (!tp->obs) {
    PFPathRegionInside(tp->box, n, B, x, in);
    PetscFunctionReturn(PETSC_SUCCESS);
  }
  PetscCall(PetscMalloc1(B + 1, &f));
  PetscCall(PFObservableEval(tp->obs, B, x, f, NULL));
  for (PetscInt b = 0; b < B; b++) in[b] = f[b] >= tp->threshold;
  PetscCall(PetscFree(f));
  PetscFunctionReturn(PETSC_SUCCESS);
}

typedef struct {
  PFFlow                  flow;
  PFNet                   net;
  PFSampler               sampler;
  const PFPathTuneParams *tp;
  MPI_Comm                comm;
  uint64_t                seed;
  PetscInt                gidx0, nloc, *in;
  pfreal                 *x;
  PFPathGuide            *pg;
  double                  frac, work;
} PathTuneCtx;

/* theta = (log a, b, log h0) */
static PetscErrorCode PathObjective(void *vctx, const double th[], double *J)
{
  PathTuneCtx *c = (PathTuneCtx *)vctx;
  PetscInt     nfe;
  double       cnt[2] = {0, 0};

  PetscFunctionBegin;
  c->pg->a  = exp(th[0]);
  c->pg->b  = PFGuideClampB(c->pg->kind, th[1]);
  c->pg->h0 = exp(PetscMin(PetscMax(th[2], -10.0), 5.0));
  PetscCall(PFPathGuideSample(c->flow, c->net, c->sampler, c->pg, c->comm, c->seed, c->gidx0, c->nloc, c->x, &c->work, &nfe));
  PetscCall(PFPathInside(c->tp, c->net->nin, c->nloc, c->x, c->in));
  PetscCall(PFGuideSampleCount(c->tp->obs, c->nloc, &cnt[1]));
  if (cnt[1] > 0)
    for (PetscInt b = 0; b < c->nloc; b++) cnt[0] += (double)c->in[b];
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, cnt, 2, MPI_DOUBLE, MPI_SUM, c->comm));
  c->frac = cnt[0] / cnt[1];
  /* push until the target fraction, then only the work counts: pushing
   * further would squeeze the samples onto the guides */
  *J = PetscSqr(PetscMax(0.0, log(c->tp->fraction) - log(c->frac + 1e-3))) + c->tp->gamma * c->work;
  if (!isfinite(*J)) *J = INFINITY;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFPathGuideTune(PFFlow flow, PFNet net, PFSampler sampler, const PFPathTuneParams *tp, MPI_Comm comm, uint64_t seed, PetscInt gidx0, PetscInt nloc, PFPathGuide *pg, double *frac, double *work)
{
  PathTuneCtx c     = {flow, net, sampler, tp, comm, seed, gidx0, nloc, NULL, NULL, pg, 0, 0};
  double      th[3] = {log(pg->a), pg->b, log(pg->h0)}, step[3] = {1, pg->kind == PF_GUIDE_POWER ? 1 : 2, 1}, J;

  PetscFunctionBegin;
  PetscCall(PetscMalloc2((size_t)PetscMax(nloc, 1) * net->nin, &c.x, PetscMax(nloc, 1), &c.in));
  PetscCall(PFNelderMead(comm, 3, th, step, PathObjective, &c, tp->maxeval, &J));
  PetscCall(PathObjective(&c, th, &J)); /* leaves pg at the best */
  *frac = c.frac;
  *work = c.work;
  PetscCall(PetscFree2(c.x, c.in));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFPathGuideDestroy(PFPathGuide *pg)
{
  PetscFunctionBegin;
  PetscCall(PetscFree(pg->Y));
  PetscFunctionReturn(PETSC_SUCCESS);
}
