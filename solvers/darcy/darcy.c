/* Darcy flow, -div(K grad p) = f, K = exp(g): physflow's first PFPhysics.
 *
 * Defaults reproduce the PIDM/PBFM Darcy benchmark: unit square with 64x64
 * vertices (Q1), g a 64-term KL expansion of a GRF with covariance
 * exp(-|x-y|/0.1), f = +10 on [0,1/8]^2 and -10 on [7/8,1]^2, no-flux
 * boundaries and zero-mean p.  On a Gmsh mesh, g is a Matern field drawn by
 * the SPDE (kappa^2 - Laplacian)^alpha g = white noise (alpha = 1 or 2), KSP
 * solves with the lumped-mass-scaled noise (Lindgren, Rue & Lindstrom 2011).
 * Fields: logK (the input), p (the state). */
#include <math.h>
#include <physflow/kl.h>
#include <physflow/private/physicsimpl.h>
#include <physflow/rng.h>
#include "operator.h"
#include "transfer.h"

typedef enum {
  DARCY_FIELD_KL   = 0,
  DARCY_FIELD_SPDE = 1
} DarcyField;
static const char *const DarcyFields[] = {"kl", "spde", "DarcyField", "DARCY_FIELD_", NULL};
static const char *const DarcyFieldNames[] = {"logK", "p"};

typedef struct {
  /* options */
  PetscInt   order, kl_terms, low_coarsen;
  double     fval, corner, ell, sigma, obs_noise;
  DarcyField field;
  PetscBool  field_set;
  char      *dirichlet[16];
  PetscInt   ndirichlet;
  double     dirvals[16]; /* one per group (or one for all) */
  PetscInt   ndirvals;
  PetscInt   flux_tag;     /* the boundary group of the last flux request, and its mask */
  PetscScalar *flux_mask;
  /* the fine (high-fidelity) operator and solver.  op is always P1/Q1: the
   * fields are vertex arrays, so it gives the residual, VJP, masses and
   * vertex map (and the SPDE field).  With -darcy_order 2, op2 (P2/Q2 on the
   * same mesh) does the solves and its vertex dofs are the state. */
  PFDarcyOp op, op2;
  KSP       ksp;
  KSP       kspadj; /* adjoint solves with many right-hand sides at one state (-darcy_adjoint_) */
  Vec       sol, sol2;
  PFKL      kl;
  /* SPDE field */
  Mat    As;
  KSP    ksps;
  Vec    srhs, ssol;
  double   kappa;
  PetscInt spde_alpha; /* power of the operator: 1 or 2 solves */
  /* low fidelity: coarse box and the maps between natural orders (rank 0) */
  PFMesh    cmesh;
  PFDarcyOp cop;
  KSP       cksp;
  Vec       csol;
  PetscInt *c2f;              /* coarse vertex -> fine vertex at the same point */
  PetscInt *f2c_idx;          /* fine vertex -> 4 coarse vertices (bilinear) */
  double   *f2c_w;
  double   *gnat, *cnat;      /* natural-order work arrays */
  char      low_mesh[PETSC_MAX_PATH_LEN];
  PFTransfer tg, tp;         /* Gmsh meshes: fine->coarse points (log K), coarse->fine (p) */
  /* statistics */
  PetscInt  nsolve;
  PetscInt  its_total;
  double    fctx[2]; /* {source, corner} for PFDarcyCornerForcing */
} PFPhysics_Darcy;

