/* Time-dependent flow past the obstacle (DFG 2D-2, issue 8): BDF2 on the
 * Taylor-Hood discretisation, drag and lift per step, the Strouhal number
 * of the lift (solvers/navierstokes/ns.h). */
#include <math.h>
#include <petscts.h>
#include "ns.h"

typedef struct {
  PFNS    *ns;
  Vec      prev[2]; /* u at the two previous steps (BDF2's derivative) */
  PetscInt n, cap;
  double  *t, *cd, *cl;
  double   dt;
} Monitor;

/* after each step: u_t by the BDF2 formula (BDF1 at the first step), the
 * forces, the histories */
static PetscErrorCode MonitorForces(TS ts, PetscInt step, PetscReal time, Vec u, void *ctx)
{
  Monitor *m = (Monitor *)ctx;
  Vec      ut;
  double   cd = 0, cl = 0;

  PetscFunctionBegin;
  if (step > 0) {
    PetscCall(VecDuplicate(u, &ut));
    if (step == 1) PetscCall(VecAXPBYPCZ(ut, 1 / m->dt, -1 / m->dt, 0, u, m->prev[0]));
    else {
      PetscCall(VecAXPBYPCZ(ut, 1.5 / m->dt, -2 / m->dt, 0, u, m->prev[0]));
      PetscCall(VecAXPY(ut, 0.5 / m->dt, m->prev[1]));
    }
    PetscCall(PFNSForcesOf(m->ns, u, ut, &cd, &cl));
    PetscCall(VecDestroy(&ut));
  }
  if (m->n == m->cap) {
    double *a, *b, *c;
    m->cap = 2 * m->cap + 64;
    PetscCall(PetscMalloc3(m->cap, &a, m->cap, &b, m->cap, &c));
    if (m->n) {
      PetscCall(PetscArraycpy(a, m->t, m->n));
      PetscCall(PetscArraycpy(b, m->cd, m->n));
      PetscCall(PetscArraycpy(c, m->cl, m->n));
    }
    PetscCall(PetscFree3(m->t, m->cd, m->cl));
    m->t = a, m->cd = b, m->cl = c;
  }
  m->t[m->n] = time, m->cd[m->n] = cd, m->cl[m->n] = cl;
  for (PetscInt k = 0; k < m->ns->nsnap; k++) {
    PFNS *ns = m->ns;
    if (ns->snapstep[k] != step) continue;
    if (u != ns->u) PetscCall(VecCopy(u, ns->u));
    PetscCall(PFNSVertexValues(ns, ns->snapnown, ns->snapuvp + (size_t)k * 3 * ns->snapnown));
  }
  m->n++;
  PetscCall(VecCopy(m->prev[0], m->prev[1]));
  PetscCall(VecCopy(u, m->prev[0]));
  /* progress of long runs (datasets of snapshots report their own) */
  if (!m->ns->nsnap && step > 0 && step % 100 == 0) PetscCall(PetscPrintf(PetscObjectComm((PetscObject)ts), "  t = %.3f  c_D %.4f  c_L %+.4f\n", (double)time, cd, cl));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFNSSolveUnsteady(PFNS *ns, double Re, double dt, double tfinal, PetscInt *nsteps, double **t, double **cd, double **cl)
{
  TS      ts;
  DM      dmt;
  SNES    snes;
  KSP     ksp;
  PC      pc;
  Monitor m;

  PetscFunctionBegin;
  PetscCheck(Re > 0 && dt > 0 && tfinal > dt, ns->mesh->comm, PETSC_ERR_ARG_OUTOFRANGE, "need Re > 0 and 0 < dt < tfinal");
  if (!ns->unsteady) PetscCall(PFNSSetUnsteady(ns));
  PetscCall(PFNSSetViscosity(ns, Re));
  PetscCall(PFNSReset(ns));
  PetscCall(PetscMemzero(&m, sizeof(m)));
  m.ns = ns, m.dt = dt;
  PetscCall(VecDuplicate(ns->u, &m.prev[0]));
  PetscCall(VecDuplicate(ns->u, &m.prev[1]));
  PetscCall(VecSet(m.prev[0], 0));
  PetscCall(VecSet(m.prev[1], 0));
  PetscCall(TSCreate(ns->mesh->comm, &ts));
  PetscCall(TSSetOptionsPrefix(ts, "ns_"));
  /* a DM of its own: ns->dm's solver context holds the steady residual */
  PetscCall(DMClone(ns->dm, &dmt));
  PetscCall(DMCopyDisc(ns->dm, dmt));
  PetscCall(TSSetDM(ts, dmt));
  PetscCall(DMTSSetBoundaryLocal(dmt, DMPlexTSComputeBoundary, ns));
  PetscCall(DMTSSetIFunctionLocal(dmt, DMPlexTSComputeIFunctionFEM, ns));
  PetscCall(DMTSSetIJacobianLocal(dmt, DMPlexTSComputeIJacobianFEM, ns));
  PetscCall(TSSetType(ts, TSBDF));
  PetscCall(TSBDFSetOrder(ts, 2));
  PetscCall(TSSetTimeStep(ts, dt));
  PetscCall(TSSetMaxTime(ts, tfinal));
  PetscCall(TSSetExactFinalTime(ts, TS_EXACTFINALTIME_MATCHSTEP));
  {
    /* fixed steps (an impulsive start from rest would make the error
     * control shrink dt without end) */
    TSAdapt adapt;
    PetscCall(TSGetAdapt(ts, &adapt));
    PetscCall(TSAdaptSetType(adapt, TSADAPTNONE));
  }
  PetscCall(TSGetSNES(ts, &snes));
  PetscCall(SNESSetTolerances(snes, 1e-12, 1e-8, 0, 20, PETSC_DEFAULT));
  PetscCall(SNESGetKSP(snes, &ksp));
  PetscCall(KSPSetType(ksp, KSPPREONLY));
  PetscCall(KSPGetPC(ksp, &pc));
  PetscCall(PCSetType(pc, PCLU));
  PetscCall(PCFactorSetMatSolverType(pc, MATSOLVERMUMPS));
  PetscCall(TSMonitorSet(ts, MonitorForces, &m, NULL));
  PetscCall(TSSetFromOptions(ts));
  PetscCall(TSSolve(ts, ns->u));
  ns->Re = Re;
  PetscCall(TSDestroy(&ts));
  PetscCall(DMDestroy(&dmt));
  PetscCall(VecDestroy(&m.prev[0]));
  PetscCall(VecDestroy(&m.prev[1]));
  *nsteps = m.n - 1, *t = m.t, *cd = m.cd, *cl = m.cl;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFNSSetSnapshots(PFNS *ns, PetscInt n, const PetscInt step[], PetscInt nown, PetscScalar *uvp)
{
  PetscFunctionBegin;
  ns->nsnap = n, ns->snapstep = step, ns->snapnown = nown, ns->snapuvp = uvp;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFNSStrouhal(PFNS *ns, PetscInt n, const double t[], const double cd[], const double cl[], PetscInt periods, double *St, double *cdmax, double *clmax)
{
  double   mean = 0, up[4096];
  PetscInt nup = 0, k0;

  PetscFunctionBegin;
  *St = *cdmax = *clmax = -1;
  if (n < 4) PetscFunctionReturn(PETSC_SUCCESS);
  /* the mean over the last quarter of the signal, then its upward crossings */
  k0 = 3 * n / 4;
  for (PetscInt k = k0; k < n; k++) mean += cl[k] / (double)(n - k0);
  for (PetscInt k = 1; k < n && nup < 4096; k++)
    if (cl[k - 1] < mean && cl[k] >= mean) up[nup++] = t[k - 1] + (t[k] - t[k - 1]) * (mean - cl[k - 1]) / (cl[k] - cl[k - 1]);
  if (nup < periods + 1) PetscFunctionReturn(PETSC_SUCCESS);
  *St = ns->D / (ns->U_mean * (up[nup - 1] - up[nup - 1 - periods]) / (double)periods);
  *cdmax = *clmax = -INFINITY;
  for (PetscInt k = 0; k < n; k++)
    if (t[k] >= up[nup - 1 - periods]) *cdmax = PetscMax(*cdmax, cd[k]), *clmax = PetscMax(*clmax, cl[k]);
  PetscFunctionReturn(PETSC_SUCCESS);
}
