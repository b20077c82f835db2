/* The differentiable residual of a Navier-Stokes state given by its vertex
 * values (issue 8; solvers/navierstokes/ns.h), for generated states.
 *
 * A state x = (u, v, p) at the owned vertices is lifted to the Taylor-Hood
 * space by L: vertex dofs take the values, each edge's velocity dofs the
 * mean of its two vertices (the P1 interpolant; data store only vertex
 * values, so this is the state they describe).  The residual is the
 * Galerkin residual of the steady equations at L x, on every dof of a
 * discretisation without boundary conditions, except that the dofs the
 * solver constrains (inflow, walls, obstacle) hold  (L x) - g  instead:
 *
 *   R(x) = P_int F(L x) + P_bc (L x - g),
 *   J(x)^T v = L^T ( F'(L x)^T P_int v + P_bc v ).
 *
 * with g the boundary data of the vertices lifted the same way (L g_v).
 * So solver data have a residual at discretisation-error level (their
 * edge values are not the mean of their vertices), and the Dirichlet rows
 * are exactly zero for them.  Triangles (P2/P1) only. */
#include <math.h>
#include <petscds.h>
#include <petscsf.h>
#include "ns.h"

struct _PFNSResidual {
  DM       dmr;       /* the fields without boundary conditions */
  SNES     snes;      /* its residual and Jacobian */
  Mat      J;
  Vec      bcmask, g; /* global on dmr: 1 on constrained dofs, their values */
  Vec      pmask;     /* 1 on the pressure dofs (the continuity rows) */
  KSP      ksp;       /* Newton steps: the residual's Jacobian, its Dirichlet rows the identity */
  IS       bcrows;    /* global indices of the constrained rows */
  PetscBool ksp_setup; /* the factorisation's options applied */
  PetscInt nown, nres;
  PetscInt *vdof;     /* [nown]: local (global-vector) index of each owned vertex's u dof; p's is pdof */
  PetscInt *pdof;
  PetscInt eStart, eEnd, vStart, vEnd;
  double   nu;        /* of the residual's equations */
};

