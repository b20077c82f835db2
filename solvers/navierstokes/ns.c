/* Steady incompressible Navier-Stokes, Taylor-Hood on a PFMesh
 * (solvers/navierstokes/ns.h). */
#include <math.h>
#include <petscds.h>
#include <petscsf.h>
#include <physflow/log.h>
#include "ns.h"

/* PETSc's pointwise-function signature is fixed; most arguments go unused */
#pragma GCC diagnostic ignored "-Wunused-parameter"

/* ---- pointwise residuals and Jacobians (constants[0] = nu) ----
 * u_x[c dim + d] = d u_c / d x_d */
static void f0_u(PetscInt dim, PetscInt Nf, PetscInt NfAux, const PetscInt uOff[], const PetscInt uOff_x[], const PetscScalar u[], const PetscScalar u_t[], const PetscScalar u_x[], const PetscInt aOff[], const PetscInt aOff_x[], const PetscScalar a[], const PetscScalar a_t[], const PetscScalar a_x[], PetscReal t, const PetscReal x[], PetscInt nc, const PetscScalar constants[], PetscScalar f0[])
{
  for (PetscInt c = 0; c < dim; c++) {
    f0[c] = 0;
    for (PetscInt d = 0; d < dim; d++) f0[c] += u[d] * u_x[c * dim + d];
  }
}

/* nu grad u - p I: the "gradient" form, whose natural condition is the
 * DFG benchmark's do-nothing outflow nu du/dn - p n = 0 */
static void f1_u(PetscInt dim, PetscInt Nf, PetscInt NfAux, const PetscInt uOff[], const PetscInt uOff_x[], const PetscScalar u[], const PetscScalar u_t[], const PetscScalar u_x[], const PetscInt aOff[], const PetscInt aOff_x[], const PetscScalar a[], const PetscScalar a_t[], const PetscScalar a_x[], PetscReal t, const PetscReal x[], PetscInt nc, const PetscScalar constants[], PetscScalar f1[])
{
  const PetscScalar nu = constants[0], p = u[uOff[1]];
  for (PetscInt c = 0; c < dim; c++)
    for (PetscInt d = 0; d < dim; d++) f1[c * dim + d] = nu * u_x[c * dim + d] - (c == d ? p : 0);
}

static void f0_p(PetscInt dim, PetscInt Nf, PetscInt NfAux, const PetscInt uOff[], const PetscInt uOff_x[], const PetscScalar u[], const PetscScalar u_t[], const PetscScalar u_x[], const PetscInt aOff[], const PetscInt aOff_x[], const PetscScalar a[], const PetscScalar a_t[], const PetscScalar a_x[], PetscReal t, const PetscReal x[], PetscInt nc, const PetscScalar constants[], PetscScalar f0[])
{
  f0[0] = 0;
  for (PetscInt d = 0; d < dim; d++) f0[0] += u_x[d * dim + d];
}

static void g0_uu(PetscInt dim, PetscInt Nf, PetscInt NfAux, const PetscInt uOff[], const PetscInt uOff_x[], const PetscScalar u[], const PetscScalar u_t[], const PetscScalar u_x[], const PetscInt aOff[], const PetscInt aOff_x[], const PetscScalar a[], const PetscScalar a_t[], const PetscScalar a_x[], PetscReal t, PetscReal s, const PetscReal x[], PetscInt nc, const PetscScalar constants[], PetscScalar g0[])
{
  for (PetscInt c = 0; c < dim; c++)
    for (PetscInt d = 0; d < dim; d++) g0[c * dim + d] = u_x[c * dim + d];
}

static void g1_uu(PetscInt dim, PetscInt Nf, PetscInt NfAux, const PetscInt uOff[], const PetscInt uOff_x[], const PetscScalar u[], const PetscScalar u_t[], const PetscScalar u_x[], const PetscInt aOff[], const PetscInt aOff_x[], const PetscScalar a[], const PetscScalar a_t[], const PetscScalar a_x[], PetscReal t, PetscReal s, const PetscReal x[], PetscInt nc, const PetscScalar constants[], PetscScalar g1[])
{
  for (PetscInt k = 0; k < dim * dim * dim; k++) g1[k] = 0;
  for (PetscInt c = 0; c < dim; c++)
    for (PetscInt e = 0; e < dim; e++) g1[(c * dim + c) * dim + e] = u[e];
}

