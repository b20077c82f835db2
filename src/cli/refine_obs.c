/* sample -piddm_refine: the noise refinement of a one-step student
 * (include/physflow/refine.h) on the command line, with optional partial
 * observations taken from one sample of a PDE dataset (a solver sample with
 * known truth): which entries are observed is drawn per natural vertex
 * (keyed, so any layout sees the same sensors), with Gaussian noise in
 * units of each field's std. */
#include <math.h>
#include <string.h>
#include <physflow/meshdata.h>
#include <physflow/private/flowimpl.h>
#include <physflow/refine.h>
#include <physflow/rng.h>
#include "cli.h"

PetscErrorCode PFCLIRefineOptions(MPI_Comm comm, PFCLIRefine *r)
{
  char *names[PF_CLI_MAXFIELDS];

  PetscFunctionBegin;
  r->steps = 0, r->lr = 0.05, r->lambda = 1, r->prior = 1, r->obs_weight = 100;
  r->obs_index = 0, r->obs_fraction = 1, r->obs_noise = 0, r->obs_seed = 1, r->nobs_fields = PF_CLI_MAXFIELDS;
  r->obs_file[0] = 0;
  PetscOptionsBegin(comm, NULL, "One-step students: PIDDM noise refinement (sample -piddm_refine K)", "sample");
  PetscCall(PetscOptionsInt("-piddm_refine", "Adam steps on each sample's noise: lower the PDE residual of a one-step student's output (and fit -refine_obs)", "sample", r->steps, &r->steps, NULL));
  PetscCall(PetscOptionsReal("-refine_lr", "Adam step size on the noise", "sample", r->lr, &r->lr, NULL));
  PetscCall(PetscOptionsReal("-refine_lambda", "Weight of the residual (in the error norm: the distance to the solver's solution)", "sample", r->lambda, &r->lambda, NULL));
  PetscCall(PetscOptionsReal("-refine_prior", "Weight of the noise's Gaussian prior |z|^2/(2n)", "sample", r->prior, &r->prior, NULL));
  PetscCall(PetscOptionsString("-refine_obs", "Observe entries of a sample of this PDE dataset (forward, inverse, reconstruction tasks)", "sample", r->obs_file, r->obs_file, sizeof(r->obs_file), NULL));
  PetscCall(PetscOptionsInt("-refine_obs_index", "Which sample of -refine_obs", "sample", r->obs_index, &r->obs_index, NULL));
  PetscCall(PetscOptionsStringArray("-refine_obs_fields", "Observed fields (default: all), e.g. logK (forward problem) or p (inverse)", "sample", names, &r->nobs_fields, NULL));
  PetscCall(PetscOptionsReal("-refine_obs_fraction", "Fraction of the vertices observed", "sample", r->obs_fraction, &r->obs_fraction, NULL));
  PetscCall(PetscOptionsReal("-refine_obs_noise", "Observation noise, in units of each field's std", "sample", r->obs_noise, &r->obs_noise, NULL));
  PetscCall(PetscOptionsInt("-refine_obs_seed", "Seed of the observed vertices and their noise", "sample", r->obs_seed, &r->obs_seed, NULL));
  PetscCall(PetscOptionsReal("-refine_obs_weight", "Weight of the observation misfit", "sample", r->obs_weight, &r->obs_weight, NULL));
  PetscOptionsEnd();
  for (PetscInt f = 0; f < r->nobs_fields; f++) {
    PetscCall(PetscStrncpy(r->obs_fields[f], names[f], sizeof(r->obs_fields[f])));
    PetscCall(PetscFree(names[f]));
  }
  PetscCheck(r->steps >= 0 && r->lr > 0 && r->lambda >= 0 && r->prior >= 0 && r->obs_weight >= 0, comm, PETSC_ERR_ARG_OUTOFRANGE, "-piddm_refine must be >= 0, -refine_lr > 0 and the weights >= 0");
  PetscCheck(r->obs_fraction > 0 && r->obs_fraction <= 1 && r->obs_noise >= 0, comm, PETSC_ERR_ARG_OUTOFRANGE, "-refine_obs_fraction must be in (0, 1] and -refine_obs_noise >= 0");
  PetscCheck(!r->obs_file[0] || r->steps > 0, comm, PETSC_ERR_ARG_WRONG, "-refine_obs needs -piddm_refine K > 0");
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* mask and values [nf nown] of the observations (normalised units) */
static PetscErrorCode Observations(PFCLIMeshContext *ctx, const PFCLIRefine *r, const double mean[], const double std[], pfreal *mask, pfreal *y)
{
  PetscInt        nown, nf = ctx->nfields, nvert;
  const PetscInt *nat;
  PFMeshData      md;
  PFMesh          mesh;
  double         *row;
  PetscBool       any = PETSC_FALSE;

  PetscFunctionBegin;
  PetscCall(PFPhysicsGetVertexMap(ctx->phys, &nown, &nat));
  PetscCall(PFPhysicsGetMesh(ctx->phys, &mesh));
  PetscCall(PFMeshDataOpen(r->obs_file, &md));
  nvert = md.nvert;
  PetscCheck(nvert == mesh->nvert, PETSC_COMM_SELF, PETSC_ERR_ARG_INCOMP, "-refine_obs '%s' has %" PetscInt_FMT " vertices, the model's mesh %" PetscInt_FMT, r->obs_file, nvert, mesh->nvert);
  PetscCall(PetscMalloc1(nvert, &row));
  for (PetscInt f = 0; f < nf; f++) {
    PetscBool obs = r->nobs_fields == 0;
    for (PetscInt k = 0; k < r->nobs_fields; k++) obs = (PetscBool)(obs || !strcmp(r->obs_fields[k], ctx->fields[f]));
    for (PetscInt i = 0; i < nown; i++) mask[f * nown + i] = 0, y[f * nown + i] = 0;
    if (!obs) continue;
    any = PETSC_TRUE;
    PetscCall(PFMeshDataHasField(&md, ctx->fields[f], &obs));
    PetscCheck(obs, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED, "-refine_obs '%s' has no field '%s'", r->obs_file, ctx->fields[f]);
    PetscCheck(r->obs_index >= 0 && r->obs_index < md.nsamples, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "-refine_obs_index %" PetscInt_FMT " outside 0..%" PetscInt_FMT, r->obs_index, md.nsamples - 1);
    PetscCall(PFMeshDataReadRows(&md, ctx->fields[f], r->obs_index, 1, row));
    /* every rank reads the whole row: all of them fail together */
    for (PetscInt v = 0; v < nvert; v++) PetscCheck(isfinite(row[v]), PETSC_COMM_SELF, PETSC_ERR_FP, "-refine_obs '%s': sample %" PetscInt_FMT " has a non-finite %s", r->obs_file, r->obs_index, ctx->fields[f]);
    for (PetscInt i = 0; i < nown; i++) {
      PFRNG g;
      /* per natural vertex: sensor or not (shared by the fields), then noise */
      PFRNGInit(&g, (uint64_t)r->obs_seed, PF_RNG_OBS, (uint64_t)nat[i], 0);
      if (PFRNGUniform(&g) >= r->obs_fraction) continue;
      PFRNGInit(&g, (uint64_t)r->obs_seed, PF_RNG_OBS, (uint64_t)nat[i], (uint32_t)(f + 1));
      mask[f * nown + i] = 1;
      y[f * nown + i]    = (pfreal)((row[nat[i]] - mean[f]) / std[f] + r->obs_noise * PFRNGNormal(&g));
    }
  }
  PetscCheck(any, PETSC_COMM_SELF, PETSC_ERR_ARG_WRONG, "-refine_obs_fields names none of the model's fields");
  PetscCall(PetscFree(row));
  PetscCall(PFMeshDataClose(&md));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFCLIRefineSample(PFCLIMeshContext *ctx, PFNet net, PFFlow flow, const PFCLIRefine *r, const double mean[], const double std[], uint64_t seed, PetscInt lo, PetscInt nloc, PetscInt chunk, pfreal *x)
{
  const PetscInt n = net->nin;
  PFConstraint   c;
  PFRefineParams p = {r->steps, r->lr, r->lambda, r->obs_weight, r->prior, NULL, NULL};
  pfreal        *z, *mask = NULL, *y = NULL;
  double         sum[3] = {0, 0, 0};

  PetscFunctionBegin;
  PetscCall(PFConstraintCreate(ctx->gcomm, &c));
  PetscCall(PFConstraintSetPhysics(c, ctx->phys, mean, std));
  PetscCall(PFConstraintSetFromOptions(c));
  PetscCall(PFConstraintSetDefaultNorm(c, PF_NORM_ERROR, 0));
  if (r->obs_file[0]) {
    PetscCall(PetscMalloc2(n, &mask, n, &y));
    PetscCall(Observations(ctx, r, mean, std, mask, y));
    p.mask = mask, p.y = y;
  }
  PetscCall(PetscMalloc1((size_t)nloc * n + 1, &z));
  for (PetscInt j = 0; j < nloc; j++) PFFlowNoise(flow, seed, PF_RNG_SAMPLE_X0, (uint64_t)(lo + j), n, z + (size_t)j * n);
  for (PetscInt b0 = 0; b0 < nloc; b0 += chunk) {
    PetscInt nb = PetscMin(chunk, nloc - b0);
    double   L[2];
    PetscCall(PFRefineNoise(c, net, nb, &p, z + (size_t)b0 * n, x + (size_t)b0 * n, L));
    sum[0] += L[0] * nb, sum[1] += L[1] * nb, sum[2] += nb;
  }
  /* groups sampled different samples: the mean over all of them */
  {
    PetscMPIInt grank;
    PetscCallMPI(MPI_Comm_rank(ctx->gcomm, &grank));
    if (grank) sum[0] = sum[1] = sum[2] = 0;
    PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, sum, 3, MPI_DOUBLE, MPI_SUM, PETSC_COMM_WORLD));
  }
  PetscCall(PetscPrintf(PETSC_COMM_WORLD, "physflow sample: PIDDM refinement, %" PetscInt_FMT " Adam steps on the noise%s: objective %.4e -> %.4e (mean over %g samples)\n", r->steps, r->obs_file[0] ? " with observations" : "", sum[0] / PetscMax(sum[2], 1), sum[1] / PetscMax(sum[2], 1), sum[2]));
  PetscCall(PetscFree(z));
  PetscCall(PetscFree2(mask, y));
  PetscCall(PFConstraintDestroy(&c));
  PetscFunctionReturn(PETSC_SUCCESS);
}
