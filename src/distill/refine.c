/* PIDDM's noise refinement of a one-step student (include/physflow/refine.h) */
#include <physflow/optim.h>
#include <physflow/private/netimpl.h>
#include <physflow/refine.h>

/* The objective at z (batch mean) and, with g, its gradient d/dz */
static PetscErrorCode Objective(PFConstraint c, PFNet net, PetscInt B, PetscInt n, const PFRefineParams *p, double nobs, double ncomp, const pfreal *z, pfreal *x, pfreal *gx, pfreal *v, pfreal *tb, pfreal *g, double *L)
{
  const size_t N = (size_t)B * n;
  double       lres = 0, loc[2] = {0, 0}, *one;
  MPI_Comm     comm;

  PetscFunctionBegin;
  PetscCall(PFConstraintGetComm(c, &comm));
  for (PetscInt b = 0; b < B; b++) tb[b] = 0;
  PetscCall(PFNetForward(net, B, z, tb, v));
  for (size_t q = 0; q < N; q++) {
    pfreal m = p->mask ? p->mask[q % n] : 0;
    x[q]     = (m > 0 ? m * p->y[q % n] : 0) + (1 - m) * (z[q] + v[q]); /* the mixed field */
  }
  PetscCall(PetscMalloc1(B, &one));
  for (PetscInt b = 0; b < B; b++) one[b] = p->lambda;
  PetscCall(PFConstraintStateLoss(c, B, B, x, one, &lres, gx));
  PetscCall(PetscFree(one));
  for (size_t q = 0; q < N; q++) {
    pfreal m = p->mask ? p->mask[q % n] : 0, d = m > 0 ? z[q] + v[q] - p->y[q % n] : 0;
    loc[0] += m * (double)d * (double)d;
    loc[1] += (double)z[q] * (double)z[q];
    /* the residual sees only the unobserved entries of G(z) */
    gx[q] = (1 - m) * gx[q] + (nobs > 0 ? (pfreal)(2 * p->obs_weight / (nobs * B)) * m * d : 0);
  }
  if (g) {
    PetscCall(PFNetBackward(net, B, gx, g)); /* J_v^T gx */
    for (size_t q = 0; q < N; q++) g[q] += gx[q] + (pfreal)(p->prior / (ncomp * B)) * z[q];
  }
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, loc, 2, MPI_DOUBLE, MPI_SUM, comm));
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, &lres, 1, MPI_DOUBLE, MPI_SUM, comm));
  *L = (lres + (nobs > 0 ? p->obs_weight * loc[0] / nobs : 0) + p->prior * loc[1] / (2 * ncomp)) / B;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFRefineNoise(PFConstraint c, PFNet net, PetscInt B, const PFRefineParams *p, pfreal *z, pfreal *x, double loss[2])
{
  const PetscInt n = net->nin;
  const size_t   N = (size_t)B * n;
  PFAdamWParams  adam = {0.9, 0.999, 1e-8, 0};
  pfreal        *gx, *v, *tb, *g, *m, *vv;
  double         cnt[2] = {0, (double)n}, L;
  MPI_Comm       comm;

  PetscFunctionBegin;
  PetscCheck(p->steps >= 0 && p->lr > 0 && p->lambda >= 0 && p->obs_weight >= 0 && p->prior >= 0, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "refinement needs steps >= 0, lr > 0 and non-negative weights");
  PetscCheck(!p->mask || p->y, PETSC_COMM_SELF, PETSC_ERR_ARG_NULL, "observations need their values");
  PetscCall(PFConstraintGetComm(c, &comm));
  if (p->mask)
    for (PetscInt i = 0; i < n; i++) cnt[0] += (double)p->mask[i];
  /* observed and all components of one state over the group */
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, cnt, 2, MPI_DOUBLE, MPI_SUM, comm));
  PetscCall(PFNetPlan(net, B));
  PetscCall(PetscMalloc6(N, &gx, N, &v, B, &tb, N, &g, N, &m, N, &vv));
  PetscCall(PetscArrayzero(m, N));
  PetscCall(PetscArrayzero(vv, N));
  for (PetscInt k = 0; k < p->steps; k++) {
    PetscCall(Objective(c, net, B, n, p, cnt[0], cnt[1], z, x, gx, v, tb, g, &L));
    if (k == 0) loss[0] = L;
    PFAdamWStep(N, &adam, p->lr, k + 1, z, g, m, vv);
  }
  PetscCall(Objective(c, net, B, n, p, cnt[0], cnt[1], z, x, gx, v, tb, NULL, &L));
  if (p->steps == 0) loss[0] = L;
  loss[1] = L;
  PetscCall(PetscFree6(gx, v, tb, g, m, vv));
  PetscFunctionReturn(PETSC_SUCCESS);
}
