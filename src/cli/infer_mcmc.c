/* physflow infer -infer_type mcmc: reference posteriors by pCN chains
 * (src/inverse/mcmc.c), split over the rank groups by whole chains. */
#include <math.h>
#include "infer_mcmc.h"

void PFCLIInferMCMCRows(const PFCLIInferMCMC *mc, PetscInt gid, PetscInt G, PetscInt *lo, PetscInt *hi)
{
  const PetscInt64 C = mc->chains, c0 = (gid * C) / G, c1 = ((gid + 1) * C) / G;
  *lo = (PetscInt)((c0 * mc->n) / C);
  *hi = (PetscInt)((c1 * mc->n) / C);
}

PetscErrorCode PFCLIInferMCMCSample(PFCLIInferMCMC *mc, MPI_Comm comm, PetscInt gid, PetscInt G, const PFObs *o, PFObsOperator *H, PetscInt field, pfreal *x)
{
  PFCLIMeshContext *ctx = mc->ctx;
  const PetscInt64  C   = mc->chains;
  const PetscInt    c0 = (PetscInt)((gid * C) / G), c1 = (PetscInt)(((gid + 1) * C) / G);
  PetscInt          nown, nf = ctx->nfields, m, row = 0, maxrows = (PetscInt)(mc->n / C) + 1;
  PetscScalar      *X;
  double           *xi0 = NULL, *L = NULL, local[3] = {0, 0, 0}, global[3];
  PetscMPIInt       grank;

  PetscFunctionBegin;
  PetscCall(PFPhysicsGetVertexMap(ctx->phys, &nown, NULL));
  PetscCall(PFPhysicsGetLatentSize(ctx->phys, &m));
  PetscCheck(m > 0, comm, PETSC_ERR_SUP, "-infer_type mcmc needs a latent prior of the inputs (Darcy: -darcy_field kl)");
  PetscCall(PetscMalloc2((size_t)maxrows * nf * nown + 1, &X, m, &xi0));
  if (mc->from_map && c1 > c0) {
    PetscInt its;
    double   J;
    PetscCall(PFMAPEstimate(ctx->phys, H, field, o->values, o->sigma, X, &its, &J, xi0));
    if (mc->laplace) {
      /* X holds the MAP's state; the factor serves all of this group's chains */
      PetscCall(PetscMalloc1((size_t)m * m, &L));
      PetscCall(PFMCMCLaplaceFactor(ctx->phys, H, field, o->sigma, X, L));
    }
  }
  for (PetscInt c = c0; c < c1; c++) {
    const PetscInt rows = (PetscInt)(((PetscInt64)(c + 1) * mc->n) / C - ((PetscInt64)c * mc->n) / C);
    PFMCMCStats    st;
    PetscCall(PFMCMCChain(ctx->phys, H, field, o->values, o->sigma, &mc->p, mc->from_map ? xi0 : NULL, L, (uint64_t)mc->seed, c, rows, X, &st));
    /* normalised, as the writer takes the generative methods' states */
    for (PetscInt j = 0; j < rows; j++)
      for (PetscInt f = 0; f < nf; f++)
        for (PetscInt i = 0; i < nown; i++) {
          const size_t k = (size_t)j * nf * nown + (size_t)f * nown + i;
          x[(size_t)row * nf * nown + k] = (pfreal)((PetscRealPart(X[k]) - mc->mean[f]) / mc->std[f]);
        }
    row += rows;
    local[0] += st.acceptance * rows, local[1] += st.beta * rows, local[2] += rows;
  }
  /* the chains' means, counted once per group */
  PetscCallMPI(MPI_Comm_rank(ctx->gcomm, &grank));
  if (grank != 0) local[0] = local[1] = local[2] = 0;
  PetscCallMPI(MPI_Allreduce(local, global, 3, MPI_DOUBLE, MPI_SUM, comm));
  mc->acceptance = global[2] > 0 ? global[0] / global[2] : NAN;
  mc->beta       = global[2] > 0 ? global[1] / global[2] : NAN;
  PetscCall(PetscFree2(X, xi0));
  PetscCall(PetscFree(L));
  PetscFunctionReturn(PETSC_SUCCESS);
}
