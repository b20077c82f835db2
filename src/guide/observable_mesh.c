/* Observables of mesh states (include/physflow/guide.h, issue 10):
 *   mean_logK      the area-weighted mean of log K over a region,
 *                  sum_i m_i logK_i / sum_i m_i over the vertices inside
 *                  (m_i the lumped vertex mass, so the mean does not depend
 *                  on how the mesh is graded);
 *   boundary_flux  the outflow through a boundary group (PFPhysicsBoundaryFlux)
 *                  of the PDE solution for the state's inputs (Darcy: the
 *                  flow the generated permeability carries), its gradient
 *                  through the PDE (PFPhysicsStateAdjoint): a property of
 *                  the permeability, which guidance changes, rather than of
 *                  the generated p near the boundary, which the base flow
 *                  would pull back to the data (one solve and one adjoint
 *                  solve per state);
 *   boundary_flux_state  the weak outflow of the generated state itself
 *                  (no solve; what eval reports about a state's own p).
 * States arrive in the model's normalised units; values and gradients are
 * in physical units of the observable, per normalised input.  Both are
 * collective on the group of ranks sharing the mesh. */
#include <string.h>
#include <physflow/guide.h>

typedef struct {
  PetscInt     field; /* the logK field */
  PetscScalar *w;     /* [nown] m_i / (sum of m over the region), 0 outside */
} MeanCtx;

static PetscErrorCode MeanEval(PFObservable obs, PetscInt B, const pfreal *x, double *f, pfreal *grad)
{
  MeanCtx       *c    = (MeanCtx *)obs->ctx;
  const PetscInt nown = obs->n / obs->nfields, k = c->field;
  const double   sd = obs->std[k], mu = obs->mean[k];

  PetscFunctionBegin;
  for (PetscInt b = 0; b < B; b++) {
    const pfreal *xk = x + (size_t)b * obs->n + (size_t)k * nown;
    double        s  = 0;
    for (PetscInt i = 0; i < nown; i++) s += PetscRealPart(c->w[i]) * ((double)xk[i] * sd + mu);
    f[b] = s;
    if (!grad) continue;
    PetscCall(PetscArrayzero(grad + (size_t)b * obs->n, obs->n));
    for (PetscInt i = 0; i < nown; i++) grad[(size_t)b * obs->n + (size_t)k * nown + i] = (pfreal)(PetscRealPart(c->w[i]) * sd);
  }
  /* the weights are local: the group's ranks hold disjoint vertices */
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, f, (PetscMPIInt)B, MPI_DOUBLE, MPI_SUM, obs->comm));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode MeanDestroy(PFObservable obs)
{
  MeanCtx *c = (MeanCtx *)obs->ctx;

  PetscFunctionBegin;
  PetscCall(PetscFree(c->w));
  PetscCall(PetscFree(c));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode CreateMeanLogK(PFObservable obs)
{
  const char *const *names;
  const PetscScalar *mass;
  const PetscInt    *nat;
  PFMesh             mesh;
  PetscInt           nf, nown, nvert;
  MeanCtx           *c;
  double            *xy, sum[2] = {0, 0};
  PetscMPIInt        rank;

  PetscFunctionBegin;
  PetscCheck(obs->phys, obs->comm, PETSC_ERR_ARG_WRONG, "observable 'mean_logK' is a mean over mesh fields: the model is not a mesh model");
  PetscCall(PFPhysicsGetFields(obs->phys, &nf, &names, NULL));
  PetscCall(PFPhysicsGetVertexMap(obs->phys, &nown, &nat));
  PetscCall(PFPhysicsGetVertexMass(obs->phys, &mass));
  PetscCall(PFPhysicsGetMesh(obs->phys, &mesh));
  PetscCall(PetscNew(&c));
  c->field = -1;
  for (PetscInt f = 0; f < nf; f++)
    if (!strcmp(names[f], "logK")) c->field = f;
  if (c->field < 0) PetscCall(PetscFree(c));
  PetscCheck(c, obs->comm, PETSC_ERR_ARG_WRONG, "observable 'mean_logK': the physics has no field 'logK'");
  /* the vertex coordinates (rank 0 holds them in natural order) */
  nvert = mesh->nvert;
  PetscCallMPI(MPI_Comm_rank(obs->comm, &rank));
  PetscCall(PetscMalloc1(2 * (size_t)nvert, &xy));
  if (rank == 0) PetscCall(PetscArraycpy(xy, mesh->coords, 2 * (size_t)nvert));
  PetscCallMPI(MPI_Bcast(xy, (PetscMPIInt)(2 * nvert), MPI_DOUBLE, 0, obs->comm));
  PetscCall(PetscMalloc1(nown + 1, &c->w));
  for (PetscInt i = 0; i < nown; i++) {
    const double *p  = xy + 2 * nat[i];
    const double *r  = obs->region;
    PetscBool     in = (PetscBool)(!obs->has_region || (p[0] >= r[0] && p[0] <= r[1] && p[1] >= r[2] && p[1] <= r[3]));
    c->w[i]          = in ? mass[i] : 0;
    sum[0] += PetscRealPart(c->w[i]);
    sum[1] += in ? 1 : 0;
  }
  PetscCall(PetscFree(xy));
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, sum, 2, MPI_DOUBLE, MPI_SUM, obs->comm));
  if (sum[1] < 1) {
    PetscCall(PetscFree(c->w));
    PetscCall(PetscFree(c));
  }
  PetscCheck(sum[1] >= 1, obs->comm, PETSC_ERR_ARG_OUTOFRANGE, "observable 'mean_logK': the region [%g, %g] x [%g, %g] holds no mesh vertex", obs->region[0], obs->region[1], obs->region[2], obs->region[3]);
  for (PetscInt i = 0; i < nown; i++) c->w[i] /= sum[0];
  obs->ctx     = c;
  obs->eval    = MeanEval;
  obs->destroy = MeanDestroy;
  PetscFunctionReturn(PETSC_SUCCESS);
}

