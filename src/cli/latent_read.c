/* Reading the latent predictor phi (physflow latent) for a model of the
 * state fields alone: infer -infer_type latent and finetune -latent. */
#include <physflow/h5util.h>
#include "cli.h"

PetscErrorCode PFCLILatentRead(PFCLIMeshContext *ctx, const char path[], const char model[], PFLatent *lt, double imean[], double istd[])
{
  PetscInt           nphys, nin, nown;
  const char *const *names;
  hid_t              fid;
  char               src[PETSC_MAX_PATH_LEN];

  PetscFunctionBegin;
  PetscCall(PFPhysicsGetFields(ctx->phys, &nphys, &names, &nin));
  PetscCheck(ctx->nfields == nphys - nin, ctx->gcomm, PETSC_ERR_ARG_WRONG, "a latent predictor goes with a model of the state fields only; '%s' generates %" PetscInt_FMT " field(s)", model, ctx->nfields);
  for (PetscInt f = 0; f < ctx->nfields; f++) PetscCheck(!strcmp(ctx->fields[f], names[nin + f]), ctx->gcomm, PETSC_ERR_ARG_WRONG, "'%s' generates '%s' where the state field '%s' is expected", model, ctx->fields[f], names[nin + f]);
  PetscCall(PFH5OpenRead(path, &fid));
  PetscCall(PFH5CheckKind(fid, path, "latent"));
  PetscCall(PFNetMeshCreateFromH5(ctx->gcomm, fid, path, "params", ctx->graph, &lt->phi));
  PetscCall(PFH5ReadArray(fid, path, "latent/input_mean", H5T_NATIVE_DOUBLE, (size_t)nin, imean));
  PetscCall(PFH5ReadArray(fid, path, "latent/input_std", H5T_NATIVE_DOUBLE, (size_t)nin, istd));
  {
    hid_t g = H5Gopen2(fid, "latent", H5P_DEFAULT);
    PetscCheck(g >= 0, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED, "'%s' has no /latent", path);
    PetscCall(PFH5ReadAttrString(g, "model", src, sizeof(src)));
    H5Gclose(g);
  }
  PetscCall(PFH5Close(&fid));
  PetscCall(PetscInfo(NULL, "predictor '%s' was trained on samples of '%s'\n", path, src));
  PetscCall(PFPhysicsGetVertexMap(ctx->phys, &nown, NULL));
  lt->nstate = ctx->nfields, lt->ninputs = nin, lt->nown = nown, lt->phys = ctx->phys;
  PetscFunctionReturn(PETSC_SUCCESS);
}
