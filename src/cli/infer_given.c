/* physflow infer -infer_type conditional with a model conditioned on one of
 * its own fields (train -condition field -cond_fields Re): the posterior of
 * that field's value (e.g. the Reynolds number) and of the flow, from
 * sparse noisy observations of another field (e.g. velocity probes).
 *
 * Given the value, the conditional model is a fast surrogate of the solver
 * (a steady flow is a function of Re), so the posterior of the value is
 * one-dimensional: on a grid of M points of its uniform prior range
 * [-cond_range lo, hi], the likelihood of the observations under the
 * model's flow at each point (the grid split over the rank groups); the
 * posterior samples then draw the value from the gridded posterior
 * (piecewise constant on the cells around the grid points, sample j keyed
 * by (seed, j)) and the flow from the model at that value.  The
 * observation noise may be inflated by the surrogate's own error
 * (-infer_model_sigma, added in quadrature). */
#include <math.h>
#include <physflow/obs.h>
#include <physflow/rng.h>
#include "cli.h"
#include "infer_given.h"

/* the log-likelihood of the observations under the flows x[nloc] (their
 * observed field f, normalised) */
static PetscErrorCode LogLikelihood(const PFCLIInferGiven *ig, PetscInt nloc, const pfreal *x, double ll[])
{
  PFCLIMeshContext *ctx = ig->ctx;
  const PFObs      *o   = ig->obs;
  PetscInt          nown, F = ctx->nfields;
  PetscScalar      *col;
  double           *y, s2 = o->sigma * o->sigma + ig->model_sigma * ig->model_sigma;

  PetscFunctionBegin;
  PetscCall(PFPhysicsGetVertexMap(ctx->phys, &nown, NULL));
  PetscCall(PetscMalloc2(nown + 1, &col, o->nobs, &y));
  for (PetscInt j = 0; j < nloc; j++) {
    const pfreal *xf = x + ((size_t)j * F + ig->field) * nown;
    for (PetscInt i = 0; i < nown; i++) col[i] = (double)xf[i] * ig->std[ig->field] + ig->mean[ig->field];
    PetscCall(PFObsOperatorApply(ig->H, col, y));
    ll[j] = 0;
    for (PetscInt k = 0; k < o->nobs; k++) ll[j] -= 0.5 * (y[k] - o->values[k]) * (y[k] - o->values[k]) / s2;
  }
  PetscCall(PetscFree2(col, y));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* the given field of the nloc states x set to the normalised values v[] */
static PetscErrorCode SetGiven(const PFCLIInferGiven *ig, PetscInt nloc, const double v[], pfreal *x)
{
  PetscInt nown, F = ig->ctx->nfields;

  PetscFunctionBegin;
  PetscCall(PFPhysicsGetVertexMap(ig->ctx->phys, &nown, NULL));
  for (PetscInt j = 0; j < nloc; j++)
    for (PetscInt i = 0; i < nown; i++) x[((size_t)j * F + ig->given) * nown + i] = (pfreal)((v[j] - ig->mean[ig->given]) / ig->std[ig->given]);
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFCLIInferGivenSample(PFCLIInferGiven *ig, MPI_Comm comm, PetscInt gid, PetscInt G, PetscInt lo, PetscInt nloc, pfreal *x)
{
  PFCLIMeshContext *ctx = ig->ctx;
  const PetscInt    M   = ig->M;
  const double      a = ig->range[0], b = ig->range[1], h = M > 1 ? (b - a) / (double)(M - 1) : 0;
  PetscInt          nown, F = ctx->nfields, g0, g1, nfe;
  PetscMPIInt       grank;
  double           *ll, *v, *cdf, lmax = -INFINITY;
  pfreal           *xg;

  PetscFunctionBegin;
  PetscCall(PFPhysicsGetVertexMap(ctx->phys, &nown, NULL));
  PetscCallMPI(MPI_Comm_rank(ctx->gcomm, &grank));
  /* 1. the likelihood on the grid: this group's share of the points, the
   *    model's flow at each (noise keyed apart from the samples') */
  g0 = (PetscInt)(((PetscInt64)gid * M) / G);
  g1 = (PetscInt)(((PetscInt64)(gid + 1) * M) / G);
  PetscCall(PetscCalloc3(M, &ll, PetscMax(M, nloc) + 1, &v, M + 1, &cdf));
  PetscCall(PetscMalloc1((size_t)(g1 - g0) * F * nown + 1, &xg));
  for (PetscInt m = g0; m < g1; m++) v[m - g0] = a + h * (double)m;
  PetscCall(SetGiven(ig, g1 - g0, v, xg));
  PetscCall(PFFlowSample(ig->flow, ig->net, ig->sampler, (uint64_t)ig->seed + 7717, g0, g1 - g0, xg, &nfe));
  PetscCall(LogLikelihood(ig, g1 - g0, xg, ll + g0));
  PetscCall(PetscFree(xg));
  /* every rank of a group holds its points' values: the group leaders' sum */
  if (grank != 0)
    for (PetscInt m = g0; m < g1; m++) ll[m] = 0;
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, ll, (PetscMPIInt)M, MPI_DOUBLE, MPI_SUM, comm));
  for (PetscInt m = 0; m < M; m++) lmax = PetscMax(lmax, ll[m]);
  PetscCheck(isfinite(lmax), comm, PETSC_ERR_FP, "the likelihood of the observations is not finite on the grid of %s", ctx->fields[ig->given]);
  /* 2. the gridded posterior: cell m around grid point m (half cells at the ends) */
  for (PetscInt m = 0; m < M; m++) cdf[m + 1] = cdf[m] + exp(ll[m] - lmax) * (M > 1 && (m == 0 || m == M - 1) ? 0.5 : 1);
  ig->post_mean = ig->post_std = 0;
  for (PetscInt m = 0; m < M; m++) {
    double w = (cdf[m + 1] - cdf[m]) / cdf[M], vm = a + h * (double)m;
    ig->post_mean += w * vm;
    ig->post_std += w * vm * vm;
  }
  /* (+ the spread within a cell, h^2/12, as the samples draw it) */
  ig->post_std = sqrt(PetscMax(ig->post_std - ig->post_mean * ig->post_mean, 0) + h * h / 12);
  /* 3. the samples: a value from the gridded posterior, the flow at it */
  for (PetscInt j = 0; j < nloc; j++) {
    PFRNG    r;
    double   u;
    PetscInt m = 0;
    PFRNGInit(&r, (uint64_t)ig->seed, PF_RNG_SAMPLE_X0, (uint64_t)(lo + j), 0x6976u);
    u = PFRNGUniform(&r) * cdf[M];
    while (m < M - 1 && cdf[m + 1] < u) m++;
    /* uniform within the cell [vm - h/2, vm + h/2], clipped to the prior range */
    v[j] = PetscMin(b, PetscMax(a, a + h * (double)m + h * (PFRNGUniform(&r) - 0.5)));
  }
  PetscCall(SetGiven(ig, nloc, v, x));
  PetscCall(PFFlowSample(ig->flow, ig->net, ig->sampler, (uint64_t)ig->seed, lo, nloc, x, &nfe));
  PetscCall(PetscFree3(ll, v, cdf));
  PetscFunctionReturn(PETSC_SUCCESS);
}
