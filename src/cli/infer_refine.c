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
  /* the refined estimate and its factor are kept for PFCLIInferLaplaceRows */
  if (!rf->xi) PetscCall(PetscMalloc4(m + 1, &rf->xi, (size_t)nf * nown + 1, &rf->x, (size_t)nf * nv, &rf->est, (size_t)m * m, &rf->L));
  xi = rf->xi, x = rf->x;
  PetscCall(PetscCalloc2((size_t)nf * nv, &mean, (size_t)nf * nv, &moved));
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
  ierr = PFMAPGaussNewton(ctx->phys, H, field, o->values, o->sigma, rf->steps, xi, x, &rf->st, rf->L);
  rf->failed = (PetscBool)(ierr == PETSC_ERR_NOT_CONVERGED);
  if (!rf->failed) PetscCall(ierr);
  if (!rf->failed) {
    /* the shift, natural order on the group leaders */
    for (PetscInt f = 0; f < nf; f++) PetscCall(PFPhysicsGatherNatural(ctx->phys, x + f * nown, grank == 0 ? moved + (size_t)f * nv : NULL));
    if (grank == 0) {
      double s2 = 0;
      PetscCall(PetscArraycpy(rf->est, moved, (size_t)nf * nv));
      for (size_t q = 0; q < (size_t)nf * nv; q++) moved[q] -= mean[q];
      for (PetscInt v = 0; v < nv; v++) s2 += moved[v] * moved[v];
      rf->moved = sqrt(s2 / nv);
      for (PetscInt f = 0; f < nf; f++)
        for (PetscInt j = 0; j < nloc; j++)
          for (PetscInt v = 0; v < nv; v++) rows[f][(size_t)j * nv + v] += moved[(size_t)f * nv + v];
    }
    PetscCallMPI(MPI_Bcast(&rf->moved, 1, MPI_DOUBLE, 0, ctx->gcomm));
  }
  PetscCall(PetscFree2(mean, moved));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFCLIInferLaplaceRows(PFCLIInferRefine *rf, PFCLIMeshContext *ctx, MPI_Comm comm, PetscInt gid, PetscInt G, const PFObs *o, PFObsOperator *H, PetscInt field, PetscInt N, PetscInt seed, PetscInt *lo, PetscInt *hi, double *rows[])
{
  const PetscInt nf = ctx->nfields;
  PFMesh         mesh;
  PetscInt       nown, nloc;
  PetscMPIInt    grank;
  PetscScalar   *X;

  PetscFunctionBegin;
  PetscCheck(!rf->failed, comm, PETSC_ERR_NOT_CONVERGED, "the solve at the model's estimate failed: no Laplace approximation to draw from");
  PetscCall(PFPhysicsGetMesh(ctx->phys, &mesh));
  PetscCall(PFPhysicsGetVertexMap(ctx->phys, &nown, NULL));
  PetscCallMPI(MPI_Comm_rank(ctx->gcomm, &grank));
  *lo  = (PetscInt)(((PetscInt64)gid * N) / G);
  *hi  = (PetscInt)(((PetscInt64)(gid + 1) * N) / G);
  nloc = *hi - *lo;
  PetscCall(PetscMalloc1((size_t)nloc * nf * nown + 1, &X));
  PetscCall(PFLaplaceSamples(ctx->phys, H, field, o->sigma, rf->xi, rf->x, rf->L, rf->laplace_linear, (uint64_t)seed, *lo, nloc, X));
  for (PetscInt f = 0; f < nf; f++) {
    PetscCall(PetscFree(rows[f]));
    PetscCall(PetscMalloc1(grank == 0 ? (size_t)nloc * mesh->nvert + 1 : 1, &rows[f]));
    for (PetscInt j = 0; j < nloc; j++) PetscCall(PFPhysicsGatherNatural(ctx->phys, X + ((size_t)j * nf + f) * nown, grank == 0 ? rows[f] + (size_t)j * mesh->nvert : NULL));
  }
  PetscCall(PetscFree(X));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFCLIInferRefineDestroy(PFCLIInferRefine *rf)
{
  PetscFunctionBegin;
  PetscCall(PetscFree4(rf->xi, rf->x, rf->est, rf->L));
  PetscFunctionReturn(PETSC_SUCCESS);
}
