#include <math.h>
#include <physflow/log.h>
#include <physflow/private/physicsimpl.h>

const char *const PFFidelities[] = {"high", "low", "PFFidelity", "PF_FIDELITY_", NULL};

static PetscFunctionList PFPhysicsList = NULL;

static PetscErrorCode PFPhysicsFinalizePackage(void)
{
  PetscFunctionBegin;
  PetscCall(PetscFunctionListDestroy(&PFPhysicsList));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFPhysicsCreate(MPI_Comm comm, PFPhysics *phys)
{
  PetscFunctionBegin;
  PetscCall(PFInitializePackage());
  if (!PFPhysicsList) {
    PetscCall(PetscFunctionListAdd(&PFPhysicsList, PFPHYSICSDARCY, PFPhysicsCreate_Darcy));
    PetscCall(PetscFunctionListAdd(&PFPhysicsList, PFPHYSICSNS, PFPhysicsCreate_NS));
    PetscCall(PetscRegisterFinalize(PFPhysicsFinalizePackage));
  }
  PetscCall(PetscNew(phys));
  (*phys)->comm       = comm;
  (*phys)->mesh_faces = 63;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFPhysicsSetType(PFPhysics phys, PFPhysicsType type)
{
  PetscErrorCode (*create)(PFPhysics);

  PetscFunctionBegin;
  PetscCheck(!phys->setupcalled, phys->comm, PETSC_ERR_ORDER, "cannot change the physics after PFPhysicsSetUp");
  PetscCall(PetscFunctionListFind(PFPhysicsList, type, &create));
  PetscCheck(create, phys->comm, PETSC_ERR_ARG_UNKNOWN_TYPE, "unknown physics '%s' (available: darcy, ns)", type);
  if (phys->ops.destroy) PetscCall(phys->ops.destroy(phys));
  PetscCall(PetscMemzero(&phys->ops, sizeof(phys->ops)));
  PetscCall(PetscStrncpy(phys->type, type, sizeof(phys->type)));
  PetscCall(create(phys));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFPhysicsSetFromOptions(PFPhysics phys)
{
  PetscFunctionBegin;
  if (!phys->type[0]) PetscCall(PFPhysicsSetType(phys, PFPHYSICSDARCY));
  PetscOptionsBegin(phys->comm, NULL, "Physics (PDE) options", "PFPhysics");
  PetscCall(PetscOptionsString("-mesh", "Gmsh mesh file (default: the unit-square quad box)", "PFPhysics", phys->meshfile, phys->meshfile, sizeof(phys->meshfile), NULL));
  PetscCall(PetscOptionsInt("-mesh_faces", "Cells per side of the default box mesh (63 -> 64x64 vertices)", "PFPhysics", phys->mesh_faces, &phys->mesh_faces, NULL));
  if (phys->ops.setfromoptions) PetscCall(phys->ops.setfromoptions(phys, PetscOptionsObject));
  PetscOptionsEnd();
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFPhysicsSetUp(PFPhysics phys)
{
  PetscFunctionBegin;
  if (phys->setupcalled) PetscFunctionReturn(PETSC_SUCCESS);
  if (!phys->type[0]) PetscCall(PFPhysicsSetType(phys, PFPHYSICSDARCY));
  PetscCall(PFMeshCreate(phys->comm, phys->meshfile, phys->mesh_faces, &phys->mesh));
  PetscCall(phys->ops.setup(phys));
  phys->setupcalled = PETSC_TRUE;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFPhysicsView(PFPhysics phys, PetscViewer viewer)
{
  PetscFunctionBegin;
  if (!viewer) PetscCall(PetscViewerASCIIGetStdout(phys->comm, &viewer));
  PetscCall(PetscViewerASCIIPrintf(viewer, "PFPhysics %s on %s: %" PetscInt_FMT " vertices, %" PetscInt_FMT " %s cells\n", phys->type, phys->mesh ? phys->mesh->source : "(no mesh)", phys->mesh ? phys->mesh->nvert : 0, phys->mesh ? phys->mesh->ncells : 0,
                                   phys->mesh && phys->mesh->simplex ? "triangle" : "quadrilateral"));
  if (phys->ops.view) {
    PetscCall(PetscViewerASCIIPushTab(viewer));
    PetscCall(phys->ops.view(phys, viewer));
    PetscCall(PetscViewerASCIIPopTab(viewer));
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFPhysicsDestroy(PFPhysics *phys)
{
  PetscFunctionBegin;
  if (!*phys) PetscFunctionReturn(PETSC_SUCCESS);
  if ((*phys)->ops.destroy) PetscCall((*phys)->ops.destroy(*phys));
  PetscCall(PFMeshDestroy(&(*phys)->mesh));
  PetscCall(PetscFree2((*phys)->ownnat, (*phys)->mass));
  PetscCall(PetscFree(*phys));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFPhysicsGetMesh(PFPhysics phys, PFMesh *mesh)
{
  PetscFunctionBegin;
  *mesh = phys->mesh;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFPhysicsGetFields(PFPhysics phys, PetscInt *nfields, const char *const **names, PetscInt *ninputs)
{
  PetscFunctionBegin;
  if (nfields) *nfields = phys->nfields;
  if (names) *names = phys->fieldnames;
  if (ninputs) *ninputs = phys->ninputs;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFPhysicsGetVertexMap(PFPhysics phys, PetscInt *nown, const PetscInt **natural)
{
  PetscFunctionBegin;
  if (nown) *nown = phys->nown;
  if (natural) *natural = phys->ownnat;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFPhysicsGetVertexMass(PFPhysics phys, const PetscScalar **mass)
{
  PetscFunctionBegin;
  *mass = phys->mass;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFPhysicsGetDomainMeasure(PFPhysics phys, double *measure)
{
  double loc = 0;

  PetscFunctionBegin;
  for (PetscInt i = 0; i < phys->nown; i++) loc += PetscRealPart(phys->mass[i]);
  PetscCallMPI(MPI_Allreduce(&loc, measure, 1, MPI_DOUBLE, MPI_SUM, phys->comm));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFPhysicsGetParams(PFPhysics phys, PetscInt *nparams, const char *const **names)
{
  PetscFunctionBegin;
  if (nparams) *nparams = phys->nparams;
  if (names) *names = phys->paramnames;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFPhysicsParams(PFPhysics phys, uint64_t seed, PetscInt index, double values[])
{
  PetscFunctionBegin;
  if (phys->ops.params) PetscCall(phys->ops.params(phys, seed, index, values));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFPhysicsDrawInputs(PFPhysics phys, uint64_t seed, PetscInt index, PetscScalar *x)
{
  PetscFunctionBegin;
  PetscCall(phys->ops.drawinputs(phys, seed, index, x));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFPhysicsSolve(PFPhysics phys, PFFidelity fidelity, uint64_t seed, PetscInt index, PetscScalar *x)
{
  PetscFunctionBegin;
  PetscErrorCode ierr;
  PetscCall(PetscLogEventBegin(PF_EVENT_Solve, 0, 0, 0, 0));
  ierr = phys->ops.solve(phys, fidelity, seed, index, x); /* callers may catch a failed solve */
  PetscCall(PetscLogEventEnd(PF_EVENT_Solve, 0, 0, 0, 0));
  PetscCall(ierr);
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFPhysicsGetResidualSize(PFPhysics phys, PetscInt *nres)
{
  PetscFunctionBegin;
  *nres = phys->nres > 0 ? phys->nres : phys->nown;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFPhysicsResidual(PFPhysics phys, PetscInt B, const PetscScalar *x, PetscScalar *R)
{
  PetscFunctionBegin;
  PetscCheck(phys->ops.residual, phys->comm, PETSC_ERR_SUP, "physics '%s' has no differentiable residual yet", phys->type);
  PetscCall(phys->ops.residual(phys, B, x, R));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFPhysicsResidualVJP(PFPhysics phys, PetscInt B, const PetscScalar *x, const PetscScalar *v, PetscScalar *gx)
{
  PetscFunctionBegin;
  PetscCheck(phys->ops.residualvjp, phys->comm, PETSC_ERR_SUP, "physics '%s' has no differentiable residual yet", phys->type);
  PetscCall(phys->ops.residualvjp(phys, B, x, v, gx));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFPhysicsStateJacobianSolve(PFPhysics phys, PetscInt B, const PetscScalar *x, PetscBool transpose, const PetscScalar *r, PetscScalar *y)
{
  PetscFunctionBegin;
  PetscCheck(phys->ops.jacobiansolve, phys->comm, PETSC_ERR_SUP, "physics %s cannot solve with its state Jacobian (needed by -constraint_norm error)", phys->type);
  PetscCall(phys->ops.jacobiansolve(phys, B, x, transpose, r, y));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFPhysicsStateJacobianSolveMany(PFPhysics phys, const PetscScalar *x, PetscInt K, PetscBool transpose, const PetscScalar *r, PetscScalar *y)
{
  const PetscInt n = phys->nown;

  PetscFunctionBegin;
  if (!phys->ops.solvemany) {
    for (PetscInt q = 0; q < K; q++) PetscCall(PFPhysicsStateJacobianSolve(phys, 1, x, transpose, r + (size_t)q * n, y + (size_t)q * n));
    PetscFunctionReturn(PETSC_SUCCESS);
  }
  PetscCheck(phys->nfields - phys->ninputs == 1, phys->comm, PETSC_ERR_SUP, "PFPhysicsStateJacobianSolveMany: one state field");
  PetscCall(phys->ops.solvemany(phys, x, K, transpose, r, y));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFPhysicsNewtonStep(PFPhysics phys, PetscInt B, const PetscScalar *x, PetscScalar *e, PetscScalar *gx, double *scale)
{
  PetscFunctionBegin;
  PetscCheck(phys->ops.newtonstep, phys->comm, PETSC_ERR_SUP, "physics %s has no Newton step (needed by -constraint_norm error of a nonlinear physics)", phys->type);
  PetscCall(phys->ops.newtonstep(phys, B, x, e, gx, scale));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFPhysicsHasNewtonStep(PFPhysics phys, PetscBool *has)
{
  PetscFunctionBegin;
  *has = (PetscBool)(phys->ops.newtonstep != NULL);
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFPhysicsResidualNorms(PFPhysics phys, const PetscScalar *R, double *relative, double *meanabs)
{
  double   loc[3] = {0, 0, 0}, glob[3], fnorm;
  PetscInt nres;

  PetscFunctionBegin;
  PetscCall(PFPhysicsGetResidualSize(phys, &nres));
  loc[2] = (double)nres;
  for (PetscInt i = 0; i < nres; i++) {
    loc[0] += PetscRealPart(R[i] * PetscConj(R[i]));
    loc[1] += PetscAbsScalar(R[i]);
  }
  PetscCallMPI(MPI_Allreduce(loc, glob, 3, MPI_DOUBLE, MPI_SUM, phys->comm));
  PetscCheck(phys->ops.forcingnorm, phys->comm, PETSC_ERR_SUP, "physics '%s' has no residual scale yet", phys->type);
  PetscCall(phys->ops.forcingnorm(phys, &fnorm));
  if (relative) *relative = sqrt(glob[0]) / fnorm;
  if (meanabs) *meanabs = glob[1] / glob[2];
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFPhysicsValidate(PFPhysics phys, const PetscScalar *x, PetscInt *n, const char *const **names, double values[])
{
  PetscFunctionBegin;
  if (!phys->ops.validate) {
    /* no checks beyond the residual (yet) */
    *n = 0;
    if (names) *names = NULL;
    PetscFunctionReturn(PETSC_SUCCESS);
  }
  PetscCall(phys->ops.validate(phys, x, n, names, values));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFPhysicsBoundaryFlux(PFPhysics phys, const char group[], PetscInt B, const PetscScalar *x, double Q[], PetscScalar *grad)
{
  PetscInt tag;

  PetscFunctionBegin;
  PetscCheck(phys->ops.boundaryflux, phys->comm, PETSC_ERR_SUP, "physics '%s' has no boundary flux", phys->type);
  PetscCall(PFMeshGetBoundaryGroup(phys->mesh, group, &tag));
  PetscCall(phys->ops.boundaryflux(phys, tag, group, B, x, Q, grad));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* b[K][nown] <- P^T b per right-hand side.  Pure Neumann (the solver's
 * state is the zero-mean one): P = I - 1 m^T / sum m, so P^T b = b - m
 * (sum b) / sum m, in the range of J_p^T (zero sum); otherwise P = I. */
static PetscErrorCode ProjectAdjointRHS(PFPhysics phys, PetscInt K, PetscScalar *b)
{
  const PetscInt n = phys->nown;
  double        *s; /* the K sums of b, then sum m: one reduction */

  PetscFunctionBegin;
  if (!phys->state_mean_zero) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCall(PetscCalloc1(K + 1, &s));
  for (PetscInt i = 0; i < n; i++) s[K] += PetscRealPart(phys->mass[i]);
  for (PetscInt q = 0; q < K; q++)
    for (PetscInt i = 0; i < n; i++) s[q] += PetscRealPart(b[(size_t)q * n + i]);
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, s, (PetscMPIInt)(K + 1), MPI_DOUBLE, MPI_SUM, phys->comm));
  for (PetscInt q = 0; q < K; q++)
    for (PetscInt i = 0; i < n; i++) b[(size_t)q * n + i] -= phys->mass[i] * s[q] / s[K];
  PetscCall(PetscFree(s));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* gx[K][nf nown] = -(dR/dx)^T lam_q, lam_q = J_p^{-T} P^T gp_q: one
 * transposed solve each (many: one solver set-up for all K) */
static PetscErrorCode StateAdjoint(PFPhysics phys, const PetscScalar *x, PetscInt K, PetscBool many, const PetscScalar *gp, PetscScalar *gx)
{
  const PetscInt n = phys->nown, nf = phys->nfields;
  PetscScalar   *b, *lam;

  PetscFunctionBegin;
  PetscCheck(phys->nfields - phys->ninputs == 1, phys->comm, PETSC_ERR_SUP, "PFPhysicsStateAdjoint: one state field");
  PetscCall(PetscMalloc2((size_t)K * n + 1, &b, (size_t)K * n + 1, &lam));
  PetscCall(PetscArraycpy(b, gp, (size_t)K * n));
  PetscCall(ProjectAdjointRHS(phys, K, b));
  {
    PetscErrorCode ierr = many ? PFPhysicsStateJacobianSolveMany(phys, x, K, PETSC_TRUE, b, lam) : PFPhysicsStateJacobianSolve(phys, 1, x, PETSC_TRUE, b, lam);
    if (ierr) PetscCall(PetscFree2(b, lam)); /* callers may catch a failed solve */
    PetscCall(ierr);
  }
  for (PetscInt q = 0; q < K; q++) PetscCall(PFPhysicsResidualVJP(phys, 1, x, lam + (size_t)q * n, gx + (size_t)q * nf * n));
  for (size_t q = 0; q < (size_t)K * nf * n; q++) gx[q] = -gx[q];
  PetscCall(PetscFree2(b, lam));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFPhysicsStateAdjoint(PFPhysics phys, const PetscScalar *x, const PetscScalar *gp, PetscScalar *gx)
{
  PetscFunctionBegin;
  PetscCall(StateAdjoint(phys, x, 1, PETSC_FALSE, gp, gx));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFPhysicsStateAdjointMany(PFPhysics phys, const PetscScalar *x, PetscInt K, const PetscScalar *gp, PetscScalar *gx)
{
  PetscFunctionBegin;
  PetscCall(StateAdjoint(phys, x, K, PETSC_TRUE, gp, gx));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFPhysicsGetLatentSize(PFPhysics phys, PetscInt *m)
{
  PetscFunctionBegin;
  *m = 0;
  if (phys->ops.latent) PetscCall(phys->ops.latent(phys, m));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFPhysicsInputsFromLatent(PFPhysics phys, const double xi[], PetscScalar *x)
{
  PetscFunctionBegin;
  PetscCheck(phys->ops.inputsfromlatent, phys->comm, PETSC_ERR_SUP, "physics '%s' has no latent prior map", phys->type);
  PetscCall(phys->ops.inputsfromlatent(phys, xi, x));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFPhysicsLatentVJP(PFPhysics phys, const PetscScalar *gx, double gxi[])
{
  PetscFunctionBegin;
  PetscCheck(phys->ops.latentvjp, phys->comm, PETSC_ERR_SUP, "physics '%s' has no latent prior map", phys->type);
  PetscCall(phys->ops.latentvjp(phys, gx, gxi));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFPhysicsLatentFromInputs(PFPhysics phys, const PetscScalar *x, double xi[])
{
  PetscFunctionBegin;
  PetscCheck(phys->ops.latentfrominputs, phys->comm, PETSC_ERR_SUP, "physics '%s' has no projection onto its latent prior map", phys->type);
  PetscCall(phys->ops.latentfrominputs(phys, x, xi));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFPhysicsGatherNatural(PFPhysics phys, const PetscScalar *own, double *natural)
{
  PetscFunctionBegin;
  PetscCall(PFGatherNatural(phys->comm, phys->nown, phys->ownnat, phys->mesh->nvert, own, natural));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFPhysicsFromNatural(PFPhysics phys, const double *natural, PetscScalar *own)
{
  PetscFunctionBegin;
  for (PetscInt i = 0; i < phys->nown; i++) own[i] = natural[phys->ownnat[i]];
  PetscFunctionReturn(PETSC_SUCCESS);
}
