/* PFPhysics "ns": steady incompressible flow past an obstacle across
 * Reynolds numbers (issue 8), on the solver of solvers/navierstokes/ns.c.
 *
 * Fields Re, u, v, p at the mesh vertices: the input field Re is the
 * sample's Reynolds number at every vertex (uniform in [-Re_min, -Re_max],
 * keyed by (seed, i); also the parameter /params/Re), so that a model
 * generates the regime with the flow, a conditional model can be given it
 * as a held channel, and an inverse problem can infer it; u, v, p are the
 * P2/P1 solution's vertex values.  Every sample is solved from rest
 * (continuation in Re when Newton from rest fails), so a sample does not
 * depend on which samples its group solved before: datasets are the same
 * on any G x P layout.
 *
 * The residual of a state (nsresidual.c) is that of the steady equations
 * at the viscosity of the state's Re field (its mass-weighted mean), over
 * the owned Taylor-Hood dofs; its VJP includes the Re field (R is affine
 * in nu = U_mean D / Re).  For snapshots of unsteady flow it measures the
 * departure from a steady state (one snapshot has no u_t).
 *
 * Unsteady datasets (-ns_unsteady): trajectory j = i / K of K snapshots
 * (-ns_snapshots) at Re_j, BDF2 from rest with dt (-ns_unsteady_dt) past a
 * spin-up (-ns_unsteady_spinup, into the periodic regime), one snapshot
 * every -ns_unsteady_every time units; times in convective units D/U_mean.
 * /params holds Re and t.  A group solves a trajectory once and keeps its
 * snapshots for the samples that follow.  Their residual keeps the
 * continuity and boundary rows only: they hold at every instant, while the
 * momentum equation needs u_t, which one snapshot does not carry (eval
 * still reports the steady momentum residual, as the departure from a
 * steady state, and quasi-steady forces).  Low fidelity:
 * the same solve on a coarser mesh of the geometry (-low_mesh), its vertex
 * values interpolated (P1) to the fine vertices. */
#include <math.h>
#include <physflow/private/physicsimpl.h>
#include <physflow/rng.h>
#include "ns.h"
#include "../darcy/transfer.h"

typedef struct {
  PFNS  *ns;
  double Re_min, Re_max;
  /* low fidelity: the same flow on a coarser mesh of the geometry */
  char       low_mesh[PETSC_MAX_PATH_LEN];
  PFMesh     cmesh;
  PFNS      *cns;
  PetscInt   cnown, *cownnat;
  PFTransfer tp;    /* coarse vertices -> fine vertices (rank 0) */
  double    *cnat, *fnat;
  double     fnorm; /* |R(0)|_2, once computed (0 before) */
  double       bcw;                   /* weight of the boundary rows in the residual */
  /* unsteady snapshots */
  PetscBool    unsteady;
  PetscInt     K;                     /* snapshots per trajectory */
  double       dt, spinup, every;     /* convective units D/U_mean */
  PFNS        *uns;                   /* the unsteady solver (own discretisations) */
  PetscInt     traj;                  /* the trajectory held in snaps (-1: none) */
  uint64_t     trajseed;
  PetscScalar *snaps;                 /* [K][3 nown] */
  PetscInt    *snapstep;              /* [K] */
} PFPhysics_NS;

static const char *const NSFields[] = {"Re", "u", "v", "p"};
static const char *const NSParams[] = {"Re", "t"};