static void g3_uu(PetscInt dim, PetscInt Nf, PetscInt NfAux, const PetscInt uOff[], const PetscInt uOff_x[], const PetscScalar u[], const PetscScalar u_t[], const PetscScalar u_x[], const PetscInt aOff[], const PetscInt aOff_x[], const PetscScalar a[], const PetscScalar a_t[], const PetscScalar a_x[], PetscReal t, PetscReal s, const PetscReal x[], PetscInt nc, const PetscScalar constants[], PetscScalar g3[])
{
  for (PetscInt k = 0; k < dim * dim * dim * dim; k++) g3[k] = 0;
  for (PetscInt c = 0; c < dim; c++)
    for (PetscInt d = 0; d < dim; d++) g3[((c * dim + c) * dim + d) * dim + d] = constants[0];
}

static void g2_up(PetscInt dim, PetscInt Nf, PetscInt NfAux, const PetscInt uOff[], const PetscInt uOff_x[], const PetscScalar u[], const PetscScalar u_t[], const PetscScalar u_x[], const PetscInt aOff[], const PetscInt aOff_x[], const PetscScalar a[], const PetscScalar a_t[], const PetscScalar a_x[], PetscReal t, PetscReal s, const PetscReal x[], PetscInt nc, const PetscScalar constants[], PetscScalar g2[])
{
  for (PetscInt d = 0; d < dim; d++) g2[d * dim + d] = -1.0;
}

static void g1_pu(PetscInt dim, PetscInt Nf, PetscInt NfAux, const PetscInt uOff[], const PetscInt uOff_x[], const PetscScalar u[], const PetscScalar u_t[], const PetscScalar u_x[], const PetscInt aOff[], const PetscInt aOff_x[], const PetscScalar a[], const PetscScalar a_t[], const PetscScalar a_x[], PetscReal t, PetscReal s, const PetscReal x[], PetscInt nc, const PetscScalar constants[], PetscScalar g1[])
{
  for (PetscInt d = 0; d < dim; d++) g1[d * dim + d] = 1.0;
}

/* the Schur complement's preconditioner: the pressure mass matrix / nu */
static void g0_pp(PetscInt dim, PetscInt Nf, PetscInt NfAux, const PetscInt uOff[], const PetscInt uOff_x[], const PetscScalar u[], const PetscScalar u_t[], const PetscScalar u_x[], const PetscInt aOff[], const PetscInt aOff_x[], const PetscScalar a[], const PetscScalar a_t[], const PetscScalar a_x[], PetscReal t, PetscReal s, const PetscReal x[], PetscInt nc, const PetscScalar constants[], PetscScalar g0[])
{
  g0[0] = 1.0 / constants[0];
}

/* time-dependent flows (TS): u_t + (u . grad) u, and the shift */
static void f0_u_t(PetscInt dim, PetscInt Nf, PetscInt NfAux, const PetscInt uOff[], const PetscInt uOff_x[], const PetscScalar u[], const PetscScalar u_t[], const PetscScalar u_x[], const PetscInt aOff[], const PetscInt aOff_x[], const PetscScalar a[], const PetscScalar a_t[], const PetscScalar a_x[], PetscReal t, const PetscReal x[], PetscInt nc, const PetscScalar constants[], PetscScalar f0[])
{
  f0_u(dim, Nf, NfAux, uOff, uOff_x, u, u_t, u_x, aOff, aOff_x, a, a_t, a_x, t, x, nc, constants, f0);
  for (PetscInt c = 0; c < dim; c++) f0[c] += u_t[c];
}

static void g0_uu_t(PetscInt dim, PetscInt Nf, PetscInt NfAux, const PetscInt uOff[], const PetscInt uOff_x[], const PetscScalar u[], const PetscScalar u_t[], const PetscScalar u_x[], const PetscInt aOff[], const PetscInt aOff_x[], const PetscScalar a[], const PetscScalar a_t[], const PetscScalar a_x[], PetscReal t, PetscReal s, const PetscReal x[], PetscInt nc, const PetscScalar constants[], PetscScalar g0[])
{
  g0_uu(dim, Nf, NfAux, uOff, uOff_x, u, u_t, u_x, aOff, aOff_x, a, a_t, a_x, t, s, x, nc, constants, g0);
  for (PetscInt c = 0; c < dim; c++) g0[c * dim + c] += s;
}

