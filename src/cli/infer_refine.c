/* physflow infer -infer_gn_steps: the physics' correction of a
 * generative posterior (src/inverse/gaussnewton.c says why). */
#include <math.h>
#include "infer_refine.h"

PetscErrorCode PFCLIInferRefineRows(PFCLIInferRefine *rf, PFCLIMeshContext *ctx, MPI_Comm comm, const PFObs *o, PFObsOperator *H, PetscInt field, PetscInt nloc, PetscInt ntotal, double *rows[])
{
  const PetscInt  nf = ctx->nfields;
  PFMesh          mesh;
  PetscInt        nown, nv, m;
  const PetscInt *nat;
  PetscMPIInt     grank;
  double         *mean, *xi, *moved;
  PetscScalar    *x;
  PetscErrorCode  ierr;

  PetscFunctionBegin;
  if (rf->steps <= 0) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCall(PFPhysicsGetMesh(ctx->phys, &mesh));
  PetscCall(PFPhysicsGetVertexMap(ctx->phys, &nown, &nat));
  PetscCall(PFPhysicsGetLatentSize(ctx->phys, &m));
  PetscCallMPI(MPI_Comm_rank(ctx->gcomm, &grank));
  nv = mesh->nvert;
  PetscCall(PetscCalloc4((size_t)nf * nv, &mean, m + 1, &xi, (size_t)nf * nown + 1, &x, (size_t)nf * nv, &moved));
  /* the samples' mean over all groups (the leaders hold the rows) */
  if (grank == 0)
    for (PetscInt f = 0; f < nf; f++)
      for (PetscInt j = 0; j < nloc; j++)
        for (PetscInt v = 0; v < nv; v++) mean[(size_t)f * nv + v] += rows[f][(size_t)j * nv + v];
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, mean, (PetscMPIInt)(nf * nv), MPI_DOUBLE, MPI_SUM, comm));
  for (size_t q = 0; q < (size_t)nf * nv; q++) mean[q] /= (double)ntotal;
  for (PetscInt f = 0; f < nf; f++)
    for (PetscInt i = 0; i < nown; i++) x[f * nown + i] = mean[(size_t)f * nv + nat[i]];
  PetscCall(PFPhysicsLatentFromInputs(ctx->phys, x, xi));
  ierr = PFMAPGaussNewton(ctx->phys, H, field, o->values, o->sigma, rf->steps, xi, x, &rf->st);
  rf->failed = (PetscBool)(ierr == PETSC_ERR_NOT_CONVERGED);
  if (!rf->failed) PetscCall(ierr);
  if (!rf->failed) {
    /* the shift, natural order on the group leaders */
    for (PetscInt f = 0; f < nf; f++) PetscCall(PFPhysicsGatherNatural(ctx->phys, x + f * nown, grank == 0 ? moved + (size_t)f * nv : NULL));
    if (grank == 0) {
      double s2 = 0;
      for (size_t q = 0; q < (size_t)nf * nv; q++) moved[q] -= mean[q];
      for (PetscInt v = 0; v < nv; v++) s2 += moved[v] * moved[v];
      rf->moved = sqrt(s2 / nv);
      for (PetscInt f = 0; f < nf; f++)
        for (PetscInt j = 0; j < nloc; j++)
          for (PetscInt v = 0; v < nv; v++) rows[f][(size_t)j * nv + v] += moved[(size_t)f * nv + v];
    }
    PetscCallMPI(MPI_Bcast(&rf->moved, 1, MPI_DOUBLE, 0, ctx->gcomm));
  }
  PetscCall(PetscFree4(mean, xi, x, moved));
  PetscFunctionReturn(PETSC_SUCCESS);
}