static PetscErrorCode SetFromOptions_NS(PFPhysics phys, PetscOptionItems *PetscOptionsObject)
{
  PFPhysics_NS *d = (PFPhysics_NS *)phys->data;

  PetscFunctionBegin;
  PetscOptionsHeadBegin(PetscOptionsObject, "Navier-Stokes samples");
  PetscCall(PetscOptionsReal("-Re_min", "Smallest Reynolds number U_mean D / nu of the samples", "PFPhysics", d->Re_min, &d->Re_min, NULL));
  PetscCall(PetscOptionsReal("-Re_max", "Largest Reynolds number (uniform in [Re_min, Re_max])", "PFPhysics", d->Re_max, &d->Re_max, NULL));
  PetscCall(PetscOptionsString("-low_mesh", "-fidelity low: a coarser Gmsh mesh of the same geometry (e.g. gmsh -clscale 2 from the same .geo)", "PFPhysics", d->low_mesh, d->low_mesh, sizeof(d->low_mesh), NULL));
  PetscCall(PetscOptionsReal("-ns_residual_bc_weight", "Weight of the boundary-value rows in the residual of generated states (training losses; eval keeps 1): below 1, the momentum and continuity rows count for more", "PFPhysics", d->bcw, &d->bcw, NULL));
  PetscCall(PetscOptionsBool("-ns_unsteady", "Snapshots of unsteady flow (BDF2 from rest, after a spin-up) instead of steady states", "PFPhysics", d->unsteady, &d->unsteady, NULL));
  PetscCall(PetscOptionsInt("-ns_snapshots", "-ns_unsteady: snapshots per trajectory (one Re each)", "PFPhysics", d->K, &d->K, NULL));
  PetscCall(PetscOptionsReal("-ns_unsteady_dt", "-ns_unsteady: time step, in units D/U_mean", "PFPhysics", d->dt, &d->dt, NULL));
  PetscCall(PetscOptionsReal("-ns_unsteady_spinup", "-ns_unsteady: time before the first snapshot, in units D/U_mean", "PFPhysics", d->spinup, &d->spinup, NULL));
  PetscCall(PetscOptionsReal("-ns_unsteady_every", "-ns_unsteady: time between snapshots, in units D/U_mean", "PFPhysics", d->every, &d->every, NULL));
  PetscOptionsHeadEnd();
  PetscCheck(d->bcw > 0 && isfinite(d->bcw), phys->comm, PETSC_ERR_ARG_OUTOFRANGE, "-ns_residual_bc_weight must be positive");
  PetscCheck(!d->unsteady || (d->K >= 1 && d->K <= 100000 && d->dt > 0 && d->spinup >= d->dt && d->every >= d->dt && isfinite(d->spinup + d->every)), phys->comm, PETSC_ERR_ARG_OUTOFRANGE, "-ns_unsteady needs -ns_snapshots >= 1 and -ns_unsteady_spinup, -ns_unsteady_every >= -ns_unsteady_dt > 0");
  phys->nparams = d->unsteady ? 2 : 1;
  PetscCheck(d->Re_min > 0 && d->Re_max >= d->Re_min && isfinite(d->Re_max), phys->comm, PETSC_ERR_ARG_OUTOFRANGE, "need 0 < -Re_min <= -Re_max (got %g, %g)", d->Re_min, d->Re_max);
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode SetUp_NS(PFPhysics phys)
{
  PFPhysics_NS *d = (PFPhysics_NS *)phys->data;

  PetscFunctionBegin;
  PetscCheck(phys->meshfile[0], phys->comm, PETSC_ERR_ARG_WRONG, "-physics ns needs a Gmsh mesh of a channel with an obstacle: -mesh cyl.msh (e.g. gmsh -2 examples/meshes/dfg_cylinder.geo)");
  PetscCall(PFNSCreate(phys->mesh, &d->ns));
  PetscCall(PFNSGetOwnedVertices(d->ns, &phys->nown, &phys->ownnat));
  {
    /* PFPhysicsDestroy frees ownnat and mass as one PetscMalloc2 */
    PetscInt *own = phys->ownnat;
    PetscCall(PetscMalloc2(phys->nown + 1, &phys->ownnat, phys->nown + 1, &phys->mass));
    PetscCall(PetscArraycpy(phys->ownnat, own, phys->nown));
    PetscCall(PetscFree(own));
  }
  PetscCall(PFNSVertexMass(d->ns, phys->nown, phys->mass));
  PetscCall(PFNSResidualGetSize(d->ns, &phys->nres));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* the state's Reynolds number: the mass-weighted mean of its Re field */
static PetscErrorCode StateRe(PFPhysics phys, const PetscScalar *x, double *Re, double *M)
{
  double s[2] = {0, 0};

  PetscFunctionBegin;
  for (PetscInt i = 0; i < phys->nown; i++) s[0] += PetscRealPart(phys->mass[i] * x[i]), s[1] += PetscRealPart(phys->mass[i]);
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, s, 2, MPI_DOUBLE, MPI_SUM, phys->comm));
  *Re = s[0] / s[1];
  if (M) *M = s[1];
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* nu of a Reynolds number (the zero state's residual does not depend on
 * nu: no viscosity for Re <= 0) */
static double Viscosity(PFPhysics_NS *d, double Re) { return Re > 0 ? d->ns->U_mean * d->ns->D / Re : 0; }

/* the steady equations' residual of one state, all rows */
static PetscErrorCode SteadyResidual(PFPhysics phys, const PetscScalar *x, PetscScalar *R)
{
  PFPhysics_NS *d = (PFPhysics_NS *)phys->data;
  double        Re;

  PetscFunctionBegin;
  PetscCall(StateRe(phys, x, &Re, NULL));
  PetscCall(PFNSResidualSetViscosity(d->ns, Viscosity(d, Re)));
  PetscCall(PFNSResidualVertex(d->ns, x + phys->nown, R));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* the rows' weights: snapshots drop the momentum rows; -ns_residual_bc_weight */
static PetscBool RowsWeighted(PFPhysics_NS *d) { return (PetscBool)(d->unsteady || d->bcw != 1); }

static PetscErrorCode ScaleRows(PFPhysics_NS *d, PetscScalar *R)
{
  PetscFunctionBegin;
  if (RowsWeighted(d)) PetscCall(PFNSResidualScaleRows(d->ns, d->unsteady ? 0 : 1, 1, d->bcw, R));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode Residual_NS(PFPhysics phys, PetscInt B, const PetscScalar *x, PetscScalar *R)
{
  PFPhysics_NS  *d = (PFPhysics_NS *)phys->data;
  const PetscInt n = phys->nfields * phys->nown;

  PetscFunctionBegin;
  for (PetscInt b = 0; b < B; b++) {
    PetscCall(SteadyResidual(phys, x + b * n, R + b * phys->nres));
    /* snapshots: continuity and boundary rows (see the top of the file) */
    PetscCall(ScaleRows(d, R + b * phys->nres));
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode ResidualVJP_NS(PFPhysics phys, PetscInt B, const PetscScalar *x, const PetscScalar *v, PetscScalar *gx)
{
  PFPhysics_NS  *d = (PFPhysics_NS *)phys->data;
  const PetscInt n = phys->nfields * phys->nown;
  PetscScalar   *w = NULL; /* the weighted cotangent of one state */

  PetscFunctionBegin;
  if (RowsWeighted(d)) PetscCall(PetscMalloc1(phys->nres + 1, &w));
  for (PetscInt b = 0; b < B; b++) {
    double             Re, M, dnu, nu;
    const PetscScalar *vb = v + b * phys->nres;
    PetscCall(StateRe(phys, x + b * n, &Re, &M));
    nu = Viscosity(d, Re);
    PetscCall(PFNSResidualSetViscosity(d->ns, nu));
    if (w) {
      /* the rows' weights (a snapshot has no momentum rows) on the cotangent */
      PetscCall(PetscArraycpy(w, vb, phys->nres));
      PetscCall(ScaleRows(d, w));
      vb = w;
    }
    PetscCall(PFNSResidualVertexVJP(d->ns, x + b * n + phys->nown, vb, gx + b * n + phys->nown, &dnu));
    /* d nu / d Re = -nu / Re, and d Re / d Re_i = m_i / M */
    for (PetscInt i = 0; i < phys->nown; i++) gx[b * n + i] = Re > 0 ? -dnu * nu / Re * phys->mass[i] / M : 0;
  }
  PetscCall(PetscFree(w));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Newton steps of the flow fields (u, v, p) at each state's Re; the scale
 * of a state is U_mean^2 per unit area (|e|_M^2 / (U_mean^2 |domain|) is the
 * mean-square step relative to the mean inflow speed) */
static PetscErrorCode NewtonStep_NS(PFPhysics phys, PetscInt B, const PetscScalar *x, PetscScalar *e, PetscScalar *gx, double *scale)
{
  PFPhysics_NS  *d = (PFPhysics_NS *)phys->data;
  const PetscInt n = phys->nfields * phys->nown;

  PetscFunctionBegin;
  PetscCheck(!d->unsteady || B == 0, phys->comm, PETSC_ERR_SUP, "-ns_unsteady: a snapshot has no steady Newton step (its momentum equation needs u_t); use -constraint_norm l2");
  if (scale) *scale = d->ns->U_mean * d->ns->U_mean;
  for (PetscInt b = 0; b < B; b++) {
    double Re;
    PetscCall(StateRe(phys, x + b * n, &Re, NULL));
    PetscCheck(Re > 0, phys->comm, PETSC_ERR_ARG_OUTOFRANGE, "a state's Reynolds number is %g: no Newton step of the viscous equations", Re);
    PetscCall(PFNSResidualSetViscosity(d->ns, Viscosity(d, Re)));
    PetscCall(PFNSResidualNewtonStep(d->ns, x + b * n + phys->nown, phys->mass, e + b * 3 * phys->nown, gx ? gx + b * n + phys->nown : NULL));
    if (gx)
      for (PetscInt i = 0; i < phys->nown; i++) gx[b * n + i] = 0; /* at fixed Re */
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* the residual's scale: |R(0)|_2, the inflow's boundary values (it does
 * not depend on nu: assembled once, on first use) */
static PetscErrorCode ForcingNorm_NS(PFPhysics phys, double *fnorm)
{
  PFPhysics_NS *d = (PFPhysics_NS *)phys->data;

  PetscFunctionBegin;
  if (d->fnorm <= 0) {
    PetscScalar *x, *R;
    double       s = 0;
    PetscCall(PetscCalloc2(phys->nfields * phys->nown + 1, &x, phys->nres + 1, &R));
    PetscCall(Residual_NS(phys, 1, x, R));
    for (PetscInt k = 0; k < phys->nres; k++) s += PetscRealPart(R[k] * PetscConj(R[k]));
    PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, &s, 1, MPI_DOUBLE, MPI_SUM, phys->comm));
    d->fnorm = sqrt(s);
    PetscCall(PetscFree2(x, R));
  }
  *fnorm = d->fnorm;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* sample i's Reynolds number (unsteady: that of its trajectory) */
static double SampleRe(PFPhysics_NS *d, uint64_t seed, PetscInt index)
{
  PFRNG r;
  PFRNGInit(&r, seed, PF_RNG_PDE_INPUT, (uint64_t)(d->unsteady ? index / d->K : index), 0);
  return d->Re_min + (d->Re_max - d->Re_min) * PFRNGUniform(&r);
}

/* unsteady: the time unit D/U_mean, the steps of the spin-up and between
 * snapshots, and the step of snapshot k */
static double   TimeUnit(PFPhysics_NS *d) { return d->ns->D / d->ns->U_mean; }
static PetscInt StepsOf(PFPhysics_NS *d, double units) { return PetscMax(1, (PetscInt)llround(units / d->dt)); }
static PetscInt SnapshotStep(PFPhysics_NS *d, PetscInt k) { return StepsOf(d, d->spinup) + k * StepsOf(d, d->every); }

static PetscErrorCode Params_NS(PFPhysics phys, uint64_t seed, PetscInt index, double *values)
{
  PFPhysics_NS *d = (PFPhysics_NS *)phys->data;

  PetscFunctionBegin;
  values[0] = SampleRe(d, seed, index);
  if (d->unsteady) values[1] = (double)SnapshotStep(d, index % d->K) * d->dt * TimeUnit(d);
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* snapshot index % K of trajectory index / K: solved once per trajectory */
static PetscErrorCode SolveSnapshot(PFPhysics phys, uint64_t seed, PetscInt index, PetscScalar *uvp)
{
  PFPhysics_NS  *d = (PFPhysics_NS *)phys->data;
  const PetscInt j = index / d->K, nown = phys->nown;

  PetscFunctionBegin;
  if (!d->uns) {
    PetscCall(PFNSCreate(phys->mesh, &d->uns));
    PetscCall(PetscMalloc2((size_t)d->K * 3 * nown + 1, &d->snaps, d->K, &d->snapstep));
    for (PetscInt k = 0; k < d->K; k++) d->snapstep[k] = SnapshotStep(d, k);
    d->traj = -1;
  }
  if (d->traj != j || d->trajseed != seed) {
    PetscInt nsteps;
    double  *t, *cd, *cl, tu = TimeUnit(d);
    PetscCall(PFNSSetSnapshots(d->uns, d->K, d->snapstep, nown, d->snaps));
    PetscCall(PFNSSolveUnsteady(d->uns, SampleRe(d, seed, index), d->dt * tu, (double)d->snapstep[d->K - 1] * d->dt * tu, &nsteps, &t, &cd, &cl));
    PetscCheck(nsteps >= d->snapstep[d->K - 1], phys->comm, PETSC_ERR_PLIB, "the unsteady solve took %" PetscInt_FMT " steps, fewer than the last snapshot's %" PetscInt_FMT, nsteps, d->snapstep[d->K - 1]);
    PetscCall(PetscFree3(t, cd, cl));
    d->traj = j, d->trajseed = seed;
  }
  PetscCall(PetscArraycpy(uvp, d->snaps + (size_t)(index % d->K) * 3 * nown, 3 * nown));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* the input field: the sample's Reynolds number at every vertex */
static PetscErrorCode DrawInputs_NS(PFPhysics phys, uint64_t seed, PetscInt index, PetscScalar *x)
{
  const double Re = SampleRe((PFPhysics_NS *)phys->data, seed, index);

  PetscFunctionBegin;
  for (PetscInt i = 0; i < phys->nown; i++) x[i] = Re;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* low fidelity: the coarse mesh's solver and the transfer of its vertex
 * values (P1 interpolation, located by PFTransfer's bucket grid) */
static PetscErrorCode SetUpLowFidelity(PFPhysics phys)
{
  PFPhysics_NS *d = (PFPhysics_NS *)phys->data;
  PetscMPIInt   rank;

  PetscFunctionBegin;
  PetscCheck(d->low_mesh[0], phys->comm, PETSC_ERR_ARG_WRONG, "-physics ns -fidelity low needs a coarser mesh of the geometry: -low_mesh coarse.msh (e.g. gmsh -clscale 2 from the same .geo)");
  PetscCall(PFMeshCreate(phys->comm, d->low_mesh, 0, &d->cmesh));
  PetscCheck(2 * d->cmesh->nvert <= phys->mesh->nvert, phys->comm, PETSC_ERR_ARG_WRONG, "-low_mesh '%s' has %" PetscInt_FMT " vertices, more than half the fine mesh's %" PetscInt_FMT ": low fidelity should be cheaper", d->low_mesh, d->cmesh->nvert, phys->mesh->nvert);
  PetscCall(PFNSCreate(d->cmesh, &d->cns));
  PetscCall(PFNSGetOwnedVertices(d->cns, &d->cnown, &d->cownnat));
  PetscCallMPI(MPI_Comm_rank(phys->comm, &rank));
  PetscCall(PetscMalloc2(d->cmesh->nvert, &d->cnat, phys->mesh->nvert, &d->fnat));
  if (rank == 0) {
    PFMesh fm = phys->mesh, cm = d->cmesh;
    PetscCall(PFTransferCreate(cm->nvert, cm->coords, cm->ncells, cm->nvpc, cm->cells, fm->nvert, fm->coords, &d->tp));
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode SolveLow(PFPhysics phys, double Re, PetscScalar *uvp)
{
  PFPhysics_NS *d = (PFPhysics_NS *)phys->data;
  PetscScalar  *c;
  PetscMPIInt   rank;

  PetscFunctionBegin;
  if (!d->cns) PetscCall(SetUpLowFidelity(phys));
  PetscCallMPI(MPI_Comm_rank(phys->comm, &rank));
  PetscCall(PFNSReset(d->cns));
  PetscCall(PFNSSolveSteady(d->cns, Re));
  PetscCall(PetscMalloc1(3 * d->cnown + 1, &c));
  PetscCall(PFNSVertexValues(d->cns, d->cnown, c));
  for (PetscInt f = 0; f < 3; f++) {
    PetscCall(PFGatherNatural(phys->comm, d->cnown, d->cownnat, d->cmesh->nvert, c + f * d->cnown, d->cnat));
    if (rank == 0) PFTransferApply(&d->tp, d->cnat, d->fnat);
    PetscCallMPI(MPI_Bcast(d->fnat, (PetscMPIInt)phys->mesh->nvert, MPI_DOUBLE, 0, phys->comm));
    for (PetscInt i = 0; i < phys->nown; i++) uvp[f * phys->nown + i] = d->fnat[phys->ownnat[i]];
  }
  PetscCall(PetscFree(c));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode Solve_NS(PFPhysics phys, PFFidelity fid, uint64_t seed, PetscInt index, PetscScalar *x)
{
  PFPhysics_NS *d = (PFPhysics_NS *)phys->data;

  PetscFunctionBegin;
  if (d->unsteady) {
    PetscCheck(fid != PF_FIDELITY_LOW, phys->comm, PETSC_ERR_SUP, "-ns_unsteady: low-fidelity snapshots are not built (a coarse trajectory drifts out of phase with the fine one)");
    PetscCall(SolveSnapshot(phys, seed, index, x + phys->nown));
    PetscFunctionReturn(PETSC_SUCCESS);
  }
  if (fid == PF_FIDELITY_LOW) {
    PetscCall(SolveLow(phys, SampleRe(d, seed, index), x + phys->nown));
    PetscFunctionReturn(PETSC_SUCCESS);
  }
  PetscCall(PFNSReset(d->ns));
  PetscCall(PFNSSolveSteady(d->ns, SampleRe(d, seed, index)));
  PetscCall(PFNSVertexValues(d->ns, phys->nown, x + phys->nown));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* eval's checks of one state: residual parts relative to the zero
 * state's (momentum, continuity), the boundary-value error relative to the
 * inflow's peak, the re-solve distance (the solver's velocity at the
 * state's Re against the state's, mass-weighted relative L2: the most
 * readable), and the drag and lift coefficients (quantities, to compare
 * with the data's) */
static PetscErrorCode Validate_NS(PFPhysics phys, const PetscScalar *x, PetscInt *n, const char *const **names, double v[])
{
  static const char *const all[] = {"momentum", "continuity", "bc_error", "resolve", "c_D", "c_L"};
  static const char *const snap[] = {"momentum", "continuity", "bc_error", "c_D", "c_L"};
  PFPhysics_NS            *d     = (PFPhysics_NS *)phys->data;
  const PetscInt           nown  = phys->nown;
  PetscScalar             *R, *y;
  double                   mom, cont, bc, F, Re, loc[2] = {0, 0}, glob[2];

  PetscFunctionBegin;
  PetscCall(PetscMalloc2(phys->nres + 1, &R, 3 * nown + 1, &y));
  PetscCall(ForcingNorm_NS(phys, &F));
  PetscCall(SteadyResidual(phys, x, R));
  PetscCall(PFNSResidualParts(d->ns, R, &mom, &cont, &bc));
  v[0] = mom / F, v[1] = cont / F, v[2] = bc / (1.5 * d->ns->U_mean);
  if (d->unsteady) {
    /* a snapshot: no steady re-solve to compare with; quasi-steady forces */
    PetscCall(PFNSForcesOfVertex(d->ns, x + nown, &v[3], &v[4]));
    *n = 5;
    if (names) *names = snap;
    PetscCall(PetscFree2(R, y));
    PetscFunctionReturn(PETSC_SUCCESS);
  }
  PetscCall(StateRe(phys, x, &Re, NULL));
  PetscCall(PFNSReset(d->ns));
  PetscCall(PFNSSolveSteady(d->ns, Re));
  PetscCall(PFNSVertexValues(d->ns, nown, y));
  for (PetscInt i = 0; i < 2 * nown; i++) {
    double m = PetscRealPart(phys->mass[i % nown]), e = PetscRealPart(x[nown + i] - y[i]);
    loc[0] += m * e * e, loc[1] += m * PetscRealPart(y[i] * y[i]);
  }
  PetscCallMPI(MPI_Allreduce(loc, glob, 2, MPI_DOUBLE, MPI_SUM, phys->comm));
  v[3] = sqrt(glob[0] / glob[1]);
  PetscCall(PFNSForcesOfVertex(d->ns, x + nown, &v[4], &v[5]));
  *n = 6;
  if (names) *names = all;
  PetscCall(PetscFree2(R, y));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode View_NS(PFPhysics phys, PetscViewer viewer)
{
  PFPhysics_NS *d = (PFPhysics_NS *)phys->data;

  PetscFunctionBegin;
  if (d->unsteady) PetscCall(PetscViewerASCIIPrintf(viewer, "snapshots of unsteady flow: %" PetscInt_FMT " per trajectory, BDF2 dt %g, spin-up %g, every %g (units D/U_mean); residual: continuity and boundary rows\n", d->K, d->dt, d->spinup, d->every));
  PetscCall(PetscViewerASCIIPrintf(viewer, "steady Navier-Stokes, Taylor-Hood P%" PetscInt_FMT "/P%" PetscInt_FMT ", Re in [%g, %g] (U_mean %g, D %g, H %g)\n", d->ns ? d->ns->order : 2, d->ns ? d->ns->order - 1 : 1, d->Re_min, d->Re_max, d->ns ? d->ns->U_mean : 0.2, d->ns ? d->ns->D : 0.1, d->ns ? d->ns->H : 0.41));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode Destroy_NS(PFPhysics phys)
{
  PFPhysics_NS *d = (PFPhysics_NS *)phys->data;

  PetscFunctionBegin;
  PetscCall(PFNSDestroy(&d->ns));
  PetscCall(PFNSDestroy(&d->cns));
  PetscCall(PFNSDestroy(&d->uns));
  PetscCall(PetscFree2(d->snaps, d->snapstep));
  PetscCall(PFMeshDestroy(&d->cmesh));
  PetscCall(PetscFree(d->cownnat));
  PetscCall(PetscFree2(d->cnat, d->fnat));
  if (d->tp.n) PetscCall(PFTransferDestroy(&d->tp));
  PetscCall(PetscFree(phys->data));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFPhysicsCreate_NS(PFPhysics phys)
{
  PFPhysics_NS *d;

  PetscFunctionBegin;
  PetscCall(PetscNew(&d));
  d->Re_min                = 20;
  d->Re_max                = 20;
  d->K                     = 8;
  d->bcw                   = 1;
  d->dt                    = 0.05; /* DFG 2D-2's 0.005 s at U_mean 1, D 0.1 */
  d->spinup                = 80;
  d->every                 = 2;    /* about 1/1.7 of a shedding period (St 0.3) */
  d->traj                  = -1;
  phys->data               = d;
  phys->nfields            = 4;
  phys->ninputs            = 1;
  phys->fieldnames         = NSFields;
  phys->nparams            = 1;
  phys->paramnames         = NSParams;
  phys->ops.setfromoptions = SetFromOptions_NS;
  phys->ops.setup          = SetUp_NS;
  phys->ops.drawinputs     = DrawInputs_NS;
  phys->ops.solve          = Solve_NS;
  phys->ops.params         = Params_NS;
  phys->ops.residual       = Residual_NS;
  phys->ops.residualvjp    = ResidualVJP_NS;
  phys->ops.forcingnorm    = ForcingNorm_NS;
  phys->ops.newtonstep     = NewtonStep_NS;
  phys->ops.validate       = Validate_NS;
  phys->ops.view           = View_NS;
  phys->ops.destroy        = Destroy_NS;
  PetscFunctionReturn(PETSC_SUCCESS);
}
