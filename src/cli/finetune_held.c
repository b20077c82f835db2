/* physflow finetune of a model conditioned on some of its own fields
 * (train -condition field -cond_fields Re): adjoint matching with those
 * fields given, not generated.  Each fine-tuning trajectory draws its given
 * values uniformly in -cond_range lo,hi (physical units), which may lie
 * outside the range the model was trained on: the transfer of one base
 * model to new regimes by the physics alone (Tauberschmidt et al. 2025). */
#include <physflow/constraint.h>
#include <math.h>
#include <string.h>
#include "cli.h"

PetscErrorCode PFCLIMeshFinetuneHeldOptions(PFCLIMeshContext *ctx, MPI_Comm comm, const char model[])
{
  char      list[PF_CLI_MAXFIELDS * 65];
  PetscInt  n = 2 * PF_CLI_MAXFIELDS;
  PetscBool set;

  PetscFunctionBegin;
  PetscCall(PFCLIPeek(comm, model, "data", "cond_fields", NULL, list, sizeof(list)));
  PetscCheck(list[0], comm, PETSC_ERR_FILE_UNEXPECTED, "'%s' records no given fields (/data cond_fields)", model);
  ctx->nheld = 0;
  for (char *tok = strtok(list, ","); tok && ctx->nheld < PF_CLI_MAXFIELDS; tok = strtok(NULL, ",")) PetscCall(PetscStrncpy(ctx->held[ctx->nheld++], tok, sizeof(ctx->held[0])));
  PetscOptionsBegin(comm, NULL, "physflow finetune of a model conditioned on its fields", "finetune");
  PetscCall(PetscOptionsRealArray("-cond_range", "lo,hi of each given field (e.g. Re) for the fine-tuning trajectories, uniform; may lie outside the trained range", "finetune", ctx->cond_range, &n, &set));
  PetscOptionsEnd();
  ctx->ncond_range = set ? n : 0;
  if (!set) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCheck(n == 2 * ctx->nheld, comm, PETSC_ERR_ARG_WRONG, "-cond_range needs %" PetscInt_FMT " values (lo,hi for each given field), got %" PetscInt_FMT, 2 * ctx->nheld, n);
  for (PetscInt k = 0; k < ctx->nheld; k++)
    PetscCheck(PetscIsNormalReal(ctx->cond_range[2 * k] + 1) && PetscIsNormalReal(ctx->cond_range[2 * k + 1] + 1) && ctx->cond_range[2 * k] <= ctx->cond_range[2 * k + 1], comm, PETSC_ERR_ARG_OUTOFRANGE, "-cond_range: lo <= hi, both finite");
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* the given fields of trajectory b of iteration it: one uniform draw per
 * field, keyed by (seed, it, b), constant over the mesh, normalised; and
 * the model's pinned vertex values */
static PetscErrorCode FillHeld(void *vctx, PetscInt it, PetscInt b, pfreal *x)
{
  PFCLIMeshContext *ctx = (PFCLIMeshContext *)vctx;
  PetscInt          nown;

  PetscFunctionBegin;
  PetscCall(PFPhysicsGetVertexMap(ctx->phys, &nown, NULL));
  if (ctx->pinval)
    for (PetscInt c = 0; c < ctx->nfields * nown; c++)
      if (isfinite((double)ctx->pinval[c])) x[c] = ctx->pinval[c];
  for (PetscInt k = 0; k < ctx->nheld; k++) {
    PFRNG          r;
    const PetscInt f  = ctx->held_index[k];
    const double   lo = ctx->cond_range[2 * k], hi = ctx->cond_range[2 * k + 1];
    double         v;
    PFRNGInit(&r, ctx->held_seed + 5, PF_RNG_SAMPLE_X0, (uint64_t)it * 1000003u + (uint64_t)b, (uint32_t)(7919 + k));
    v = lo + (hi - lo) * PFRNGUniform(&r);
    for (PetscInt i = 0; i < nown; i++) x[f * nown + i] = (pfreal)((v - ctx->held_mean[k]) / ctx->held_std[k]);
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFCLIMeshFinetuneHeldSetUp(PFCLIMeshContext *ctx, PFConstraint c, const double mean[], const double std[], uint64_t seed)
{
  PetscInt nown, F = ctx->nfields;

  PetscFunctionBegin;
  if (!ctx->nheld && !ctx->pinval) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCheck(!ctx->nheld || ctx->ncond_range, ctx->gcomm, PETSC_ERR_ARG_WRONG, "the model is conditioned on %s: give the values to fine-tune for with -cond_range lo,hi", ctx->held[0]);
  PetscCall(PFPhysicsGetVertexMap(ctx->phys, &nown, NULL));
  PetscCall(PetscCalloc1(F * nown + 1, &ctx->heldmask));
  if (ctx->pinval)
    for (PetscInt c = 0; c < F * nown; c++) ctx->heldmask[c] = (PetscBool)isfinite((double)ctx->pinval[c]);
  for (PetscInt k = 0; k < ctx->nheld; k++) {
    const PetscInt f = PFCLIMeshFieldIndex(ctx, ctx->held[k]);
    PetscCheck(f >= 0, ctx->gcomm, PETSC_ERR_FILE_UNEXPECTED, "the model's given field '%s' is not among its fields", ctx->held[k]);
    ctx->held_index[k] = f;
    ctx->held_mean[k]  = mean[f];
    ctx->held_std[k]   = std[f];
    for (PetscInt i = 0; i < nown; i++) ctx->heldmask[f * nown + i] = PETSC_TRUE;
  }
  ctx->held_seed = seed;
  PetscCall(PFConstraintSetHeld(c, ctx->heldmask, FillHeld, ctx));
  PetscFunctionReturn(PETSC_SUCCESS);
}