PetscErrorCode PFNSResidualSetViscosity(PFNS *ns, double nu)
{
  PetscDS ds;

  PetscFunctionBegin;
  if (!ns->res) PetscFunctionReturn(PETSC_SUCCESS);
  ns->res->nu = nu;
  PetscCall(DMGetDS(ns->res->dmr, &ds));
  PetscCall(PetscDSSetConstants(ds, 1, &ns->res->nu));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode BoundaryValuesOfVertices(PFNS *);

PetscErrorCode PFNSResidualSetUp(PFNS *ns)
{
  struct _PFNSResidual *r;
  PetscSection          gs, ls, dls;
  PetscInt              rstart, n = 0, *ownnat, nown;
  Vec                   l, gl;
  PetscScalar          *am;

  PetscFunctionBegin;
  if (ns->res) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCheck(ns->mesh->simplex && ns->order == 2, ns->mesh->comm, PETSC_ERR_SUP, "the Navier-Stokes residual of vertex states is built for P2/P1 triangles");
  PetscCall(PetscNew(&r));
  /* the discretisation, its equations, no boundary conditions */
  PetscCall(PFNSCreateDiscretisation(ns, 0, &r->dmr));
  r->nu = ns->nu;
  PetscCall(SNESCreate(ns->mesh->comm, &r->snes));
  PetscCall(SNESSetDM(r->snes, r->dmr));
  PetscCall(DMPlexSetSNESLocalFEM(r->dmr, ns, ns, ns));
  PetscCall(DMCreateMatrix(r->dmr, &r->J));
  /* Newton steps zero the Dirichlet rows of J in place; each assembly
   * refills them (MatZeroEntries keeps the pattern) */
  PetscCall(MatSetOption(r->J, MAT_KEEP_NONZERO_PATTERN, PETSC_TRUE));
  /* the owned vertices' dofs in the global vector (the order of
   * PFNSGetOwnedVertices: owned vertex points in point order) */
  PetscCall(DMGetGlobalSection(r->dmr, &gs));
  PetscCall(DMGetLocalSection(r->dmr, &ls));
  PetscCall(DMCreateGlobalVector(r->dmr, &r->bcmask));
  PetscCall(VecGetOwnershipRange(r->bcmask, &rstart, NULL));
  PetscCall(VecGetLocalSize(r->bcmask, &r->nres));
  PetscCall(PFNSGetOwnedVertices(ns, &nown, &ownnat));
  PetscCall(PetscFree(ownnat));
  r->nown = nown;
  PetscCall(PetscMalloc2(nown + 1, &r->vdof, nown + 1, &r->pdof));
  PetscCall(DMPlexGetDepthStratum(r->dmr, 0, &r->vStart, &r->vEnd));
  PetscCall(DMPlexGetDepthStratum(r->dmr, 1, &r->eStart, &r->eEnd));
  for (PetscInt v = r->vStart; v < r->vEnd; v++) {
    PetscInt off, poff;
    PetscCall(PetscSectionGetOffset(gs, v, &off));
    if (off < 0) continue; /* a ghost */
    PetscCall(PetscSectionGetFieldOffset(gs, v, 0, &off));
    PetscCall(PetscSectionGetFieldOffset(gs, v, 1, &poff));
    PetscCheck(n < nown, PETSC_COMM_SELF, PETSC_ERR_PLIB, "owned vertices disagree");
    r->vdof[n] = off - rstart, r->pdof[n] = poff - rstart;
    n++;
  }
  PetscCheck(n == nown, PETSC_COMM_SELF, PETSC_ERR_PLIB, "owned vertices disagree (%" PetscInt_FMT " vs %" PetscInt_FMT ")", n, nown);
  /* the constrained dofs (the solver's discretisation marks them in its
   * local section) and their boundary values, on dmr's layout: the local
   * sections of both have the same dofs */
  PetscCall(DMGetLocalSection(ns->dm, &dls));
  PetscCall(DMCreateLocalVector(r->dmr, &l));
  PetscCall(VecSet(l, 0));
  PetscCall(VecGetArray(l, &am));
  {
    PetscInt pStart, pEnd;
    PetscCall(PetscSectionGetChart(dls, &pStart, &pEnd));
    for (PetscInt p = pStart; p < pEnd; p++) {
      PetscInt ncd, dof, off;
      PetscCall(PetscSectionGetFieldConstraintDof(dls, p, 0, &ncd));
      if (!ncd) continue;
      PetscCall(PetscSectionGetFieldDof(ls, p, 0, &dof));
      PetscCall(PetscSectionGetFieldOffset(ls, p, 0, &off));
      for (PetscInt k = 0; k < dof; k++) am[off + k] = 1;
    }
  }
  PetscCall(VecRestoreArray(l, &am));
  PetscCall(VecSet(r->bcmask, 0));
  PetscCall(DMLocalToGlobal(r->dmr, l, INSERT_VALUES, r->bcmask));
  PetscCall(DMGetLocalVector(ns->dm, &gl));
  PetscCall(VecSet(gl, 0));
  PetscCall(DMPlexInsertBoundaryValues(ns->dm, PETSC_TRUE, gl, 0.0, NULL, NULL, NULL));
  {
    PetscInt nl, nd;
    PetscCall(VecGetLocalSize(l, &nl));
    PetscCall(VecGetLocalSize(gl, &nd));
    PetscCheck(nl == nd, PETSC_COMM_SELF, PETSC_ERR_PLIB, "local layouts differ (%" PetscInt_FMT " vs %" PetscInt_FMT ")", nl, nd);
    PetscCall(VecCopy(gl, l));
  }
  PetscCall(DMRestoreLocalVector(ns->dm, &gl));
  PetscCall(DMCreateGlobalVector(r->dmr, &r->g));
  PetscCall(DMLocalToGlobal(r->dmr, l, INSERT_VALUES, r->g));
  PetscCall(VecPointwiseMult(r->g, r->g, r->bcmask));
  {
    /* the constrained rows' global indices, for the Newton step's Jacobian */
    const PetscScalar *a;
    PetscInt          *rows, nbc = 0;
    PetscCall(PetscMalloc1(r->nres + 1, &rows));
    PetscCall(VecGetArrayRead(r->bcmask, &a));
    for (PetscInt k = 0; k < r->nres; k++)
      if (PetscRealPart(a[k]) > 0) rows[nbc++] = rstart + k;
    PetscCall(VecRestoreArrayRead(r->bcmask, &a));
    PetscCall(ISCreateGeneral(ns->mesh->comm, nbc, rows, PETSC_OWN_POINTER, &r->bcrows));
  }
  /* the pressure dofs */
  PetscCall(VecSet(l, 0));
  PetscCall(VecGetArray(l, &am));
  {
    PetscInt pStart, pEnd;
    PetscCall(PetscSectionGetChart(ls, &pStart, &pEnd));
    for (PetscInt p = pStart; p < pEnd; p++) {
      PetscInt dof, off;
      PetscCall(PetscSectionGetFieldDof(ls, p, 1, &dof));
      PetscCall(PetscSectionGetFieldOffset(ls, p, 1, &off));
      for (PetscInt k = 0; k < dof; k++) am[off + k] = 1;
    }
  }
  PetscCall(VecRestoreArray(l, &am));
  PetscCall(VecDuplicate(r->bcmask, &r->pmask));
  PetscCall(DMLocalToGlobal(r->dmr, l, INSERT_VALUES, r->pmask));
  PetscCall(VecDestroy(&l));
  ns->res = r;
  PetscCall(BoundaryValuesOfVertices(ns));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFNSResidualGetSize(PFNS *ns, PetscInt *nres)
{
  PetscFunctionBegin;
  PetscCall(PFNSResidualSetUp(ns));
  *nres = ns->res->nres;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* L x: the owned vertex values into a global vector, to the local one
 * (ghost vertices), then every local edge's velocity dofs the mean of its
 * vertices'.  X: global (vertex dofs set, edge dofs set for owned edges),
 * Xl: local */
/* X = 0 but for the owned vertices' dofs: (u, v, p) of x [3 nown], each
 * vertex's values times w[i] (w NULL: 1) */
static PetscErrorCode SetVertexValues(struct _PFNSResidual *r, const PetscScalar *x, const PetscScalar *w, Vec X)
{
  const PetscInt nown = r->nown;
  PetscScalar   *a;

  PetscFunctionBegin;
  PetscCall(VecSet(X, 0));
  PetscCall(VecGetArray(X, &a));
  for (PetscInt i = 0; i < nown; i++) {
    const PetscScalar s = w ? w[i] : 1;
    a[r->vdof[i]] = s * x[i], a[r->vdof[i] + 1] = s * x[nown + i], a[r->pdof[i]] = s * x[2 * nown + i];
  }
  PetscCall(VecRestoreArray(X, &a));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* zero a global vector's Dirichlet rows */
static PetscErrorCode ZeroDirichletRows(struct _PFNSResidual *r, Vec V)
{
  PetscScalar       *a;
  const PetscScalar *am;

  PetscFunctionBegin;
  PetscCall(VecGetArray(V, &a));
  PetscCall(VecGetArrayRead(r->bcmask, &am));
  for (PetscInt k = 0; k < r->nres; k++)
    if (PetscRealPart(am[k]) > 0) a[k] = 0;
  PetscCall(VecRestoreArrayRead(r->bcmask, &am));
  PetscCall(VecRestoreArray(V, &a));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode Lift(PFNS *ns, const PetscScalar *x, Vec X, Vec Xl)
{
  struct _PFNSResidual *r = ns->res;
  PetscSection          ls;
  PetscScalar          *a;

  PetscFunctionBegin;
  PetscCall(SetVertexValues(r, x, NULL, X));
  PetscCall(DMGlobalToLocal(r->dmr, X, INSERT_VALUES, Xl));
  PetscCall(DMGetLocalSection(r->dmr, &ls));
  PetscCall(VecGetArray(Xl, &a));
  for (PetscInt e = r->eStart; e < r->eEnd; e++) {
    const PetscInt *cone;
    PetscInt        oe, o0, o1;
    PetscCall(DMPlexGetCone(r->dmr, e, &cone));
    PetscCall(PetscSectionGetFieldOffset(ls, e, 0, &oe));
    PetscCall(PetscSectionGetFieldOffset(ls, cone[0], 0, &o0));
    PetscCall(PetscSectionGetFieldOffset(ls, cone[1], 0, &o1));
    for (PetscInt c = 0; c < 2; c++) a[oe + c] = 0.5 * (a[o0 + c] + a[o1 + c]);
  }
  PetscCall(VecRestoreArray(Xl, &a));
  PetscCall(DMLocalToGlobal(r->dmr, Xl, INSERT_VALUES, X));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* g = P_bc L g_v: a constrained edge's boundary value is the mean of its
 * vertices' (the boundary data a vertex state can represent), so a state
 * with the solver's vertex values has Dirichlet rows exactly zero; the
 * quadrature-exact edge values of a curved inflow profile would leave
 * every state, the solver's too, an O(h^2) residual there */
static PetscErrorCode BoundaryValuesOfVertices(PFNS *ns)
{
  struct _PFNSResidual *r    = ns->res;
  const PetscInt        nown = r->nown;
  PetscScalar          *gv;
  const PetscScalar    *ag;
  Vec                   Xl;

  PetscFunctionBegin;
  PetscCall(PetscCalloc1(3 * nown + 1, &gv));
  PetscCall(VecGetArrayRead(r->g, &ag));
  for (PetscInt i = 0; i < nown; i++) gv[i] = ag[r->vdof[i]], gv[nown + i] = ag[r->vdof[i] + 1];
  PetscCall(VecRestoreArrayRead(r->g, &ag));
  PetscCall(DMGetLocalVector(r->dmr, &Xl));
  PetscCall(Lift(ns, gv, r->g, Xl));
  PetscCall(DMRestoreLocalVector(r->dmr, &Xl));
  PetscCall(VecPointwiseMult(r->g, r->g, r->bcmask));
  PetscCall(PetscFree(gv));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* R = P_int F(X) + P_bc (X - g) into the global vector Rv (X lifted) */
static PetscErrorCode AssembleResidual(struct _PFNSResidual *r, Vec X, Vec Rv)
{
  PetscScalar       *ar;
  const PetscScalar *ax, *am, *ag;

  PetscFunctionBegin;
  PetscCall(SNESComputeFunction(r->snes, X, Rv));
  PetscCall(VecGetArray(Rv, &ar));
  PetscCall(VecGetArrayRead(X, &ax));
  PetscCall(VecGetArrayRead(r->bcmask, &am));
  PetscCall(VecGetArrayRead(r->g, &ag));
  for (PetscInt k = 0; k < r->nres; k++)
    if (PetscRealPart(am[k]) > 0) ar[k] = ax[k] - ag[k];
  PetscCall(VecRestoreArray(Rv, &ar));
  PetscCall(VecRestoreArrayRead(X, &ax));
  PetscCall(VecRestoreArrayRead(r->bcmask, &am));
  PetscCall(VecRestoreArrayRead(r->g, &ag));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFNSResidualVertex(PFNS *ns, const PetscScalar *x, PetscScalar *R)
{
  struct _PFNSResidual *r;
  Vec                   X, Xl, F;

  PetscFunctionBegin;
  PetscCall(PFNSResidualSetUp(ns));
  r = ns->res;
  PetscCall(DMGetGlobalVector(r->dmr, &X));
  PetscCall(DMGetGlobalVector(r->dmr, &F));
  PetscCall(DMGetLocalVector(r->dmr, &Xl));
  PetscCall(Lift(ns, x, X, Xl));
  PetscCall(AssembleResidual(r, X, F));
  {
    const PetscScalar *af;
    PetscCall(VecGetArrayRead(F, &af));
    PetscCall(PetscArraycpy(R, af, r->nres));
    PetscCall(VecRestoreArrayRead(F, &af));
  }
  PetscCall(DMRestoreLocalVector(r->dmr, &Xl));
  PetscCall(DMRestoreGlobalVector(r->dmr, &F));
  PetscCall(DMRestoreGlobalVector(r->dmr, &X));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* gx = L^T W (W global, Wl local work): the vertex entries, plus each
 * owned edge's velocity entries half to each of its vertices (ghost
 * vertices' shares summed into their owners over the point SF) */
static PetscErrorCode LiftTranspose(PFNS *ns, Vec W, Vec Wl, PetscScalar *gx)
{
  struct _PFNSResidual *r    = ns->res;
  const PetscInt        nown = r->nown;
  PetscSection          ls, gs;
  PetscSF               sf;
  PetscInt              pStart, pEnd, n = 0;
  PetscScalar          *acc;
  const PetscScalar    *aw, *a;

  PetscFunctionBegin;
  PetscCall(DMGlobalToLocal(r->dmr, W, INSERT_VALUES, Wl));
  PetscCall(DMGetLocalSection(r->dmr, &ls));
  PetscCall(DMGetGlobalSection(r->dmr, &gs));
  PetscCall(DMPlexGetChart(r->dmr, &pStart, &pEnd));
  PetscCall(PetscCalloc1(2 * (pEnd - pStart) + 2, &acc));
  PetscCall(VecGetArrayRead(Wl, &aw));
  for (PetscInt e = r->eStart; e < r->eEnd; e++) {
    const PetscInt *cone;
    PetscInt        goff, oe;
    PetscCall(PetscSectionGetOffset(gs, e, &goff));
    if (goff < 0) continue; /* a ghost edge: its owner counts it */
    PetscCall(DMPlexGetCone(r->dmr, e, &cone));
    PetscCall(PetscSectionGetFieldOffset(ls, e, 0, &oe));
    for (PetscInt k = 0; k < 2; k++)
      for (PetscInt c = 0; c < 2; c++) acc[c * (pEnd - pStart) + cone[k] - pStart] += 0.5 * aw[oe + c];
  }
  PetscCall(VecRestoreArrayRead(Wl, &aw));
  PetscCall(DMGetPointSF(r->dmr, &sf));
  for (PetscInt c = 0; c < 2; c++) {
    /* one component at a time: MPI_SUM on a plain type */
    PetscScalar *ac = acc + c * (pEnd - pStart);
    PetscCall(PetscSFReduceBegin(sf, MPIU_SCALAR, ac, ac, MPI_SUM));
    PetscCall(PetscSFReduceEnd(sf, MPIU_SCALAR, ac, ac, MPI_SUM));
  }
  PetscCall(VecGetArrayRead(W, &a));
  for (PetscInt v = r->vStart; v < r->vEnd; v++) {
    PetscInt off;
    PetscCall(PetscSectionGetOffset(gs, v, &off));
    if (off < 0) continue;
    gx[n]            = a[r->vdof[n]] + acc[v - pStart];
    gx[nown + n]     = a[r->vdof[n] + 1] + acc[(pEnd - pStart) + v - pStart];
    gx[2 * nown + n] = a[r->pdof[n]];
    n++;
  }
  PetscCall(VecRestoreArrayRead(W, &a));
  PetscCall(PetscFree(acc));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* The Newton step of a vertex state: d = J^{-1} R(L x) with J = P_int F'(L x)
 * + P_bc (the residual's Jacobian in the Taylor-Hood dofs), whose vertex
 * values e approximate the state's distance to the solution at its nu
 * (x - e is Newton's update).  One LU solve (MUMPS by default; options
 * -ns_newton_ksp_*, -ns_newton_pc_*) per state. */
static PetscErrorCode NewtonKSP(PFNS *ns, KSP *ksp)
{
  struct _PFNSResidual *r = ns->res;
  PC                    pc;

  PetscFunctionBegin;
  if (!r->ksp) {
    PetscCall(KSPCreate(ns->mesh->comm, &r->ksp));
    PetscCall(KSPSetOptionsPrefix(r->ksp, "ns_newton_"));
    PetscCall(KSPSetType(r->ksp, KSPPREONLY));
    PetscCall(KSPGetPC(r->ksp, &pc));
    PetscCall(PCSetType(pc, PCLU));
    PetscCall(PCFactorSetMatSolverType(pc, MATSOLVERMUMPS));
    PetscCall(KSPSetErrorIfNotConverged(r->ksp, PETSC_TRUE));
    PetscCall(KSPSetFromOptions(r->ksp));
  }
  *ksp = r->ksp;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFNSResidualNewtonStep(PFNS *ns, const PetscScalar *x, const PetscScalar *mass, PetscScalar *e, PetscScalar *gx)
{
  struct _PFNSResidual *r;
  Vec                   X, Xl, Rv, D, G, Z, W;
  KSP                   ksp = NULL;
  const PetscScalar    *ad;
  const PetscInt       *rows;
  PetscInt              nbc, nown;

  PetscFunctionBegin;
  PetscCall(PFNSResidualSetUp(ns));
  r    = ns->res;
  nown = r->nown;
  PetscCall(NewtonKSP(ns, &ksp));
  PetscCall(DMGetGlobalVector(r->dmr, &X));
  PetscCall(DMGetGlobalVector(r->dmr, &Rv));
  PetscCall(DMGetGlobalVector(r->dmr, &D));
  PetscCall(DMGetLocalVector(r->dmr, &Xl));
  PetscCall(Lift(ns, x, X, Xl));
  PetscCall(AssembleResidual(r, X, Rv));
  PetscCall(SNESComputeJacobian(r->snes, X, r->J, r->J));
  PetscCall(ISGetLocalSize(r->bcrows, &nbc));
  PetscCall(ISGetIndices(r->bcrows, &rows));
  PetscCall(MatZeroRows(r->J, nbc, rows, 1.0, NULL, NULL));
  PetscCall(ISRestoreIndices(r->bcrows, &rows));
  PetscCall(KSPSetOperators(ksp, r->J, r->J));
  if (!r->ksp_setup) {
    /* generated states far from a solution give Jacobians whose pivoting
     * outgrows MUMPS's default workspace estimate (INFOG(1) = -9): 200%
     * more than its estimate unless -ns_newton_mat_mumps_icntl_14 says */
    PC            pc;
    MatSolverType st;
    PetscBool     lu, mumps = PETSC_FALSE, set;
    PetscCall(KSPGetPC(ksp, &pc));
    PetscCall(PetscObjectTypeCompare((PetscObject)pc, PCLU, &lu));
    if (lu) {
      PetscCall(PCFactorGetMatSolverType(pc, &st));
      PetscCall(PetscStrcmp(st, MATSOLVERMUMPS, &mumps));
    }
    PetscCall(PetscOptionsHasName(NULL, "ns_newton_", "-mat_mumps_icntl_14", &set));
    if (mumps && !set) {
      Mat F;
      PetscCall(PCFactorSetUpMatSolverType(pc));
      PetscCall(PCFactorGetMatrix(pc, &F));
      PetscCall(MatMumpsSetIcntl(F, 14, 200));
    }
    r->ksp_setup = PETSC_TRUE;
  }
  PetscCall(KSPSolve(ksp, Rv, D));
  PetscCall(VecGetArrayRead(D, &ad));
  for (PetscInt i = 0; i < nown; i++) e[i] = ad[r->vdof[i]], e[nown + i] = ad[r->vdof[i] + 1], e[2 * nown + i] = ad[r->pdof[i]];
  PetscCall(VecRestoreArrayRead(D, &ad));
  if (gx) {
    /* q = sum_i m_i |e_i|^2, e = P d, d = J(X)^{-1} R(X), X = L x:
     *   dd = dX - J^{-1} (dJ[dX] d),  dq = 2 g . dd  with g = P^T M e;
     * F is quadratic in X (and J's Dirichlet rows constant), so with
     * z = J^{-T} g zeroed on the Dirichlet rows,
     *   z . dJ[dX] d = z . F''(d, dX) = ((F'(X + d) - F'(X))^T z) . dX
     * and dq/dx = L^T (2 g - 2 (F'(X + d) - F'(X))^T z).  One transposed
     * solve (the same factors) and one more Jacobian. */
    PetscCall(DMGetGlobalVector(r->dmr, &G));
    PetscCall(DMGetGlobalVector(r->dmr, &Z));
    PetscCall(DMGetGlobalVector(r->dmr, &W));
    PetscCall(SetVertexValues(r, e, mass, G));
    PetscCall(KSPSolveTranspose(ksp, G, Z));
    PetscCall(ZeroDirichletRows(r, Z));
    /* W = 2 g + 2 F'(X)^T z - 2 F'(X + d)^T z (J's zeroed rows meet z's zeros) */
    PetscCall(MatMultTranspose(r->J, Z, W));
    PetscCall(VecAXPY(W, 1.0, G));
    PetscCall(VecAXPY(X, 1.0, D));
    PetscCall(SNESComputeJacobian(r->snes, X, r->J, r->J));
    PetscCall(MatMultTranspose(r->J, Z, D));
    PetscCall(VecAXPY(W, -1.0, D));
    PetscCall(VecScale(W, 2.0));
    PetscCall(LiftTranspose(ns, W, Xl, gx));
    PetscCall(DMRestoreGlobalVector(r->dmr, &W));
    PetscCall(DMRestoreGlobalVector(r->dmr, &Z));
    PetscCall(DMRestoreGlobalVector(r->dmr, &G));
  }
  PetscCall(DMRestoreLocalVector(r->dmr, &Xl));
  PetscCall(DMRestoreGlobalVector(r->dmr, &D));
  PetscCall(DMRestoreGlobalVector(r->dmr, &Rv));
  PetscCall(DMRestoreGlobalVector(r->dmr, &X));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFNSResidualVertexVJP(PFNS *ns, const PetscScalar *x, const PetscScalar *v, PetscScalar *gx, double *dnu)
{
  struct _PFNSResidual *r;
  Vec                   X, Xl, Vint, W, Wl;
  PetscScalar          *a;
  const PetscScalar    *am;

  PetscFunctionBegin;
  PetscCall(PFNSResidualSetUp(ns));
  r = ns->res;
  PetscCall(DMGetGlobalVector(r->dmr, &X));
  PetscCall(DMGetGlobalVector(r->dmr, &Vint));
  PetscCall(DMGetGlobalVector(r->dmr, &W));
  PetscCall(DMGetLocalVector(r->dmr, &Xl));
  PetscCall(DMGetLocalVector(r->dmr, &Wl));
  PetscCall(Lift(ns, x, X, Xl));
  PetscCall(SNESComputeJacobian(r->snes, X, r->J, r->J));
  /* W = F'^T (P_int v) + P_bc v */
  PetscCall(VecGetArray(Vint, &a));
  PetscCall(PetscArraycpy(a, v, r->nres));
  PetscCall(VecRestoreArray(Vint, &a));
  PetscCall(ZeroDirichletRows(r, Vint));
  PetscCall(MatMultTranspose(r->J, Vint, W));
  PetscCall(VecGetArrayRead(r->bcmask, &am));
  PetscCall(VecGetArray(W, &a));
  for (PetscInt k = 0; k < r->nres; k++)
    if (PetscRealPart(am[k]) > 0) a[k] += v[k];
  PetscCall(VecRestoreArray(W, &a));
  PetscCall(VecRestoreArrayRead(r->bcmask, &am));
  PetscCall(LiftTranspose(ns, W, Wl, gx));
  if (dnu) {
    /* R is affine in nu: dR/dnu = F(L x; nu = 1) - F(L x; nu = 0) on the
     * interior rows */
    double       nu = r->nu, s;
    PetscScalar *a1;
    Vec          F1, F0;
    PetscCall(DMGetGlobalVector(r->dmr, &F1));
    PetscCall(DMGetGlobalVector(r->dmr, &F0));
    PetscCall(PFNSResidualSetViscosity(ns, 1.0));
    PetscCall(SNESComputeFunction(r->snes, X, F1));
    PetscCall(PFNSResidualSetViscosity(ns, 0.0));
    PetscCall(SNESComputeFunction(r->snes, X, F0));
    PetscCall(PFNSResidualSetViscosity(ns, nu));
    PetscCall(VecAXPY(F1, -1.0, F0));
    PetscCall(VecGetArray(F1, &a1));
    PetscCall(VecGetArrayRead(r->bcmask, &am));
    s = 0;
    for (PetscInt k = 0; k < r->nres; k++)
      if (PetscRealPart(am[k]) == 0) s += PetscRealPart(a1[k] * v[k]);
    PetscCall(VecRestoreArrayRead(r->bcmask, &am));
    PetscCall(VecRestoreArray(F1, &a1));
    PetscCallMPI(MPI_Allreduce(&s, dnu, 1, MPI_DOUBLE, MPI_SUM, ns->mesh->comm));
    PetscCall(DMRestoreGlobalVector(r->dmr, &F1));
    PetscCall(DMRestoreGlobalVector(r->dmr, &F0));
  }
  PetscCall(DMRestoreLocalVector(r->dmr, &Wl));
  PetscCall(DMRestoreLocalVector(r->dmr, &Xl));
  PetscCall(DMRestoreGlobalVector(r->dmr, &W));
  PetscCall(DMRestoreGlobalVector(r->dmr, &Vint));
  PetscCall(DMRestoreGlobalVector(r->dmr, &X));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFNSResidualDestroy(PFNS *ns)
{
  struct _PFNSResidual *r = ns->res;

  PetscFunctionBegin;
  if (!r) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCall(MatDestroy(&r->J));
  PetscCall(KSPDestroy(&r->ksp));
  PetscCall(ISDestroy(&r->bcrows));
  PetscCall(SNESDestroy(&r->snes));
  PetscCall(VecDestroy(&r->bcmask));
  PetscCall(VecDestroy(&r->pmask));
  PetscCall(VecDestroy(&r->g));
  PetscCall(DMDestroy(&r->dmr));
  PetscCall(PetscFree2(r->vdof, r->pdof));
  PetscCall(PetscFree(ns->res));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFNSResidualScaleRows(PFNS *ns, double wmom, double wcont, double wbc, PetscScalar *R)
{
  struct _PFNSResidual *r;
  const PetscScalar    *am, *ap;

  PetscFunctionBegin;
  PetscCall(PFNSResidualSetUp(ns));
  r = ns->res;
  PetscCall(VecGetArrayRead(r->bcmask, &am));
  PetscCall(VecGetArrayRead(r->pmask, &ap));
  for (PetscInt k = 0; k < r->nres; k++) R[k] *= PetscRealPart(am[k]) > 0 ? wbc : PetscRealPart(ap[k]) > 0 ? wcont : wmom;
  PetscCall(VecRestoreArrayRead(r->bcmask, &am));
  PetscCall(VecRestoreArrayRead(r->pmask, &ap));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFNSResidualParts(PFNS *ns, const PetscScalar *R, double *momentum, double *continuity, double *bc)
{
  struct _PFNSResidual *r;
  const PetscScalar    *am, *ap;
  double                loc[2] = {0, 0}, glob[2], mx = 0;

  PetscFunctionBegin;
  PetscCall(PFNSResidualSetUp(ns));
  r = ns->res;
  PetscCall(VecGetArrayRead(r->bcmask, &am));
  PetscCall(VecGetArrayRead(r->pmask, &ap));
  for (PetscInt k = 0; k < r->nres; k++) {
    double v = PetscRealPart(R[k]);
    if (PetscRealPart(am[k]) > 0) mx = PetscMax(mx, fabs(v));
    else loc[PetscRealPart(ap[k]) > 0 ? 1 : 0] += v * v;
  }
  PetscCall(VecRestoreArrayRead(r->bcmask, &am));
  PetscCall(VecRestoreArrayRead(r->pmask, &ap));
  PetscCallMPI(MPI_Allreduce(loc, glob, 2, MPI_DOUBLE, MPI_SUM, ns->mesh->comm));
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, &mx, 1, MPI_DOUBLE, MPI_MAX, ns->mesh->comm));
  *momentum = sqrt(glob[0]), *continuity = sqrt(glob[1]), *bc = mx;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFNSForcesOfVertex(PFNS *ns, const PetscScalar *x, double *cd, double *cl)
{
  struct _PFNSResidual *r;
  Vec                   X, Xl, U;

  PetscFunctionBegin;
  PetscCall(PFNSResidualSetUp(ns));
  r = ns->res;
  PetscCall(DMGetGlobalVector(r->dmr, &X));
  PetscCall(DMGetLocalVector(r->dmr, &Xl));
  PetscCall(Lift(ns, x, X, Xl));
  /* the same local layout on the solver's discretisation, whose global
   * vector drops the constrained dofs (their exact values come back) */
  PetscCall(DMGetGlobalVector(ns->dm, &U));
  PetscCall(DMLocalToGlobal(ns->dm, Xl, INSERT_VALUES, U));
  PetscCall(PFNSForcesOf(ns, U, NULL, cd, cl));
  PetscCall(DMRestoreGlobalVector(ns->dm, &U));
  PetscCall(DMRestoreLocalVector(r->dmr, &Xl));
  PetscCall(DMRestoreGlobalVector(r->dmr, &X));
  PetscFunctionReturn(PETSC_SUCCESS);
}
