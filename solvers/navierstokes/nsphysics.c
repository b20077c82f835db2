/* PFPhysics "ns": steady incompressible flow past an obstacle across
 * Reynolds numbers (issue 8), on the solver of solvers/navierstokes/ns.c.
 *
 * Fields u, v, p at the mesh vertices (the P2/P1 vertex values); no input
 * fields: sample i's input is its Reynolds number, uniform in
 * [-Re_min, -Re_max] and keyed by (seed, i), stored as the parameter
 * /params/Re.  Every sample is solved from rest (continuation in Re when
 * Newton from rest fails), so a sample does not depend on which samples
 * its group solved before: datasets are the same on any G x P layout.
 * The differentiable residual, its VJP and low fidelity are not built yet:
 * those operations say so. */
#include <math.h>
#include <physflow/private/physicsimpl.h>
#include <physflow/rng.h>
#include "ns.h"

typedef struct {
  PFNS  *ns;
  double Re_min, Re_max;
} PFPhysics_NS;

static const char *const NSFields[] = {"u", "v", "p"};
static const char *const NSParams[] = {"Re"};

static PetscErrorCode SetFromOptions_NS(PFPhysics phys, PetscOptionItems *PetscOptionsObject)
{
  PFPhysics_NS *d = (PFPhysics_NS *)phys->data;

  PetscFunctionBegin;
  PetscOptionsHeadBegin(PetscOptionsObject, "Navier-Stokes samples");
  PetscCall(PetscOptionsReal("-Re_min", "Smallest Reynolds number U_mean D / nu of the samples", "PFPhysics", d->Re_min, &d->Re_min, NULL));
  PetscCall(PetscOptionsReal("-Re_max", "Largest Reynolds number (uniform in [Re_min, Re_max])", "PFPhysics", d->Re_max, &d->Re_max, NULL));
  PetscOptionsHeadEnd();
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
  PetscFunctionReturn(PETSC_SUCCESS);
}

static double SampleRe(PFPhysics_NS *d, uint64_t seed, PetscInt index)
{
  PFRNG r;
  PFRNGInit(&r, seed, PF_RNG_PDE_INPUT, (uint64_t)index, 0);
  return d->Re_min + (d->Re_max - d->Re_min) * PFRNGUniform(&r);
}

static PetscErrorCode Params_NS(PFPhysics phys, uint64_t seed, PetscInt index, double *values)
{
  PetscFunctionBegin;
  values[0] = SampleRe((PFPhysics_NS *)phys->data, seed, index);
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* no input fields: the sample's input is its Reynolds number */
static PetscErrorCode DrawInputs_NS(PFPhysics phys, uint64_t seed, PetscInt index, PetscScalar *x)
{
  PetscFunctionBegin;
  (void)phys, (void)seed, (void)index, (void)x;
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode Solve_NS(PFPhysics phys, PFFidelity fid, uint64_t seed, PetscInt index, PetscScalar *x)
{
  PFPhysics_NS *d = (PFPhysics_NS *)phys->data;

  PetscFunctionBegin;
  PetscCheck(fid == PF_FIDELITY_HIGH, phys->comm, PETSC_ERR_SUP, "-physics ns: low fidelity is not built yet");
  PetscCall(PFNSReset(d->ns));
  PetscCall(PFNSSolveSteady(d->ns, SampleRe(d, seed, index)));
  PetscCall(PFNSVertexValues(d->ns, phys->nown, x));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode View_NS(PFPhysics phys, PetscViewer viewer)
{
  PFPhysics_NS *d = (PFPhysics_NS *)phys->data;

  PetscFunctionBegin;
  PetscCall(PetscViewerASCIIPrintf(viewer, "steady Navier-Stokes, Taylor-Hood P%" PetscInt_FMT "/P%" PetscInt_FMT ", Re in [%g, %g] (U_mean %g, D %g, H %g)\n", d->ns ? d->ns->order : 2, d->ns ? d->ns->order - 1 : 1, d->Re_min, d->Re_max, d->ns ? d->ns->U_mean : 0.2, d->ns ? d->ns->D : 0.1, d->ns ? d->ns->H : 0.41));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode Destroy_NS(PFPhysics phys)
{
  PFPhysics_NS *d = (PFPhysics_NS *)phys->data;

  PetscFunctionBegin;
  PetscCall(PFNSDestroy(&d->ns));
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
  phys->data               = d;
  phys->nfields            = 3;
  phys->ninputs            = 0;
  phys->fieldnames         = NSFields;
  phys->nparams            = 1;
  phys->paramnames         = NSParams;
  phys->ops.setfromoptions = SetFromOptions_NS;
  phys->ops.setup          = SetUp_NS;
  phys->ops.drawinputs     = DrawInputs_NS;
  phys->ops.solve          = Solve_NS;
  phys->ops.params         = Params_NS;
  phys->ops.view           = View_NS;
  phys->ops.destroy        = Destroy_NS;
  PetscFunctionReturn(PETSC_SUCCESS);
}