typedef struct {
  PetscInt     maxB;
  PetscScalar *xp, *gp; /* [maxB n] physical states and their gradients */
  PetscBool    solved;  /* the flux of the PDE solution for the inputs */
  PetscScalar *ga;      /* [n] work of the adjoint */
} FluxCtx;

static PetscErrorCode FluxEval(PFObservable obs, PetscInt B, const pfreal *x, double *f, pfreal *grad)
{
  FluxCtx       *c    = (FluxCtx *)obs->ctx;
  const PetscInt nown = obs->n / obs->nfields;

  PetscFunctionBegin;
  if (B > c->maxB) {
    PetscCall(PetscFree2(c->xp, c->gp));
    c->maxB = B;
    PetscCall(PetscMalloc2((size_t)B * obs->n, &c->xp, (size_t)B * obs->n, &c->gp));
  }
  for (PetscInt b = 0; b < B; b++)
    for (PetscInt k = 0; k < obs->nfields; k++)
      for (PetscInt i = 0; i < nown; i++) {
        const size_t q = (size_t)b * obs->n + (size_t)k * nown + i;
        c->xp[q]       = (double)x[q] * obs->std[k] + obs->mean[k];
      }
  if (c->solved) {
    /* the state solved for the inputs; the flux is linear in it, so its
     * derivative in the state goes back to the inputs by the adjoint */
    PetscInt ni;
    PetscCall(PFPhysicsGetFields(obs->phys, NULL, NULL, &ni));
    for (PetscInt b = 0; b < B; b++) {
      PetscScalar *xb = c->xp + (size_t)b * obs->n, *g = c->gp + (size_t)b * obs->n;
      /* a permeability the solver cannot handle (a wild field of a poor
       * model) has no flux: NaN, which guidance and the subset test skip;
       * the solve's failure is the same on every rank of the group */
      PetscErrorCode ierr = PFPhysicsSolve(obs->phys, PF_FIDELITY_HIGH, 0, 0, xb);
      if (!ierr) ierr = PFPhysicsBoundaryFlux(obs->phys, obs->group, 1, xb, &f[b], grad ? g : NULL);
      if (!ierr && grad) ierr = PFPhysicsStateAdjoint(obs->phys, xb, g + ni * nown, c->ga);
      if (ierr == PETSC_ERR_NOT_CONVERGED) {
        f[b] = NAN;
        if (grad)
          for (PetscInt q = 0; q < obs->n; q++) g[q] = 0;
        continue;
      }
      PetscCall(ierr);
      if (grad) {
        for (PetscInt q = 0; q < ni * nown; q++) g[q] += c->ga[q];
        for (PetscInt q = ni * nown; q < obs->n; q++) g[q] = 0;
      }
    }
  } else PetscCall(PFPhysicsBoundaryFlux(obs->phys, obs->group, B, c->xp, f, grad ? c->gp : NULL));
  if (grad)
    for (PetscInt b = 0; b < B; b++)
      for (PetscInt k = 0; k < obs->nfields; k++)
        for (PetscInt i = 0; i < nown; i++) {
          const size_t q = (size_t)b * obs->n + (size_t)k * nown + i;
          grad[q]        = (pfreal)(PetscRealPart(c->gp[q]) * obs->std[k]);
        }
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode FluxDestroy(PFObservable obs)
{
  FluxCtx *c = (FluxCtx *)obs->ctx;

  PetscFunctionBegin;
  PetscCall(PetscFree2(c->xp, c->gp));
  PetscCall(PetscFree(c->ga));
  PetscCall(PetscFree(c));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode CreateFlux(PFObservable obs, PetscBool solved)
{
  FluxCtx *c;
  double   q;

  PetscFunctionBegin;
  PetscCheck(obs->phys, obs->comm, PETSC_ERR_ARG_WRONG, "observable '%s' is a flux of mesh fields: the model is not a mesh model", obs->name);
  PetscCheck(obs->group[0], obs->comm, PETSC_ERR_ARG_WRONG, "observable '%s' needs the boundary group: -observable_group NAME", obs->name);
  PetscCall(PetscNew(&c));
  c->solved = solved;
  PetscCall(PetscMalloc1(obs->n + 1, &c->ga));
  obs->ctx     = c;
  obs->eval    = FluxEval;
  obs->destroy = FluxDestroy;
  {
    /* a first evaluation checks the group (and that the physics has a flux);
     * the inputs at their mean, which the solver takes */
    pfreal        *z;
    PetscErrorCode ierr;
    PetscCall(PetscCalloc1(obs->n + 1, &z));
    ierr = FluxEval(obs, 1, z, &q, NULL);
    PetscCall(PetscFree(z));
    if (ierr) {
      PetscCall(FluxDestroy(obs));
      obs->ctx = NULL, obs->eval = NULL, obs->destroy = NULL;
    }
    PetscCall(ierr);
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode CreateBoundaryFlux(PFObservable obs) { return CreateFlux(obs, PETSC_TRUE); }
static PetscErrorCode CreateBoundaryFluxState(PFObservable obs) { return CreateFlux(obs, PETSC_FALSE); }

PetscErrorCode PFObservableRegisterMesh(void)
{
  PetscFunctionBegin;
  PetscCall(PFObservableRegister("mean_logK", CreateMeanLogK));
  PetscCall(PFObservableRegister("boundary_flux", CreateBoundaryFlux));
  PetscCall(PFObservableRegister("boundary_flux_state", CreateBoundaryFluxState));
  PetscFunctionReturn(PETSC_SUCCESS);
}
