/* Observables of generated states (include/physflow/guide.h): a registry of
 * plug-ins.  Built in: x0, x1 (a coordinate of toy states); the mesh
 * observables of src/guide/observable_mesh.c. */
#include <string.h>
#include <physflow/guide.h>

#define PF_MAX_OBSERVABLES 32
static struct {
  char name[64];
  PetscErrorCode (*create)(PFObservable);
} registry[PF_MAX_OBSERVABLES];
static int nregistered = 0;

/* minus the distance of (x0, x1) to the box: 0 inside */
static PetscErrorCode BoxDistanceEval(PFObservable obs, PetscInt B, const pfreal *x, double *f, pfreal *grad)
{
  const double *r = obs->region;
  const PetscInt n = obs->n;

  PetscFunctionBegin;
  for (PetscInt b = 0; b < B; b++) {
    const double x0 = (double)x[b * n], x1 = (double)x[b * n + 1];
    const double d0 = x0 < r[0] ? r[0] - x0 : (x0 > r[1] ? r[1] - x0 : 0), d1 = x1 < r[2] ? r[2] - x1 : (x1 > r[3] ? r[3] - x1 : 0);
    const double d  = sqrt(d0 * d0 + d1 * d1);
    f[b]            = -d;
    if (!grad) continue;
    for (PetscInt i = 0; i < n; i++) grad[b * n + i] = 0;
    /* d(-d)/dx points toward the box */
    if (d > 0) grad[b * n] = (pfreal)(d0 / d), grad[b * n + 1] = (pfreal)(d1 / d);
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode CreateBoxDistance(PFObservable obs)
{
  PetscFunctionBegin;
  PetscCheck(!obs->phys && obs->n >= 2, obs->comm, PETSC_ERR_ARG_WRONG, "observable 'box_distance' is for vector (toy) states of at least 2 values");
  PetscCheck(obs->has_region && obs->region[0] < obs->region[1] && obs->region[2] < obs->region[3], obs->comm, PETSC_ERR_ARG_WRONG, "observable 'box_distance' needs its box (-path_region or -observable_region xmin,xmax,ymin,ymax)");
  obs->eval = BoxDistanceEval;
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode RegisterBuiltins(void);

PetscErrorCode PFObservableRegister(const char name[], PetscErrorCode (*create)(PFObservable))
{
  PetscFunctionBegin;
  for (int i = 0; i < nregistered; i++)
    if (!strcmp(registry[i].name, name)) {
      registry[i].create = create;
      PetscFunctionReturn(PETSC_SUCCESS);
    }
  PetscCheck(nregistered < PF_MAX_OBSERVABLES, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "too many observables registered");
  PetscCall(PetscStrncpy(registry[nregistered].name, name, sizeof(registry[nregistered].name)));
  registry[nregistered++].create = create;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* x_k of 2-D states: the coordinate observables of the toy problems */
static PetscErrorCode CoordEval(PFObservable obs, PetscInt B, const pfreal *x, double *f, pfreal *grad)
{
  const PetscInt k = (PetscInt)(size_t)obs->ctx, n = obs->n;

  PetscFunctionBegin;
  for (PetscInt b = 0; b < B; b++) {
    f[b] = (double)x[b * n + k];
    if (!grad) continue;
    for (PetscInt i = 0; i < n; i++) grad[b * n + i] = 0;
    grad[b * n + k] = 1;
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode CreateCoord(PFObservable obs, PetscInt k)
{
  PetscFunctionBegin;
  PetscCheck(!obs->phys, obs->comm, PETSC_ERR_ARG_WRONG, "observable '%s' is a coordinate of vector (toy) states, not of mesh fields (mesh observables: mean_logK, boundary_flux, boundary_flux_state)", obs->name);
  PetscCheck(obs->n > k, obs->comm, PETSC_ERR_ARG_WRONG, "observable '%s' is a coordinate of vector states of at least %" PetscInt_FMT " values (these have %" PetscInt_FMT ")", obs->name, k + 1, obs->n);
  obs->ctx  = (void *)(size_t)k;
  obs->eval = CoordEval;
  PetscFunctionReturn(PETSC_SUCCESS);
}
static PetscErrorCode CreateX0(PFObservable obs) { return CreateCoord(obs, 0); }
static PetscErrorCode CreateX1(PFObservable obs) { return CreateCoord(obs, 1); }

static PetscErrorCode RegisterBuiltins(void)
{
  static PetscBool done = PETSC_FALSE;

  PetscFunctionBegin;
  if (done) PetscFunctionReturn(PETSC_SUCCESS);
  done = PETSC_TRUE;
  PetscCall(PFObservableRegister("x0", CreateX0));
  PetscCall(PFObservableRegister("x1", CreateX1));
  PetscCall(PFObservableRegister("box_distance", CreateBoxDistance));
  PetscCall(PFObservableRegisterMesh());
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFObservableList(char list[], size_t len)
{
  PetscFunctionBegin;
  PetscCall(RegisterBuiltins());
  list[0] = 0;
  for (int i = 0; i < nregistered; i++) {
    if (i) PetscCall(PetscStrlcat(list, ", ", len));
    PetscCall(PetscStrlcat(list, registry[i].name, len));
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* the registered create of obs->name on the prepared obs */
static PetscErrorCode CreateByName(PFObservable obs)
{
  char list[512];

  PetscFunctionBegin;
  PetscCall(RegisterBuiltins());
  for (int i = 0; i < nregistered; i++)
    if (!strcmp(registry[i].name, obs->name)) {
      PetscCall(registry[i].create(obs));
      PetscFunctionReturn(PETSC_SUCCESS);
    }
  PetscCall(PFObservableList(list, sizeof(list)));
  SETERRQ(obs->comm, PETSC_ERR_ARG_UNKNOWN_TYPE, "unknown observable '%s' (available: %s)", obs->name, list);
}

PetscErrorCode PFObservableCreate(MPI_Comm comm, const char name[], PetscInt n, PFObservable *obs)
{
  PetscFunctionBegin;
  PetscCall(PFObservableCreateWithRegion(comm, name, n, NULL, obs));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* a new observable of states of n values (and a region, may be NULL) */
static PetscErrorCode Prepare(MPI_Comm comm, const char name[], PetscInt n, const double region[], PFObservable *obs)
{
  PetscFunctionBegin;
  PetscCall(PetscNew(obs));
  (*obs)->comm = comm;
  (*obs)->n    = n;
  if (region) {
    for (int k = 0; k < 4; k++) (*obs)->region[k] = region[k];
    (*obs)->has_region = PETSC_TRUE;
  }
  PetscCall(PetscStrncpy((*obs)->name, name, sizeof((*obs)->name)));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* the registered create on a prepared observable; freed if it fails */
static PetscErrorCode Finish(PFObservable *obs)
{
  PetscErrorCode ierr;

  PetscFunctionBegin;
  ierr = CreateByName(*obs);
  if (ierr) PetscCall(PetscFree(*obs));
  PetscCall(ierr);
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFObservableCreateWithRegion(MPI_Comm comm, const char name[], PetscInt n, const double region[], PFObservable *obs)
{
  PetscFunctionBegin;
  PetscCall(Prepare(comm, name, n, region, obs));
  PetscCall(Finish(obs));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFObservableCreateMesh(const char name[], PFPhysics phys, const double mean[], const double std[], const double region[], const char group[], PFObservable *obs)
{
  PetscInt nown, nf;
  PFMesh   mesh;
  MPI_Comm comm;

  PetscFunctionBegin;
  PetscCall(PFPhysicsGetMesh(phys, &mesh));
  comm = mesh->comm;
  PetscCall(PFPhysicsGetVertexMap(phys, &nown, NULL));
  PetscCall(PFPhysicsGetFields(phys, &nf, NULL, NULL));
  PetscCheck(nf <= 8, comm, PETSC_ERR_SUP, "mesh observables take at most 8 fields");
  PetscCall(Prepare(comm, name, nf * nown, region, obs));
  (*obs)->phys    = phys;
  (*obs)->nfields = nf;
  for (PetscInt f = 0; f < nf; f++) (*obs)->mean[f] = mean[f], (*obs)->std[f] = std[f];
  if (group) PetscCall(PetscStrncpy((*obs)->group, group, sizeof((*obs)->group)));
  PetscCall(Finish(obs));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFObservableEval(PFObservable obs, PetscInt B, const pfreal *x, double *f, pfreal *grad)
{
  PetscFunctionBegin;
  PetscCall(obs->eval(obs, B, x, f, grad));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFObservableDestroy(PFObservable *obs)
{
  PetscFunctionBegin;
  if (!*obs) PetscFunctionReturn(PETSC_SUCCESS);
  if ((*obs)->destroy) PetscCall((*obs)->destroy(*obs));
  PetscCall(PetscFree(*obs));
  PetscFunctionReturn(PETSC_SUCCESS);
}