PetscErrorCode PFNSSetUnsteady(PFNS *ns)
{
  DM dms[2] = {ns->dm, ns->dmf};

  PetscFunctionBegin;
  for (int k = 0; k < 2; k++) {
    PetscDS ds;
    PetscCall(DMGetDS(dms[k], &ds));
    PetscCall(PetscDSSetResidual(ds, 0, f0_u_t, f1_u));
    PetscCall(PetscDSSetJacobian(ds, 0, 0, g0_uu_t, g1_uu, NULL, g3_uu));
  }
  ns->unsteady = PETSC_TRUE;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* ---- boundary values ---- */
static PetscErrorCode Inflow(PetscInt dim, PetscReal time, const PetscReal x[], PetscInt Nc, PetscScalar *u, void *ctx)
{
  const PFNS *ns = (const PFNS *)ctx;
  const double Um = 1.5 * ns->U_mean, H = ns->H;
  u[0] = 4 * Um * x[1] * (H - x[1]) / (H * H);
  for (PetscInt c = 1; c < Nc; c++) u[c] = 0;
  return PETSC_SUCCESS;
}

static PetscErrorCode Zero(PetscInt dim, PetscReal time, const PetscReal x[], PetscInt Nc, PetscScalar *u, void *ctx)
{
  for (PetscInt c = 0; c < Nc; c++) u[c] = 0;
  return PETSC_SUCCESS;
}


/* A clone of the mesh with the P2/P1 (Q2/Q1) fields and the steady
 * equations; boundary conditions: bcs = 0 none, 1 inflow and walls, 2 also
 * the obstacle */
PetscErrorCode PFNSCreateDiscretisation(PFNS *ns, PetscInt bcs, DM *dm)
{
  PetscFE  fe[2];
  PetscDS  ds;
  DMLabel  label;
  PetscInt dim = ns->mesh->dim;

  PetscFunctionBegin;
  PetscCall(DMClone(ns->mesh->dm, dm));
  PetscCall(PetscFECreateLagrange(PETSC_COMM_SELF, dim, dim, ns->mesh->simplex, ns->order, PETSC_DETERMINE, &fe[0]));
  PetscCall(PetscFECreateLagrange(PETSC_COMM_SELF, dim, 1, ns->mesh->simplex, ns->order - 1, PETSC_DETERMINE, &fe[1]));
  PetscCall(PetscFECopyQuadrature(fe[0], fe[1]));
  PetscCall(PetscObjectSetName((PetscObject)fe[0], "velocity"));
  PetscCall(PetscObjectSetName((PetscObject)fe[1], "pressure"));
  PetscCall(DMSetField(*dm, 0, NULL, (PetscObject)fe[0]));
  PetscCall(DMSetField(*dm, 1, NULL, (PetscObject)fe[1]));
  PetscCall(PetscFEDestroy(&fe[0]));
  PetscCall(PetscFEDestroy(&fe[1]));
  PetscCall(DMCreateDS(*dm));
  PetscCall(DMGetDS(*dm, &ds));
  PetscCall(PetscDSSetResidual(ds, 0, f0_u, f1_u));
  PetscCall(PetscDSSetResidual(ds, 1, f0_p, NULL));
  PetscCall(PetscDSSetJacobian(ds, 0, 0, g0_uu, g1_uu, NULL, g3_uu));
  PetscCall(PetscDSSetJacobian(ds, 0, 1, NULL, NULL, g2_up, NULL));
  PetscCall(PetscDSSetJacobian(ds, 1, 0, NULL, g1_pu, NULL, NULL));
  if (ns->schur_mass) {
    /* a separate preconditioning matrix: the velocity block and the
     * pressure mass / nu for the Schur complement (-ns_pc_type fieldsplit
     * -ns_pc_fieldsplit_schur_precondition a11); a direct solver must not
     * get it (it lacks the coupling blocks) */
    PetscCall(PetscDSSetJacobianPreconditioner(ds, 0, 0, g0_uu, g1_uu, NULL, g3_uu));
    PetscCall(PetscDSSetJacobianPreconditioner(ds, 1, 1, g0_pp, NULL, NULL, NULL));
  }
  PetscCall(PetscDSSetConstants(ds, 1, &ns->nu));
  /* boundary groups: Gmsh marks the faces; the conditions need their closure */
  PetscCall(DMGetLabel(*dm, "ns_boundary", &label));
  PetscCheck(label, PETSC_COMM_SELF, PETSC_ERR_PLIB, "boundary label missing");
  if (bcs >= 1) PetscCall(DMAddBoundary(*dm, DM_BC_ESSENTIAL, "inlet", label, 1, &ns->tag_in, 0, 0, NULL, (void (*)(void))Inflow, NULL, ns, NULL));
  if (bcs >= 1) PetscCall(DMAddBoundary(*dm, DM_BC_ESSENTIAL, "walls", label, 1, &ns->tag_wall, 0, 0, NULL, (void (*)(void))Zero, NULL, NULL, NULL));
  if (bcs >= 2) PetscCall(DMAddBoundary(*dm, DM_BC_ESSENTIAL, "obstacle", label, 1, &ns->tag_obs, 0, 0, NULL, (void (*)(void))Zero, NULL, NULL, NULL));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFNSCreate(PFMesh mesh, PFNS **nsp)
{
  PFNS     *ns;
  DMLabel   faces, bl;
  KSP       ksp;
  PC        pc;

  PetscFunctionBegin;
  PetscCall(PetscNew(&ns));
  ns->mesh   = mesh;
  ns->U_mean = 0.2, ns->D = 0.1, ns->H = 0.41, ns->order = 2;
  PetscCall(PetscStrncpy(ns->inlet, "inlet", sizeof(ns->inlet)));
  PetscCall(PetscStrncpy(ns->outlet, "outlet", sizeof(ns->outlet)));
  PetscCall(PetscStrncpy(ns->walls, "walls", sizeof(ns->walls)));
  PetscCall(PetscStrncpy(ns->obstacle, "obstacle", sizeof(ns->obstacle)));
  PetscOptionsBegin(mesh->comm, NULL, "Navier-Stokes (flow past an obstacle in a channel)", "PFNS");
  PetscCall(PetscOptionsReal("-ns_U_mean", "Mean inflow velocity (the parabola peaks at 1.5 x)", "PFNS", ns->U_mean, &ns->U_mean, NULL));
  PetscCall(PetscOptionsReal("-ns_D", "Obstacle diameter (the length of Re and of the force coefficients)", "PFNS", ns->D, &ns->D, NULL));
  PetscCall(PetscOptionsReal("-ns_H", "Channel height (the inflow parabola spans y in [0, H])", "PFNS", ns->H, &ns->H, NULL));
  PetscCall(PetscOptionsInt("-ns_order", "Velocity degree (pressure: one less; 2 = Taylor-Hood)", "PFNS", ns->order, &ns->order, NULL));
  PetscCall(PetscOptionsBool("-ns_schur_mass", "Precondition with the velocity block and the pressure mass matrix / nu (for -ns_pc_type fieldsplit -ns_pc_fieldsplit_type schur -ns_pc_fieldsplit_schur_precondition a11)", "PFNS", ns->schur_mass, &ns->schur_mass, NULL));
  PetscCall(PetscOptionsString("-ns_inlet", "Boundary group of the parabolic inflow", "PFNS", ns->inlet, ns->inlet, sizeof(ns->inlet), NULL));
  PetscCall(PetscOptionsString("-ns_outlet", "Boundary group of the do-nothing outflow", "PFNS", ns->outlet, ns->outlet, sizeof(ns->outlet), NULL));
  PetscCall(PetscOptionsString("-ns_walls", "Boundary group of the no-slip channel walls", "PFNS", ns->walls, ns->walls, sizeof(ns->walls), NULL));
  PetscCall(PetscOptionsString("-ns_obstacle", "Boundary group of the no-slip obstacle (drag and lift act on it)", "PFNS", ns->obstacle, ns->obstacle, sizeof(ns->obstacle), NULL));
  PetscOptionsEnd();
  PetscCheck(ns->U_mean > 0 && ns->D > 0 && ns->H > 0, mesh->comm, PETSC_ERR_ARG_OUTOFRANGE, "-ns_U_mean, -ns_D and -ns_H must be positive");
  PetscCheck(ns->order >= 2, mesh->comm, PETSC_ERR_ARG_OUTOFRANGE, "-ns_order must be >= 2 (P1/P0 is not inf-sup stable)");
  PetscCall(PFMeshGetBoundaryGroup(mesh, ns->inlet, &ns->tag_in));
  PetscCall(PFMeshGetBoundaryGroup(mesh, ns->outlet, &ns->tag_out));
  PetscCall(PFMeshGetBoundaryGroup(mesh, ns->walls, &ns->tag_wall));
  PetscCall(PFMeshGetBoundaryGroup(mesh, ns->obstacle, &ns->tag_obs));
  /* the boundary label with the faces' closure (vertices, and the edge
   * dofs of P2), on the mesh both discretisations clone */
  PetscCall(DMGetLabel(mesh->dm, "ns_boundary", &bl));
  if (!bl) {
    PetscCall(DMGetLabel(mesh->dm, "Face Sets", &faces));
    PetscCheck(faces, mesh->comm, PETSC_ERR_ARG_WRONG, "mesh '%s' has no boundary groups (Face Sets): Navier-Stokes needs a Gmsh mesh with physical curves %s, %s, %s, %s", mesh->source, ns->inlet, ns->outlet, ns->walls, ns->obstacle);
    PetscCall(DMLabelDuplicate(faces, &bl));
    PetscCall(PetscObjectSetName((PetscObject)bl, "ns_boundary"));
    PetscCall(DMAddLabel(mesh->dm, bl));
    PetscCall(DMLabelDestroy(&bl));
    PetscCall(DMGetLabel(mesh->dm, "ns_boundary", &bl));
    PetscCall(DMPlexLabelComplete(mesh->dm, bl));
  }
  ns->nu = ns->U_mean * ns->D / 20.0;
  PetscCall(PFNSCreateDiscretisation(ns, 2, &ns->dm));
  PetscCall(PFNSCreateDiscretisation(ns, 1, &ns->dmf));
  PetscCall(DMPlexCreateClosureIndex(ns->dm, NULL));
  PetscCall(DMCreateGlobalVector(ns->dm, &ns->u));
  PetscCall(VecSet(ns->u, 0));
  PetscCall(SNESCreate(mesh->comm, &ns->snes));
  PetscCall(SNESSetOptionsPrefix(ns->snes, "ns_"));
  PetscCall(SNESSetDM(ns->snes, ns->dm));
  PetscCall(DMPlexSetSNESLocalFEM(ns->dm, ns, ns, ns));
  PetscCall(SNESSetTolerances(ns->snes, 1e-12, 1e-10, 0, 30, PETSC_DEFAULT));
  /* default: Newton with a backtracking line search, MUMPS LU */
  PetscCall(SNESGetKSP(ns->snes, &ksp));
  PetscCall(KSPSetType(ksp, KSPPREONLY));
  PetscCall(KSPGetPC(ksp, &pc));
  PetscCall(PCSetType(pc, PCLU));
  PetscCall(PCFactorSetMatSolverType(pc, MATSOLVERMUMPS));
  PetscCall(SNESSetFromOptions(ns->snes));
  {
    /* the unit vectors on the obstacle's velocity dofs (the points of its
     * completed label: vertices and edges), for the forces */
    DMLabel         label;
    IS              is;
    PetscSection    sec;
    Vec             lx, ly;
    PetscScalar    *ax, *ay;
    const PetscInt *pts;
    PetscInt        npts = 0;
    PetscCall(DMGetLabel(ns->dmf, "ns_boundary", &label));
    PetscCall(DMGetLocalSection(ns->dmf, &sec));
    PetscCall(DMCreateLocalVector(ns->dmf, &lx));
    PetscCall(VecDuplicate(lx, &ly));
    PetscCall(VecSet(lx, 0));
    PetscCall(VecSet(ly, 0));
    PetscCall(VecGetArray(lx, &ax));
    PetscCall(VecGetArray(ly, &ay));
    PetscCall(DMLabelGetStratumIS(label, ns->tag_obs, &is));
    if (is) {
      PetscCall(ISGetLocalSize(is, &npts));
      PetscCall(ISGetIndices(is, &pts));
    }
    for (PetscInt k = 0; k < npts; k++) {
      PetscInt dof, off;
      PetscCall(PetscSectionGetFieldDof(sec, pts[k], 0, &dof));
      PetscCall(PetscSectionGetFieldOffset(sec, pts[k], 0, &off));
      for (PetscInt j = 0; j < dof; j += 2) ax[off + j] = 1, ay[off + j + 1] = 1;
    }
    if (is) {
      PetscCall(ISRestoreIndices(is, &pts));
      PetscCall(ISDestroy(&is));
    }
    PetscCall(VecRestoreArray(lx, &ax));
    PetscCall(VecRestoreArray(ly, &ay));
    PetscCall(DMCreateGlobalVector(ns->dmf, &ns->ex));
    PetscCall(VecDuplicate(ns->ex, &ns->ey));
    PetscCall(DMLocalToGlobal(ns->dmf, lx, INSERT_VALUES, ns->ex));
    PetscCall(DMLocalToGlobal(ns->dmf, ly, INSERT_VALUES, ns->ey));
    PetscCall(VecDestroy(&lx));
    PetscCall(VecDestroy(&ly));
  }
  *nsp = ns;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFNSSetViscosity(PFNS *ns, double Re)
{
  PetscDS ds;

  PetscFunctionBegin;
  ns->nu = ns->U_mean * ns->D / Re;
  PetscCall(DMGetDS(ns->dm, &ds));
  PetscCall(PetscDSSetConstants(ds, 1, &ns->nu));
  PetscCall(DMGetDS(ns->dmf, &ds));
  PetscCall(PetscDSSetConstants(ds, 1, &ns->nu));
  PetscCall(PFNSResidualSetViscosity(ns, ns->nu));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Newton at Re from the current solution; *ok: converged */
static PetscErrorCode NewtonAt(PFNS *ns, double Re, PetscBool *ok)
{
  SNESConvergedReason reason;
  PetscInt            its;

  PetscFunctionBegin;
  PetscCall(PFNSSetViscosity(ns, Re));
  PetscCall(SNESSolve(ns->snes, NULL, ns->u));
  PetscCall(SNESGetConvergedReason(ns->snes, &reason));
  PetscCall(SNESGetIterationNumber(ns->snes, &its));
  ns->newton_its += its;
  *ok = (PetscBool)(reason > 0);
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFNSSolveSteady(PFNS *ns, double Re)
{
  double    from = ns->Re, step;
  PetscBool ok;
  Vec       keep;

  PetscFunctionBegin;
  PetscCheck(Re > 0 && isfinite(Re), ns->mesh->comm, PETSC_ERR_ARG_OUTOFRANGE, "Reynolds number %g must be positive", Re);
  ns->newton_its = ns->continuation_steps = 0;
  PetscCall(VecDuplicate(ns->u, &keep));
  PetscCall(VecCopy(ns->u, keep));
  PetscCall(NewtonAt(ns, Re, &ok));
  /* continuation: from the last solution (or Re = 1 from rest) in steps
   * that halve on failure */
  if (!ok && from <= 0) {
    PetscCall(VecSet(keep, 0));
    PetscCall(VecCopy(keep, ns->u));
    from = PetscMin(1.0, Re / 2);
    PetscCall(NewtonAt(ns, from, &ok));
    PetscCheck(ok, ns->mesh->comm, PETSC_ERR_NOT_CONVERGED, "Navier-Stokes: Newton failed at Re = %g from rest", from);
    PetscCall(VecCopy(ns->u, keep));
  }
  step = Re - from;
  while (!ok) {
    double next = from + step;
    PetscCall(VecCopy(keep, ns->u));
    PetscCall(NewtonAt(ns, next, &ok));
    ns->continuation_steps++;
    if (ok) {
      PetscCall(VecCopy(ns->u, keep));
      from = next;
      if (from == Re) break;
      step = PetscMin(1.5 * step, Re - from);
      ok   = PETSC_FALSE;
    } else {
      step /= 2;
      PetscCheck(PetscAbs(step) > 1e-3 * Re, ns->mesh->comm, PETSC_ERR_NOT_CONVERGED, "Navier-Stokes: no steady state found at Re = %g (continuation stalled at Re = %g)", Re, from);
    }
  }
  ns->Re = Re;
  PetscCall(VecDestroy(&keep));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFNSForcesOf(PFNS *ns, Vec u, Vec ut, double *cd, double *cl)
{
  Vec         uloc, F;
  PetscScalar fx, fy;

  PetscFunctionBegin;
  /* the state (with its boundary values) on the discretisation without
   * the obstacle's condition, and its residual there */
  PetscCall(DMGetLocalVector(ns->dm, &uloc));
  PetscCall(DMGlobalToLocal(ns->dm, u, INSERT_VALUES, uloc));
  PetscCall(DMPlexInsertBoundaryValues(ns->dm, PETSC_TRUE, uloc, 0.0, NULL, NULL, NULL));
  PetscCall(DMCreateGlobalVector(ns->dmf, &F));
  if (!ut) {
    Vec  uf;
    SNES snes;
    PetscCall(VecDuplicate(F, &uf));
    PetscCall(DMLocalToGlobal(ns->dmf, uloc, INSERT_VALUES, uf));
    PetscCall(SNESCreate(ns->mesh->comm, &snes));
    PetscCall(SNESSetDM(snes, ns->dmf));
    PetscCall(DMPlexSetSNESLocalFEM(ns->dmf, ns, ns, ns));
    PetscCall(SNESComputeFunction(snes, uf, F));
    PetscCall(SNESDestroy(&snes));
    PetscCall(VecDestroy(&uf));
  } else {
    /* a time-dependent state: the residual includes u_t (zero on the
     * boundary, whose values do not change) */
    Vec utloc, Floc;
    PetscCall(DMGetLocalVector(ns->dm, &utloc));
    PetscCall(DMGetLocalVector(ns->dmf, &Floc));
    PetscCall(VecSet(utloc, 0));
    PetscCall(DMGlobalToLocal(ns->dm, ut, INSERT_VALUES, utloc));
    PetscCall(VecSet(Floc, 0));
    PetscCall(DMPlexTSComputeIFunctionFEM(ns->dmf, 0.0, uloc, utloc, Floc, ns));
    PetscCall(VecSet(F, 0));
    PetscCall(DMLocalToGlobal(ns->dmf, Floc, ADD_VALUES, F));
    PetscCall(DMRestoreLocalVector(ns->dm, &utloc));
    PetscCall(DMRestoreLocalVector(ns->dmf, &Floc));
  }
  PetscCall(DMRestoreLocalVector(ns->dm, &uloc));
  PetscCall(VecDot(F, ns->ex, &fx));
  PetscCall(VecDot(F, ns->ey, &fy));
  PetscCall(VecDestroy(&F));
  /* F_e = -R(phi_e): the force the fluid exerts on the obstacle */
  *cd = -2 * PetscRealPart(fx) / (ns->U_mean * ns->U_mean * ns->D);
  *cl = -2 * PetscRealPart(fy) / (ns->U_mean * ns->U_mean * ns->D);
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFNSForces(PFNS *ns, double *cd, double *cl)
{
  PetscFunctionBegin;
  PetscCheck(!ns->unsteady, ns->mesh->comm, PETSC_ERR_ORDER, "PFNSForces is for steady states: use PFNSForcesOf with the time derivative");
  PetscCall(PFNSForcesOf(ns, ns->u, NULL, cd, cl));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* ghost[v - vStart]: is local vertex v a copy of another rank's? (a leaf
 * of the point SF) */
static PetscErrorCode GhostVertices(PFNS *ns, PetscInt *vStart, PetscInt *vEnd, PetscBool **ghost)
{
  PetscInt        nleaves;
  const PetscInt *leaves;
  PetscSF         sf;

  PetscFunctionBegin;
  PetscCall(DMPlexGetDepthStratum(ns->dm, 0, vStart, vEnd));
  PetscCall(DMGetPointSF(ns->dm, &sf));
  PetscCall(PetscSFGetGraph(sf, NULL, &nleaves, &leaves, NULL));
  PetscCall(PetscCalloc1(*vEnd - *vStart + 1, ghost));
  for (PetscInt l = 0; l < nleaves; l++) {
    PetscInt p = leaves ? leaves[l] : l;
    if (p >= *vStart && p < *vEnd) (*ghost)[p - *vStart] = PETSC_TRUE;
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFNSGetOwnedVertices(PFNS *ns, PetscInt *nown, PetscInt **ownnat)
{
  PetscInt   vStart, vEnd, n = 0;
  PetscBool *ghost;

  PetscFunctionBegin;
  PetscCall(GhostVertices(ns, &vStart, &vEnd, &ghost));
  for (PetscInt v = vStart; v < vEnd; v++) n += !ghost[v - vStart];
  PetscCall(PetscMalloc1(n + 1, ownnat));
  n = 0;
  for (PetscInt v = vStart; v < vEnd; v++)
    if (!ghost[v - vStart]) (*ownnat)[n++] = ns->mesh->vnat[v - vStart];
  *nown = n;
  PetscCall(PetscFree(ghost));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFNSVertexValues(PFNS *ns, PetscInt nown, PetscScalar *uvp)
{
  PetscInt           vStart, vEnd, n = 0;
  PetscSection       s;
  Vec                uloc;
  const PetscScalar *a;
  PetscBool         *ghost;

  PetscFunctionBegin;
  PetscCall(GhostVertices(ns, &vStart, &vEnd, &ghost));
  PetscCall(DMGetLocalSection(ns->dm, &s));
  PetscCall(DMGetLocalVector(ns->dm, &uloc));
  PetscCall(DMGlobalToLocal(ns->dm, ns->u, INSERT_VALUES, uloc));
  PetscCall(DMPlexInsertBoundaryValues(ns->dm, PETSC_TRUE, uloc, 0.0, NULL, NULL, NULL));
  PetscCall(VecGetArrayRead(uloc, &a));
  for (PetscInt v = vStart; v < vEnd; v++) {
    PetscInt du, dp, ou, op;
    if (ghost[v - vStart]) continue;
    PetscCall(PetscSectionGetFieldDof(s, v, 0, &du));
    PetscCall(PetscSectionGetFieldDof(s, v, 1, &dp));
    PetscCheck(du == 2 && dp == 1, PETSC_COMM_SELF, PETSC_ERR_PLIB, "vertex with %" PetscInt_FMT " velocity and %" PetscInt_FMT " pressure dofs", du, dp);
    PetscCall(PetscSectionGetFieldOffset(s, v, 0, &ou));
    PetscCall(PetscSectionGetFieldOffset(s, v, 1, &op));
    PetscCheck(n < nown, PETSC_COMM_SELF, PETSC_ERR_ARG_SIZ, "more owned vertices than %" PetscInt_FMT, nown);
    uvp[n] = a[ou], uvp[nown + n] = a[ou + 1], uvp[2 * nown + n] = a[op];
    n++;
  }
  PetscCall(VecRestoreArrayRead(uloc, &a));
  PetscCall(DMRestoreLocalVector(ns->dm, &uloc));
  PetscCall(PetscFree(ghost));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFNSDestroy(PFNS **ns)
{
  PetscFunctionBegin;
  if (!*ns) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCall(PFNSResidualDestroy(*ns));
  PetscCall(VecDestroy(&(*ns)->u));
  PetscCall(VecDestroy(&(*ns)->ex));
  PetscCall(VecDestroy(&(*ns)->ey));
  PetscCall(SNESDestroy(&(*ns)->snes));
  PetscCall(DMDestroy(&(*ns)->dm));
  PetscCall(DMDestroy(&(*ns)->dmf));
  PetscCall(PetscFree(*ns));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFNSReset(PFNS *ns)
{
  PetscFunctionBegin;
  PetscCall(VecSet(ns->u, 0));
  ns->Re = 0;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFNSVertexMass(PFNS *ns, PetscInt nown, PetscScalar *mass)
{
  PetscInt     pStart, pEnd, cStart, cEnd, vStart, vEnd, n = 0;
  PetscSF      sf;
  PetscScalar *m;
  PetscBool   *ghost;

  PetscFunctionBegin;
  PetscCall(DMPlexGetChart(ns->dm, &pStart, &pEnd));
  PetscCall(DMPlexGetHeightStratum(ns->dm, 0, &cStart, &cEnd));
  PetscCall(GhostVertices(ns, &vStart, &vEnd, &ghost));
  PetscCall(PetscCalloc1(pEnd - pStart, &m));
  for (PetscInt c = cStart; c < cEnd; c++) {
    PetscReal vol;
    PetscInt *cl = NULL, ncl, nv = 0;
    PetscCall(DMPlexComputeCellGeometryFVM(ns->dm, c, &vol, NULL, NULL));
    PetscCall(DMPlexGetTransitiveClosure(ns->dm, c, PETSC_TRUE, &ncl, &cl));
    for (PetscInt k = 0; k < 2 * ncl; k += 2) nv += (cl[k] >= vStart && cl[k] < vEnd);
    for (PetscInt k = 0; k < 2 * ncl; k += 2)
      if (cl[k] >= vStart && cl[k] < vEnd) m[cl[k] - pStart] += vol / nv;
    PetscCall(DMPlexRestoreTransitiveClosure(ns->dm, c, PETSC_TRUE, &ncl, &cl));
  }
  /* the ghost copies' parts to their owners */
  PetscCall(DMGetPointSF(ns->dm, &sf));
  PetscCall(PetscSFReduceBegin(sf, MPIU_SCALAR, m, m, MPI_SUM));
  PetscCall(PetscSFReduceEnd(sf, MPIU_SCALAR, m, m, MPI_SUM));
  for (PetscInt v = vStart; v < vEnd; v++)
    if (!ghost[v - vStart]) {
      PetscCheck(n < nown, PETSC_COMM_SELF, PETSC_ERR_ARG_SIZ, "more owned vertices than %" PetscInt_FMT, nown);
      mass[n++] = m[v - pStart];
    }
  PetscCall(PetscFree(m));
  PetscCall(PetscFree(ghost));
  PetscFunctionReturn(PETSC_SUCCESS);
}