static PetscErrorCode SetFromOptions_Darcy(PFPhysics phys, PetscOptionItems *PetscOptionsObject)
{
  PFPhysics_Darcy *d = (PFPhysics_Darcy *)phys->data;

  PetscFunctionBegin;
  PetscOptionsHeadBegin(PetscOptionsObject, "Darcy flow options");
  PetscCall(PetscOptionsInt("-darcy_order", "Lagrange order of the high-fidelity solve: 1 (P1/Q1) or 2 (P2/Q2; the fields stay vertex values and the residual stays P1/Q1, so P2 data have a residual at discretisation-error level, not solver tolerance; low fidelity stays P1/Q1)", "darcy", d->order, &d->order, NULL));
  PetscCall(PetscOptionsReal("-darcy_source", "Source strength f on the corner squares", "darcy", d->fval, &d->fval, NULL));
  PetscCall(PetscOptionsReal("-darcy_source_corner", "Side of the source and sink squares", "darcy", d->corner, &d->corner, NULL));
  PetscCall(PetscOptionsEnum("-darcy_field", "Random log-permeability: kl (box default) or spde (mesh default)", "darcy", DarcyFields, (PetscEnum)d->field, (PetscEnum *)&d->field, &d->field_set));
  PetscCall(PetscOptionsInt("-darcy_spde_alpha", "Power of (kappa^2 - Laplacian) in the SPDE field: 1 or 2", "darcy", d->spde_alpha, &d->spde_alpha, NULL));
  PetscCall(PetscOptionsReal("-darcy_corr_length", "Correlation length of log K", "darcy", d->ell, &d->ell, NULL));
  PetscCall(PetscOptionsInt("-darcy_kl_terms", "Terms of the KL expansion", "darcy", d->kl_terms, &d->kl_terms, NULL));
  PetscCall(PetscOptionsReal("-darcy_logk_std", "Standard deviation of log K", "darcy", d->sigma, &d->sigma, NULL));
  PetscCall(PetscOptionsInt("-low_coarsen", "Low fidelity: coarsening factor of the box (cells per side / k)", "darcy", d->low_coarsen, &d->low_coarsen, NULL));
  d->ndirichlet = 16;
  PetscCall(PetscOptionsStringArray("-darcy_dirichlet", "Boundary groups (Gmsh physical curve names) with p = -darcy_dirichlet_value; no-flux elsewhere", "darcy", d->dirichlet, &d->ndirichlet, NULL));
  d->ndirvals = 16;
  PetscCall(PetscOptionsRealArray("-darcy_dirichlet_value", "Pressure on the Dirichlet groups: one value for all, or one per group (in -darcy_dirichlet's order)", "darcy", d->dirvals, &d->ndirvals, NULL));
  PetscCall(PetscOptionsString("-low_mesh", "Low fidelity on a Gmsh mesh: the coarse mesh (e.g. gmsh -clscale 2 of the same .geo)", "darcy", d->low_mesh, d->low_mesh, sizeof(d->low_mesh), NULL));
  PetscCall(PetscOptionsReal("-obs_noise", "Std of Gaussian noise added to the solved p (observational data)", "darcy", d->obs_noise, &d->obs_noise, NULL));
  PetscOptionsHeadEnd();
  PetscCheck(d->order == 1 || d->order == 2, phys->comm, PETSC_ERR_ARG_OUTOFRANGE, "-darcy_order must be 1 (P1/Q1) or 2 (P2/Q2), got %" PetscInt_FMT, d->order);
  PetscCheck(d->ell > 0 && d->sigma > 0, phys->comm, PETSC_ERR_ARG_OUTOFRANGE, "-darcy_corr_length and -darcy_logk_std must be positive");
  PetscCheck(d->spde_alpha == 1 || d->spde_alpha == 2, phys->comm, PETSC_ERR_ARG_OUTOFRANGE, "-darcy_spde_alpha must be 1 or 2");
  PetscCheck(d->kl_terms > 0, phys->comm, PETSC_ERR_ARG_OUTOFRANGE, "-darcy_kl_terms must be positive");
  PetscCheck(d->low_coarsen >= 2, phys->comm, PETSC_ERR_ARG_OUTOFRANGE, "-low_coarsen must be >= 2 (at least 4x fewer unknowns)");
  PetscCheck(d->ndirvals <= 1 || d->ndirvals == d->ndirichlet, phys->comm, PETSC_ERR_ARG_SIZ, "-darcy_dirichlet_value: give one value, or one per -darcy_dirichlet group (%" PetscInt_FMT " groups, %" PetscInt_FMT " values)", d->ndirichlet, d->ndirvals);
  PetscCheck(d->obs_noise >= 0, phys->comm, PETSC_ERR_ARG_OUTOFRANGE, "-obs_noise must be >= 0");
  /* the solver's own options: -darcy_ksp_type, -darcy_pc_type, ... */
  PetscCall(KSPCreate(phys->comm, &d->ksp));
  PetscCall(KSPSetOptionsPrefix(d->ksp, "darcy_"));
  PetscCall(KSPSetType(d->ksp, KSPCG));
  PetscCall(KSPSetTolerances(d->ksp, 1e-12, 1e-50, PETSC_DEFAULT, 1000));
  {
    PC pc;
    PetscCall(KSPGetPC(d->ksp, &pc));
    PetscCall(PCSetType(pc, PCGAMG));
  }
  PetscCall(KSPSetFromOptions(d->ksp));
  {
    /* many adjoint solves at one state (the Gauss-Newton matrix of a MAP
     * refinement: one per sensor): a sparse Cholesky factorisation once,
     * then two triangular solves each, where CG + GAMG repeats its
     * iterations for every right-hand side (measured on the 64x64 box: 0.2
     * ms a solve after a 2.5 ms factorisation, against 4 ms).  Nested
     * dissection keeps the 2D fill O(n log n); MUMPS across ranks. */
    PC          pc;
    PetscMPIInt size;
    PetscCallMPI(MPI_Comm_size(phys->comm, &size));
    PetscCall(KSPCreate(phys->comm, &d->kspadj));
    PetscCall(KSPSetOptionsPrefix(d->kspadj, "darcy_adjoint_"));
    PetscCall(KSPSetType(d->kspadj, KSPPREONLY));
    PetscCall(KSPGetPC(d->kspadj, &pc));
    PetscCall(PCSetType(pc, PCCHOLESKY));
    if (size > 1) PetscCall(PCFactorSetMatSolverType(pc, MATSOLVERMUMPS));
    else PetscCall(PCFactorSetMatOrderingType(pc, MATORDERINGND));
    PetscCall(KSPSetFromOptions(d->kspadj));
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode CreateSolver(MPI_Comm comm, const char prefix[], KSP *ksp)
{
  PC pc;

  PetscFunctionBegin;
  PetscCall(KSPCreate(comm, ksp));
  PetscCall(KSPSetOptionsPrefix(*ksp, prefix));
  PetscCall(KSPSetType(*ksp, KSPCG));
  PetscCall(KSPSetTolerances(*ksp, 1e-12, 1e-50, PETSC_DEFAULT, 1000));
  PetscCall(KSPGetPC(*ksp, &pc));
  PetscCall(PCSetType(pc, PCGAMG));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Low fidelity on the box: the same problem on a box k times coarser,
 * nested in the fine one so log K is injected exactly and p comes back by
 * bilinear interpolation.  The coarse solve is P1/Q1 whatever -darcy_order:
 * low fidelity is the cheap model, and the transfers are vertex to vertex. */
static PetscErrorCode SetUpLowFidelity(PFPhysics phys)
{
  PFPhysics_Darcy *d = (PFPhysics_Darcy *)phys->data;
  PetscInt         nf = phys->mesh_faces, k = d->low_coarsen, nc;
  PetscMPIInt      rank;

  PetscFunctionBegin;
  PetscCallMPI(MPI_Comm_rank(phys->comm, &rank));
  PetscCheck(!d->ndirichlet, phys->comm, PETSC_ERR_SUP, "-fidelity low does not support -darcy_dirichlet yet");
  if (phys->meshfile[0]) {
    /* Gmsh mesh: a user-supplied coarse mesh of the same geometry */
    PetscCheck(d->low_mesh[0], phys->comm, PETSC_ERR_ARG_WRONG, "-fidelity low on a Gmsh mesh needs its coarse mesh: -low_mesh coarse.msh (e.g. made by gmsh -clscale 2 from the same .geo)");
    PetscCall(PFMeshCreate(phys->comm, d->low_mesh, 0, &d->cmesh));
    PetscCheck(4 * d->cmesh->nvert <= phys->mesh->nvert, phys->comm, PETSC_ERR_ARG_WRONG, "-low_mesh '%s' has %" PetscInt_FMT " vertices, more than 1/4 of the fine mesh's %" PetscInt_FMT ": low fidelity should be at least 4x cheaper", d->low_mesh, d->cmesh->nvert, phys->mesh->nvert);
    PetscCall(PFDarcyOpCreate(d->cmesh, 1, PFDarcyCornerForcing, d->fctx, &d->cop));
    PetscCall(CreateSolver(phys->comm, "darcy_low_", &d->cksp));
    PetscCall(KSPSetFromOptions(d->cksp));
    PetscCall(VecDuplicate(d->cop.mass, &d->csol));
    PetscCall(PetscMalloc5(1, &d->c2f, 1, &d->f2c_idx, 1, &d->f2c_w, phys->mesh->nvert, &d->gnat, d->cmesh->nvert, &d->cnat));
    if (rank == 0) {
      PFMesh fm = phys->mesh, cm = d->cmesh;
      PetscCall(PFTransferCreate(fm->nvert, fm->coords, fm->ncells, fm->nvpc, fm->cells, cm->nvert, cm->coords, &d->tg));
      PetscCall(PFTransferCreate(cm->nvert, cm->coords, cm->ncells, cm->nvpc, cm->cells, fm->nvert, fm->coords, &d->tp));
    }
    PetscFunctionReturn(PETSC_SUCCESS);
  }
  PetscCheck(!d->low_mesh[0], phys->comm, PETSC_ERR_ARG_WRONG, "-low_mesh is for Gmsh meshes; the box is coarsened with -low_coarsen");
  PetscCheck(nf % k == 0, phys->comm, PETSC_ERR_ARG_INCOMP, "-low_coarsen %" PetscInt_FMT " must divide -mesh_faces %" PetscInt_FMT " (e.g. 3 or 7 for 63)", k, nf);
  nc = nf / k;
  PetscCall(PFMeshCreate(phys->comm, NULL, nc, &d->cmesh));
  PetscCall(PFDarcyOpCreate(d->cmesh, 1, PFDarcyCornerForcing, d->fctx, &d->cop));
  PetscCall(CreateSolver(phys->comm, "darcy_low_", &d->cksp));
  PetscCall(KSPSetFromOptions(d->cksp));
  PetscCall(VecDuplicate(d->cop.mass, &d->csol));
  if (rank == 0) {
    PFMesh    fm = phys->mesh, cm = d->cmesh;
    PetscInt *fgrid, *cgrid, nvf = fm->nvert, nvc = cm->nvert;
    PetscCall(PetscMalloc2((nf + 1) * (nf + 1), &fgrid, (nc + 1) * (nc + 1), &cgrid));
    for (PetscInt v = 0; v < nvf; v++) fgrid[(PetscInt)llround(fm->coords[2 * v + 1] * nf) * (nf + 1) + (PetscInt)llround(fm->coords[2 * v] * nf)] = v;
    for (PetscInt v = 0; v < nvc; v++) cgrid[(PetscInt)llround(cm->coords[2 * v + 1] * nc) * (nc + 1) + (PetscInt)llround(cm->coords[2 * v] * nc)] = v;
    PetscCall(PetscMalloc5(nvc, &d->c2f, 4 * nvf, &d->f2c_idx, 4 * nvf, &d->f2c_w, nvf, &d->gnat, nvc, &d->cnat));
    for (PetscInt v = 0; v < nvc; v++) d->c2f[v] = fgrid[(PetscInt)llround(cm->coords[2 * v + 1] * nf) * (nf + 1) + (PetscInt)llround(cm->coords[2 * v] * nf)];
    for (PetscInt v = 0; v < nvf; v++) {
      double   x = fm->coords[2 * v] * nc, y = fm->coords[2 * v + 1] * nc;
      PetscInt i = PetscMin((PetscInt)floor(x), nc - 1), j = PetscMin((PetscInt)floor(y), nc - 1);
      double   s = x - i, t = y - j;
      d->f2c_idx[4 * v + 0] = cgrid[j * (nc + 1) + i];
      d->f2c_idx[4 * v + 1] = cgrid[j * (nc + 1) + i + 1];
      d->f2c_idx[4 * v + 2] = cgrid[(j + 1) * (nc + 1) + i];
      d->f2c_idx[4 * v + 3] = cgrid[(j + 1) * (nc + 1) + i + 1];
      d->f2c_w[4 * v + 0]   = (1 - s) * (1 - t);
      d->f2c_w[4 * v + 1]   = s * (1 - t);
      d->f2c_w[4 * v + 2]   = (1 - s) * t;
      d->f2c_w[4 * v + 3]   = s * t;
    }
    PetscCall(PetscFree2(fgrid, cgrid));
  } else {
    PetscCall(PetscMalloc5(d->cmesh->nvert, &d->c2f, 1, &d->f2c_idx, 1, &d->f2c_w, phys->mesh->nvert, &d->gnat, d->cmesh->nvert, &d->cnat));
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Nystrom KL of the log-permeability covariance on the mesh vertices */
static PetscErrorCode SetUpKL(PFPhysics phys)
{
  PFPhysics_Darcy *d = (PFPhysics_Darcy *)phys->data;
  PetscMPIInt      rank;

  PetscFunctionBegin;
  PetscCallMPI(MPI_Comm_rank(phys->comm, &rank));
  /* Nystrom KL with lumped vertex masses (cell area shared equally by its
   * vertices) as quadrature weights, computed from the SERIAL mesh: masses
   * summed over a partition differ in the last bits, and that is enough to
   * rotate the modes inside the degenerate eigenspaces of the square */
  double *w = NULL;
  if (rank == 0) {
    PFMesh m = phys->mesh;
    PetscCall(PetscCalloc1(m->nvert, &w));
    for (PetscInt c = 0; c < m->ncells; c++) {
      const PetscInt *cv   = m->cells + c * m->nvpc;
      double          area = 0;
      for (PetscInt i = 0; i < m->nvpc; i++) {
        const double *a = m->coords + 2 * cv[i], *b = m->coords + 2 * cv[(i + 1) % m->nvpc];
        area += a[0] * b[1] - a[1] * b[0];
      }
      for (PetscInt i = 0; i < m->nvpc; i++) w[cv[i]] += fabs(0.5 * area) / (double)m->nvpc;
    }
  }
  PetscCall(PFKLCreate(phys->comm, phys->mesh->nvert, 2, phys->mesh->coords, w, d->ell, d->sigma * d->sigma, d->kl_terms, &d->kl));
  PetscCall(PetscFree(w));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode SetUp_Darcy(PFPhysics phys)
{
  PFPhysics_Darcy   *d = (PFPhysics_Darcy *)phys->data;
  const PetscScalar *m;
  PetscMPIInt        rank;

  PetscFunctionBegin;
  PetscCallMPI(MPI_Comm_rank(phys->comm, &rank));
  d->fctx[0] = d->fval;
  d->fctx[1] = d->corner;
  PetscCall(PFDarcyOpCreate(phys->mesh, 1, PFDarcyCornerForcing, d->fctx, &d->op));
  phys->nown = d->op.nown;
  PetscCall(PetscMalloc2(phys->nown, &phys->ownnat, phys->nown, &phys->mass));
  PetscCall(PetscArraycpy(phys->ownnat, d->op.ownnat, phys->nown));
  PetscCall(VecGetArrayRead(d->op.mass, &m));
  PetscCall(PetscArraycpy(phys->mass, m, phys->nown));
  PetscCall(VecRestoreArrayRead(d->op.mass, &m));
  PetscCall(VecDuplicate(d->op.mass, &d->sol));
  if (d->order == 2) {
    PetscCall(PFDarcyOpCreate(phys->mesh, 2, PFDarcyCornerForcing, d->fctx, &d->op2));
    /* both operators list the owned vertices in mesh point order */
    PetscCheck(d->op2.nvown == phys->nown, PETSC_COMM_SELF, PETSC_ERR_PLIB, "P2 operator owns %" PetscInt_FMT " vertices, P1 %" PetscInt_FMT, d->op2.nvown, phys->nown);
    for (PetscInt i = 0; i < phys->nown; i++) PetscCheck(d->op2.ownnat[i] == phys->ownnat[i], PETSC_COMM_SELF, PETSC_ERR_PLIB, "P1 and P2 operators order the owned vertices differently");
    PetscCall(VecDuplicate(d->op2.mass, &d->sol2));
  }
  if (d->ndirichlet > 0) {
    PetscInt tags[16];
    double   vals[16];
    for (PetscInt i = 0; i < d->ndirichlet; i++) {
      PetscCall(PFMeshGetBoundaryGroup(phys->mesh, d->dirichlet[i], &tags[i]));
      vals[i] = d->ndirvals == 0 ? 0.0 : d->dirvals[d->ndirvals == 1 ? 0 : i];
    }
    PetscCall(PFDarcyOpSetDirichlet(&d->op, phys->mesh, d->ndirichlet, tags, (const char *const *)d->dirichlet, vals));
    if (d->order == 2) PetscCall(PFDarcyOpSetDirichlet(&d->op2, phys->mesh, d->ndirichlet, tags, (const char *const *)d->dirichlet, vals));
  }
  phys->nfields    = 2;
  phys->ninputs    = 1;
  phys->fieldnames = DarcyFieldNames;
  phys->state_mean_zero = d->op.ndir_global ? PETSC_FALSE : PETSC_TRUE; /* pure Neumann */
  if (!d->field_set) d->field = phys->meshfile[0] ? DARCY_FIELD_SPDE : DARCY_FIELD_KL;
  if (d->field == DARCY_FIELD_KL) {
    /* the KL modes are computed at the first draw: eval and training need no inputs */
  } else {
    /* SPDE operator kappa^2 M + S.  (kappa^2 - Laplacian)^alpha in 2-D is
     * a Matern field of smoothness nu = 2 alpha - 1 whose correlation length
     * (distance of correlation ~0.13) is sqrt(8 nu)/kappa */
    const PetscInt nb = d->op.nb;
    const double   nu = 2.0 * d->spde_alpha - 1.0;
    d->kappa          = sqrt(8.0 * nu) / d->ell;
    for (PetscInt c = 0; c < d->op.ncell; c++)
      for (PetscInt ij = 0; ij < nb * nb; ij++) {
        PetscScalar s = d->kappa * d->kappa * d->op.Me[c * nb * nb + ij];
        for (PetscInt k = 0; k < nb; k++) s += d->op.B[(c * nb + k) * nb * nb + ij];
        d->op.coo[c * nb * nb + ij] = s;
      }
    PetscCall(MatSetValuesCOO(d->op.A, d->op.coo, INSERT_VALUES));
    PetscCall(MatDuplicate(d->op.A, MAT_COPY_VALUES, &d->As));
    PetscCall(MatSetNullSpace(d->As, NULL));
    /* the SPDE operator never changes: factor it once (MUMPS Cholesky, in
     * parallel) so each sample costs only triangular solves */
    PetscCall(CreateSolver(phys->comm, "darcy_spde_", &d->ksps));
    PetscCall(MatSetOption(d->As, MAT_SPD, PETSC_TRUE));
    PetscCall(KSPSetType(d->ksps, KSPPREONLY));
    {
      PC pc;
      PetscCall(KSPGetPC(d->ksps, &pc));
      PetscCall(PCSetType(pc, PCCHOLESKY));
      PetscCall(PCFactorSetMatSolverType(pc, MATSOLVERMUMPS));
    }
    PetscCall(KSPSetOperators(d->ksps, d->As, d->As));
    PetscCall(KSPSetFromOptions(d->ksps));
    PetscCall(KSPSetUp(d->ksps));
    PetscCall(VecDuplicate(d->sol, &d->srhs));
    PetscCall(VecDuplicate(d->sol, &d->ssol));
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* The KL field's latent map: logK = sum_k sqrt(lambda_k) xi_k phi_k */
static PetscErrorCode Latent_Darcy(PFPhysics phys, PetscInt *m)
{
  PFPhysics_Darcy *d = (PFPhysics_Darcy *)phys->data;

  PetscFunctionBegin;
  *m = d->field == DARCY_FIELD_KL ? d->kl_terms : 0;
  /* the caller is about to use the map: its dense eigenproblem (seconds
   * at 64x64) is done here, before any timed work */
  if (*m && !d->kl) PetscCall(SetUpKL(phys));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode InputsFromLatent_Darcy(PFPhysics phys, const double xi[], PetscScalar *x)
{
  PFPhysics_Darcy *d = (PFPhysics_Darcy *)phys->data;
  double          *gv;

  PetscFunctionBegin;
  PetscCheck(d->field == DARCY_FIELD_KL, phys->comm, PETSC_ERR_SUP, "the latent prior map needs -darcy_field kl (the SPDE field has none)");
  if (!d->kl) PetscCall(SetUpKL(phys));
  PetscCall(PetscMalloc1(phys->nown + 1, &gv));
  PetscCall(PFKLEvaluate(d->kl, xi, phys->nown, phys->ownnat, gv));
  for (PetscInt i = 0; i < phys->nown; i++) x[i] = gv[i];
  PetscCall(PetscFree(gv));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* the KL eigenvalues and modes of the latent map (set up on first use) */
static PetscErrorCode KLModes(PFPhysics phys, const double **lam, const double **phi)
{
  PFPhysics_Darcy *d = (PFPhysics_Darcy *)phys->data;

  PetscFunctionBegin;
  PetscCheck(d->field == DARCY_FIELD_KL, phys->comm, PETSC_ERR_SUP, "the latent prior map needs -darcy_field kl (the SPDE field has none)");
  if (!d->kl) PetscCall(SetUpKL(phys));
  PetscCall(PFKLGetEigenvalues(d->kl, lam));
  PetscCall(PFKLGetModes(d->kl, phi));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode LatentVJP_Darcy(PFPhysics phys, const PetscScalar *gx, double gxi[])
{
  PFPhysics_Darcy *d = (PFPhysics_Darcy *)phys->data;
  const double    *lam, *phi;
  PetscInt         m = d->kl_terms;

  PetscFunctionBegin;
  PetscCall(KLModes(phys, &lam, &phi));
  for (PetscInt k = 0; k < m; k++) gxi[k] = 0;
  for (PetscInt i = 0; i < phys->nown; i++)
    for (PetscInt k = 0; k < m; k++) gxi[k] += phi[(size_t)phys->ownnat[i] * m + k] * PetscRealPart(gx[i]);
  for (PetscInt k = 0; k < m; k++) gxi[k] *= sqrt(PetscMax(lam[k], 0.0)); /* as the forward map */
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, gxi, (PetscMPIInt)m, MPI_DOUBLE, MPI_SUM, phys->comm));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* The inverse of the latent map on its range: the L2(w) projection
 * xi_k = sum_i w_i phi_k(x_i) g_i / sqrt(lambda_k) (the modes are
 * w-orthonormal; w: the lumped vertex masses, which the KL's serial weights
 * equal up to round-off), i.e. the latent VJP of w g divided by lambda_k */
static PetscErrorCode LatentFromInputs_Darcy(PFPhysics phys, const PetscScalar *x, double xi[])
{
  PFPhysics_Darcy *d = (PFPhysics_Darcy *)phys->data;
  const double    *lam, *phi;
  PetscScalar     *wg;

  PetscFunctionBegin;
  PetscCall(KLModes(phys, &lam, &phi));
  PetscCall(PetscMalloc1(phys->nown + 1, &wg));
  for (PetscInt i = 0; i < phys->nown; i++) wg[i] = phys->mass[i] * x[i];
  PetscCall(LatentVJP_Darcy(phys, wg, xi));
  for (PetscInt k = 0; k < d->kl_terms; k++) xi[k] = lam[k] > 0 ? xi[k] / lam[k] : 0;
  PetscCall(PetscFree(wg));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode DrawInputs_Darcy(PFPhysics phys, uint64_t seed, PetscInt index, PetscScalar *x)
{
  PFPhysics_Darcy *d = (PFPhysics_Darcy *)phys->data;
  PetscScalar     *g = x; /* field 0 */

  PetscFunctionBegin;
  if (d->field == DARCY_FIELD_KL) {
    double *xi, *gv;
    PFRNG   r;
    if (!d->kl) PetscCall(SetUpKL(phys));
    PetscCall(PetscMalloc2(d->kl_terms, &xi, phys->nown + 1, &gv));
    PFRNGInit(&r, seed, PF_RNG_PDE_INPUT, (uint64_t)index, 0);
    for (PetscInt k = 0; k < d->kl_terms; k++) xi[k] = PFRNGNormal(&r);
    PetscCall(PFKLEvaluate(d->kl, xi, phys->nown, phys->ownnat, gv));
    for (PetscInt i = 0; i < phys->nown; i++) g[i] = gv[i];
    PetscCall(PetscFree2(xi, gv));
  } else {
    /* white noise per natural vertex, scaled by sqrt(lumped mass); two solves
     * give alpha = 2; the Matern marginal variance is
     * Gamma(nu) / (Gamma(nu + 1) 4 pi kappa^(2 nu)) = 1 / (nu 4 pi kappa^(2 nu)) */
    PetscScalar *b;
    PetscCall(VecGetArray(d->srhs, &b));
    for (PetscInt i = 0; i < phys->nown; i++) {
      PFRNG r;
      PFRNGInit(&r, seed, PF_RNG_PDE_INPUT, (uint64_t)index, (uint32_t)phys->ownnat[i]);
      b[i] = PetscSqrtReal(PetscRealPart(phys->mass[i])) * PFRNGNormal(&r);
    }
    PetscCall(VecRestoreArray(d->srhs, &b));
    PetscCall(KSPSolve(d->ksps, d->srhs, d->ssol));
    if (d->spde_alpha == 2) {
      PetscCall(VecPointwiseMult(d->srhs, d->ssol, d->op.mass));
      PetscCall(KSPSolve(d->ksps, d->srhs, d->ssol));
    }
    {
      const PetscScalar *u;
      const double       nu    = 2.0 * d->spde_alpha - 1.0;
      double             scale = d->sigma * sqrt(nu * 4 * M_PI * pow(d->kappa, 2 * nu));
      PetscCall(VecGetArrayRead(d->ssol, &u));
      for (PetscInt i = 0; i < phys->nown; i++) g[i] = scale * u[i];
      PetscCall(VecRestoreArrayRead(d->ssol, &u));
    }
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode Solve_Darcy(PFPhysics phys, PFFidelity fid, uint64_t seed, PetscInt index, PetscScalar *x)
{
  PFPhysics_Darcy *d = (PFPhysics_Darcy *)phys->data;
  PetscScalar     *g = x, *p = x + phys->nown;
  PetscInt         its;
  PetscMPIInt      rank;

  PetscFunctionBegin;
  PetscCallMPI(MPI_Comm_rank(phys->comm, &rank));
  if (fid == PF_FIDELITY_HIGH && d->order == 2) {
    const PetscScalar *s;
    /* the P2/Q2 solution; the state keeps its vertex dofs */
    PetscCall(PFDarcyOpSolve(&d->op2, d->ksp, g, d->sol2, &its));
    PetscCall(VecGetArrayRead(d->sol2, &s));
    PetscCall(PFDarcyOpVertexValues(&d->op2, s, p));
    PetscCall(VecRestoreArrayRead(d->sol2, &s));
  } else if (fid == PF_FIDELITY_HIGH) {
    const PetscScalar *s;
    PetscCall(PFDarcyOpSolve(&d->op, d->ksp, g, d->sol, &its));
    PetscCall(VecGetArrayRead(d->sol, &s));
    PetscCall(PetscArraycpy(p, s, phys->nown));
    PetscCall(VecRestoreArrayRead(d->sol, &s));
  } else {
    PetscInt           nvf = phys->mesh->nvert, nvc;
    PetscScalar       *gc;
    const PetscScalar *pc;
    if (!d->cmesh) PetscCall(SetUpLowFidelity(phys));
    nvc = d->cmesh->nvert;
    /* g: fine -> natural (rank 0) -> coarse vertices -> everyone */
    PetscCall(PFGatherNatural(phys->comm, phys->nown, phys->ownnat, nvf, g, d->gnat));
    if (rank == 0) {
      if (d->tg.n) PFTransferApply(&d->tg, d->gnat, d->cnat);
      else
        for (PetscInt v = 0; v < nvc; v++) d->cnat[v] = d->gnat[d->c2f[v]];
    }
    PetscCallMPI(MPI_Bcast(d->cnat, (PetscMPIInt)nvc, MPI_DOUBLE, 0, phys->comm));
    PetscCall(PetscMalloc1(d->cop.nown + 1, &gc));
    for (PetscInt i = 0; i < d->cop.nown; i++) gc[i] = d->cnat[d->cop.ownnat[i]];
    PetscCall(PFDarcyOpSolve(&d->cop, d->cksp, gc, d->csol, &its));
    PetscCall(PetscFree(gc));
    /* p: coarse -> natural (rank 0) -> bilinear onto fine vertices -> everyone */
    PetscCall(VecGetArrayRead(d->csol, &pc));
    PetscCall(PFGatherNatural(phys->comm, d->cop.nown, d->cop.ownnat, nvc, pc, d->cnat));
    PetscCall(VecRestoreArrayRead(d->csol, &pc));
    if (rank == 0) {
      if (d->tp.n) PFTransferApply(&d->tp, d->cnat, d->gnat);
      else
        for (PetscInt v = 0; v < nvf; v++) {
          double s = 0;
          for (PetscInt q = 0; q < 4; q++) s += d->f2c_w[4 * v + q] * d->cnat[d->f2c_idx[4 * v + q]];
          d->gnat[v] = s;
        }
    }
    PetscCallMPI(MPI_Bcast(d->gnat, (PetscMPIInt)nvf, MPI_DOUBLE, 0, phys->comm));
    for (PetscInt i = 0; i < phys->nown; i++) p[i] = d->gnat[phys->ownnat[i]];
  }
  d->nsolve++;
  d->its_total += its;
  if (d->obs_noise > 0)
    for (PetscInt i = 0; i < phys->nown; i++) {
      PFRNG r;
      PFRNGInit(&r, seed, PF_RNG_PDE_NOISE, (uint64_t)index, (uint32_t)phys->ownnat[i]);
      p[i] += d->obs_noise * PFRNGNormal(&r);
    }
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode Residual_Darcy(PFPhysics phys, PetscInt B, const PetscScalar *x, PetscScalar *R)
{
  PFPhysics_Darcy *d = (PFPhysics_Darcy *)phys->data;
  const PetscInt   n = phys->nown;

  PetscFunctionBegin;
  for (PetscInt b = 0; b < B; b++) PetscCall(PFDarcyOpResidual(&d->op, x + 2 * n * b, x + 2 * n * b + n, R + n * b));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode ResidualVJP_Darcy(PFPhysics phys, PetscInt B, const PetscScalar *x, const PetscScalar *v, PetscScalar *gx)
{
  PFPhysics_Darcy *d = (PFPhysics_Darcy *)phys->data;
  const PetscInt   n = phys->nown;

  PetscFunctionBegin;
  for (PetscInt b = 0; b < B; b++) PetscCall(PFDarcyOpVJP(&d->op, x + 2 * n * b, x + 2 * n * b + n, v + n * b, gx + 2 * n * b, gx + 2 * n * b + n));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* The outflow through a boundary group of each of B states (and its
 * gradient); the group's vertex mask is kept for the next call */
static PetscErrorCode BoundaryFlux_Darcy(PFPhysics phys, PetscInt tag, const char name[], PetscInt B, const PetscScalar *x, double *Q, PetscScalar *grad)
{
  PFPhysics_Darcy *d = (PFPhysics_Darcy *)phys->data;
  const PetscInt   n = phys->nown;

  PetscFunctionBegin;
  if (!d->flux_mask || d->flux_tag != tag) {
    if (!d->flux_mask) PetscCall(PetscMalloc1(n + 1, &d->flux_mask));
    PetscCall(PFDarcyOpGroupMask(&d->op, phys->mesh, tag, name, d->flux_mask));
    d->flux_tag = tag;
  }
  for (PetscInt b = 0; b < B; b++) PetscCall(PFDarcyOpGroupFlux(&d->op, x + 2 * n * b, x + 2 * n * b + n, d->flux_mask, &Q[b], grad ? grad + 2 * n * b : NULL, grad ? grad + 2 * n * b + n : NULL));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode StateJacobianSolve_Darcy(PFPhysics phys, PetscInt B, const PetscScalar *x, PetscBool transpose, const PetscScalar *r, PetscScalar *y)
{
  PFPhysics_Darcy *d = (PFPhysics_Darcy *)phys->data;
  const PetscInt   n = phys->nown;

  PetscFunctionBegin;
  /* with P2 solves the solver's state and the P1 residual's Jacobian are
   * different discretisations (and would share one KSP of other sizes) */
  PetscCheck(d->order == 1, phys->comm, PETSC_ERR_SUP, "the state-Jacobian solve (adjoints: MAP, boundary_flux guidance, -constraint_norm error) needs -darcy_order 1: the P2 solver and the P1 residual differ");
  for (PetscInt b = 0; b < B; b++) PetscCall(PFDarcyOpSolveJacobian(&d->op, d->ksp, x + 2 * n * b, transpose, r + n * b, y + n * b));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode StateJacobianSolveMany_Darcy(PFPhysics phys, const PetscScalar *x, PetscInt K, PetscBool transpose, const PetscScalar *r, PetscScalar *y)
{
  PFPhysics_Darcy *d = (PFPhysics_Darcy *)phys->data;

  PetscFunctionBegin;
  PetscCheck(d->order == 1, phys->comm, PETSC_ERR_SUP, "the state-Jacobian solve (adjoints: MAP, boundary_flux guidance, -constraint_norm error) needs -darcy_order 1: the P2 solver and the P1 residual differ");
  PetscCall(PFDarcyOpSolveJacobianMany(&d->op, d->kspadj, x, transpose, K, r, y));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode ForcingNorm_Darcy(PFPhysics phys, double *fnorm)
{
  PetscFunctionBegin;
  *fnorm = ((PFPhysics_Darcy *)phys->data)->op.fnorm;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Re-solve consistency and boundary fluxes of one state */
static PetscErrorCode Validate_Darcy(PFPhysics phys, const PetscScalar *x, PetscInt *n, const char *const **names, double v[])
{
  static const char *const all[] = {"resolve", "noflux_leak", "conservation", "dirichlet_error"};
  PFPhysics_Darcy         *d     = (PFPhysics_Darcy *)phys->data;
  const PetscInt           nown  = phys->nown;
  const PetscScalar       *p     = x + nown, *F;
  PetscScalar             *y;
  double                   noise = d->obs_noise, loc[5] = {0, 0, 0, 0, 0}, glob[5], leak, net, Q, src, pmean = 0;

  PetscFunctionBegin;
  /* the solver's p for this logK (never with observation noise) */
  PetscCall(PetscMalloc1(2 * nown + 1, &y));
  PetscCall(PetscArraycpy(y, x, nown));
  d->obs_noise = 0;
  PetscCall(Solve_Darcy(phys, PF_FIDELITY_HIGH, 0, 0, y));
  d->obs_noise = noise;
  /* pure Neumann: p is defined up to a constant, so compare without the mean */
  for (PetscInt i = 0; i < nown; i++) {
    loc[0] += PetscRealPart(phys->mass[i] * p[i]);
    loc[1] += PetscRealPart(phys->mass[i]);
  }
  PetscCallMPI(MPI_Allreduce(loc, glob, 2, MPI_DOUBLE, MPI_SUM, phys->comm));
  if (!d->op.ndir_global) pmean = glob[0] / glob[1];
  loc[0] = loc[1] = 0;
  for (PetscInt i = 0; i < nown; i++) {
    double e = PetscRealPart(p[i]) - pmean - PetscRealPart(y[nown + i]);
    loc[0] += PetscRealPart(phys->mass[i]) * e * e;
    loc[1] += PetscRealPart(phys->mass[i] * y[nown + i] * y[nown + i]);
  }
  /* the flow rate injected by the sources, and the net source */
  PetscCall(VecGetArrayRead(d->op.Fraw, &F));
  for (PetscInt i = 0; i < d->op.nown; i++) {
    loc[2] += PetscMax(PetscRealPart(F[i]), 0);
    loc[3] += PetscRealPart(F[i]);
  }
  PetscCall(VecRestoreArrayRead(d->op.Fraw, &F));
  for (PetscInt i = 0; i < d->op.ndir; i++) loc[4] = PetscMax(loc[4], fabs(PetscRealPart(p[d->op.dir[i]]) - d->op.dirv[i]));
  PetscCallMPI(MPI_Allreduce(loc, glob, 4, MPI_DOUBLE, MPI_SUM, phys->comm));
  PetscCallMPI(MPI_Allreduce(&loc[4], &glob[4], 1, MPI_DOUBLE, MPI_MAX, phys->comm));
  /* the no-flux leak: the weak flux through the no-flux boundary, i.e. the
   * residual at its vertices (the solver makes it vanish; a gradient-based
   * normal flux would be dominated by discretisation error at the sources) */
  PetscCall(PFDarcyOpBoundaryFlux(&d->op, x, p, y, &net));
  {
    PetscScalar *R;
    double       l = 0;
    PetscCall(PetscMalloc1(nown + 1, &R));
    PetscCall(PFDarcyOpResidual(&d->op, x, p, R));
    for (PetscInt i = 0; i < nown; i++) l += PetscRealPart(y[i]) * PetscAbsScalar(R[i]);
    PetscCallMPI(MPI_Allreduce(&l, &leak, 1, MPI_DOUBLE, MPI_SUM, phys->comm));
    PetscCall(PetscFree(R));
  }
  Q   = glob[2] > 0 ? glob[2] : 1;
  src = glob[3];
  v[0] = sqrt(glob[0] / PetscMax(glob[1], 1e-300));
  v[1] = leak / Q;
  v[2] = fabs(src + net) / Q; /* -div(K grad p) = f: int f = -(outward flux) */
  *n   = 3;
  if (d->op.ndir_global) {
    double pmax = 0, gpmax;
    for (PetscInt i = 0; i < nown; i++) pmax = PetscMax(pmax, fabs(PetscRealPart(y[nown + i])));
    PetscCallMPI(MPI_Allreduce(&pmax, &gpmax, 1, MPI_DOUBLE, MPI_MAX, phys->comm));
    v[3] = glob[4] / PetscMax(gpmax, 1e-300);
    *n   = 4;
  }
  *names = all;
  PetscCall(PetscFree(y));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode View_Darcy(PFPhysics phys, PetscViewer viewer)
{
  PFPhysics_Darcy *d = (PFPhysics_Darcy *)phys->data;

  PetscFunctionBegin;
  PetscCall(PetscViewerASCIIPrintf(viewer, "Darcy: %s%" PetscInt_FMT " elements, source +-%g on corner squares of side %g, log K: %s (correlation length %g, std %g", phys->mesh && phys->mesh->simplex ? "P" : "Q", d->order, d->fval, d->corner, DarcyFields[d->field], d->ell, d->sigma));
  if (d->field == DARCY_FIELD_KL) PetscCall(PetscViewerASCIIPrintf(viewer, ", %" PetscInt_FMT " KL terms", d->kl_terms));
  PetscCall(PetscViewerASCIIPrintf(viewer, ")\n"));
  if (d->order == 2) PetscCall(PetscViewerASCIIPrintf(viewer, "fields at the vertices (the P2 vertex dofs); residual and VJP by the %s1 vertex operator\n", phys->mesh && phys->mesh->simplex ? "P" : "Q"));
  if (d->nsolve) PetscCall(PetscViewerASCIIPrintf(viewer, "%" PetscInt_FMT " solves, %.1f Krylov iterations on average\n", d->nsolve, (double)d->its_total / (double)d->nsolve));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode Destroy_Darcy(PFPhysics phys)
{
  PFPhysics_Darcy *d = (PFPhysics_Darcy *)phys->data;

  PetscFunctionBegin;
  if (d->op.dm) PetscCall(PFDarcyOpDestroy(&d->op));
  if (d->op2.dm) PetscCall(PFDarcyOpDestroy(&d->op2));
  if (d->cop.dm) PetscCall(PFDarcyOpDestroy(&d->cop));
  PetscCall(PFMeshDestroy(&d->cmesh));
  PetscCall(KSPDestroy(&d->ksp));
  PetscCall(KSPDestroy(&d->kspadj));
  PetscCall(KSPDestroy(&d->cksp));
  PetscCall(KSPDestroy(&d->ksps));
  PetscCall(MatDestroy(&d->As));
  PetscCall(VecDestroy(&d->sol));
  PetscCall(VecDestroy(&d->sol2));
  PetscCall(VecDestroy(&d->csol));
  PetscCall(VecDestroy(&d->srhs));
  PetscCall(VecDestroy(&d->ssol));
  PetscCall(PFKLDestroy(&d->kl));
  PetscCall(PetscFree5(d->c2f, d->f2c_idx, d->f2c_w, d->gnat, d->cnat));
  if (d->tg.n) PetscCall(PFTransferDestroy(&d->tg));
  if (d->tp.n) PetscCall(PFTransferDestroy(&d->tp));
  for (PetscInt i = 0; i < d->ndirichlet; i++) PetscCall(PetscFree(d->dirichlet[i]));
  PetscCall(PetscFree(d->flux_mask));
  PetscCall(PetscFree(phys->data));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFPhysicsCreate_Darcy(PFPhysics phys)
{
  PFPhysics_Darcy *d;

  PetscFunctionBegin;
  PetscCall(PetscNew(&d));
  d->order                  = 1;
  d->fval                   = 10.0;
  d->corner                 = 0.125;
  d->ell                    = 0.1;
  d->sigma                  = 1.0;
  d->kl_terms               = 64;
  d->low_coarsen            = 3;
  d->spde_alpha             = 1; /* nu = 1: the Matern field closest to the benchmark's exponential (nu = 1/2) covariance */
  d->field                  = DARCY_FIELD_KL;
  phys->data                = d;
  phys->ops.setfromoptions  = SetFromOptions_Darcy;
  phys->ops.setup           = SetUp_Darcy;
  phys->ops.drawinputs      = DrawInputs_Darcy;
  phys->ops.solve           = Solve_Darcy;
  phys->ops.residual        = Residual_Darcy;
  phys->ops.residualvjp     = ResidualVJP_Darcy;
  phys->ops.jacobiansolve   = StateJacobianSolve_Darcy;
  phys->ops.solvemany       = StateJacobianSolveMany_Darcy;
  phys->ops.forcingnorm     = ForcingNorm_Darcy;
  phys->ops.validate        = Validate_Darcy;
  phys->ops.boundaryflux    = BoundaryFlux_Darcy;
  phys->ops.latent          = Latent_Darcy;
  phys->ops.inputsfromlatent = InputsFromLatent_Darcy;
  phys->ops.latentvjp       = LatentVJP_Darcy;
  phys->ops.latentfrominputs = LatentFromInputs_Darcy;
  phys->ops.view            = View_Darcy;
  phys->ops.destroy         = Destroy_Darcy;
  PetscFunctionReturn(PETSC_SUCCESS);
}
