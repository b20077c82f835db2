/* Wiring of the domain-decomposed mesh models (train and sample on PDE
 * datasets): MPI_COMM_WORLD = G groups x P ranks (-pf_group_size P, default
 * all ranks in one group); each group distributes the data's mesh over its
 * ranks (PFPhysics), the mesh network works on the owned vertices, groups
 * take different samples of each batch, and one allreduce over the world
 * sums the gradient. */
#include <physflow/meshgraph.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <physflow/h5util.h>
#include "cli.h"

/* The physics of a dataset (root attribute "physics") or of a model (the
 * attribute its /data description copied from its training data) */
static PetscErrorCode PhysicsOf(MPI_Comm comm, const char path[], char type[], size_t len)
{
  PetscFunctionBegin;
  PetscCall(PFCLIPeek(comm, path, ".", "physics", NULL, type, len));
  if (!type[0]) PetscCall(PFCLIPeek(comm, path, "data", "physics", NULL, type, len));
  if (!type[0]) PetscCall(PetscStrncpy(type, PFPHYSICSDARCY, len));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFCLIMeshContextCreate(MPI_Comm world, const char datafile[], PFCLIMeshContext *ctx)
{
  char type[32] = PFPHYSICSDARCY;

  PetscMPIInt wrank, wsize;
  PetscInt    P;
  char       *names[PF_CLI_MAXFIELDS];

  PetscFunctionBegin;
  PetscCall(PetscMemzero(ctx, sizeof(*ctx)));
  PetscCallMPI(MPI_Comm_rank(world, &wrank));
  PetscCallMPI(MPI_Comm_size(world, &wsize));
  P            = wsize;
  ctx->nfields = PF_CLI_MAXFIELDS;
  PetscOptionsBegin(world, NULL, "Mesh (PDE field) models", "train");
  PetscCall(PetscOptionsInt("-pf_group_size", "Ranks per group (domain decomposition); groups split the batch", "train", P, &P, NULL));
  PetscCall(PetscOptionsStringArray("-fields", "Fields of the dataset to model (default: all of the physics)", "train", names, &ctx->nfields, NULL));
  PetscOptionsEnd();
  PetscCheck(P >= 1 && wsize % P == 0, world, PETSC_ERR_ARG_INCOMP, "-pf_group_size %" PetscInt_FMT " must divide the number of ranks (%d)", P, wsize);
  for (PetscInt f = 0; f < ctx->nfields; f++) {
    PetscCall(PetscStrncpy(ctx->fields[f], names[f], sizeof(ctx->fields[f])));
    PetscCall(PetscFree(names[f]));
  }
  ctx->G   = wsize / P;
  ctx->gid = wrank / P;
  PetscCallMPI(MPI_Comm_split(world, (PetscMPIInt)ctx->gid, wrank, &ctx->gcomm));
  if (datafile && datafile[0]) {
    PetscCall(PFCLIProblemOptionsFromFile(world, datafile));
    PetscCall(PhysicsOf(world, datafile, type, sizeof(type)));
  }
  PetscCall(PFPhysicsCreate(ctx->gcomm, &ctx->phys));
  PetscCall(PFPhysicsSetType(ctx->phys, type));
  PetscCall(PFPhysicsSetFromOptions(ctx->phys));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFCLIMeshContextSetUp(PFCLIMeshContext *ctx)
{
  PFMesh mesh;

  PetscFunctionBegin;
  PetscCall(PFPhysicsSetUp(ctx->phys));
  PetscCall(PFPhysicsGetMesh(ctx->phys, &mesh));
  PetscCall(PFMeshGraphCreate(mesh, &ctx->graph));
  if (ctx->nfields == 0) {
    const char *const *names;
    PetscCall(PFPhysicsGetFields(ctx->phys, &ctx->nfields, &names, NULL));
    for (PetscInt f = 0; f < ctx->nfields; f++) PetscCall(PetscStrncpy(ctx->fields[f], names[f], sizeof(ctx->fields[f])));
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFCLIMeshConditionOptions(MPI_Comm comm, PFCLIMeshContext *ctx)
{
  char      cond[64] = "none";
  PetscInt  n        = 2;
  PetscBool set;

  PetscFunctionBegin;
  ctx->cond_nobs[0] = 16, ctx->cond_nobs[1] = 64, ctx->cond_noise = 0.01;
  PetscCall(PetscStrncpy(ctx->cond_field, "p", sizeof(ctx->cond_field)));
  char     *names[PF_CLI_MAXFIELDS];
  PetscInt  nn = PF_CLI_MAXFIELDS;

  PetscOptionsBegin(comm, NULL, "Conditional models (physflow infer -infer_type conditional; sample -cond_value)", "train");
  PetscCall(PetscOptionsString("-condition", "none; obs: condition the model on sparse noisy sensors of one field (random sensor sets during training); field: on some of its own fields (-cond_fields), given when sampling; a field's name (e.g. Re): on that field", "train", cond, cond, sizeof(cond), NULL));
  PetscCall(PetscOptionsStringArray("-cond_fields", "-condition field: the fields that are given, not generated (e.g. Re)", "train", names, &nn, NULL));
  PetscCall(PetscOptionsString("-cond_field", "-condition obs: the observed field", "train", ctx->cond_field, ctx->cond_field, sizeof(ctx->cond_field), NULL));
  PetscCall(PetscOptionsIntArray("-cond_nobs", "-condition obs: sensors per training sample, min,max (uniform)", "train", ctx->cond_nobs, &n, &set));
  PetscCall(PetscOptionsReal("-cond_noise", "-condition obs: std of the training observations' noise (field units)", "train", ctx->cond_noise, &ctx->cond_noise, NULL));
  {
    char enc[16] = "voronoi";
    PetscCall(PetscOptionsString("-cond_encoding", "-condition obs: voronoi (every vertex: its nearest sensor's value and distance) or point (the sensors' interpolation weights)", "train", enc, enc, sizeof(enc), NULL));
    PetscCheck(!strcmp(enc, "voronoi") || !strcmp(enc, "point"), comm, PETSC_ERR_ARG_UNKNOWN_TYPE, "unknown -cond_encoding '%s' (available: voronoi, point)", enc);
    ctx->cond_voronoi = (PetscBool)!strcmp(enc, "voronoi");
  }
  PetscCall(PetscOptionsInt("-cond_kalman", "-condition obs: N > 0 adds the ensemble Kalman (linear MMSE) estimate of every field from the sensors as input channels, from N samples of -cond_kalman_data (0: off)", "train", ctx->cond_kalman, &ctx->cond_kalman, NULL));
  PetscCall(PetscOptionsString("-cond_kalman_data", "-condition obs -cond_kalman N: the ensemble's dataset (default: the training data; recorded in the model, which infer reads)", "train", ctx->cond_kalman_data, ctx->cond_kalman_data, sizeof(ctx->cond_kalman_data), NULL));
  PetscCall(PetscOptionsBool("-cond_kalman_adjoint", "-condition obs -cond_kalman N: also the PDE's view of that estimate as input channels, the forward solve's state at its inputs and the sensor misfit's gradient with respect to them (one forward and one adjoint solve per sensor set)", "train", ctx->cond_kalman_adjoint, &ctx->cond_kalman_adjoint, NULL));
  PetscCall(PetscOptionsBool("-pin_constant", "Hold the vertex values that are the same in every training sample (e.g. Dirichlet boundary data) fixed: given, not generated, so every sample has them exactly", "train", ctx->pin_constant, &ctx->pin_constant, NULL));
  PetscOptionsEnd();
  if (set && n == 1) ctx->cond_nobs[1] = ctx->cond_nobs[0];
  for (PetscInt f = 0; f < nn; f++) {
    PetscCall(PetscStrncpy(ctx->held[f], names[f], sizeof(ctx->held[f])));
    PetscCall(PetscFree(names[f]));
  }
  if (strcmp(cond, "none") && strcmp(cond, "obs") && strcmp(cond, "field")) {
    /* -condition Re: short for -condition field -cond_fields Re */
    PetscBool known = PETSC_FALSE;
    if (ctx->phys) {
      const char *const *pn;
      PetscInt           np;
      PetscCall(PFPhysicsGetFields(ctx->phys, &np, &pn, NULL));
      for (PetscInt f = 0; f < np; f++) known = (PetscBool)(known || !strcmp(pn[f], cond));
    }
    PetscCheck(known, comm, PETSC_ERR_ARG_UNKNOWN_TYPE, "unknown -condition '%s' (available: none, obs, field, or one of the data's fields)", cond);
    PetscCheck(nn == 0 || (nn == 1 && !strcmp(ctx->held[0], cond)), comm, PETSC_ERR_ARG_WRONG, "-condition %s and -cond_fields disagree", cond);
    PetscCall(PetscStrncpy(ctx->held[0], cond, sizeof(ctx->held[0])));
    nn = 1;
    PetscCall(PetscStrncpy(cond, "field", sizeof(cond)));
  }
  ctx->nheld = strcmp(cond, "field") ? 0 : nn;
  PetscCheck(strcmp(cond, "field") || nn > 0, comm, PETSC_ERR_ARG_WRONG, "-condition field needs the given fields: -cond_fields Re");
  ctx->ncond = strcmp(cond, "obs") ? 0 : 2;
  PetscCheck(!ctx->ncond || (ctx->cond_nobs[0] >= 1 && ctx->cond_nobs[1] >= ctx->cond_nobs[0]), comm, PETSC_ERR_ARG_OUTOFRANGE, "-cond_nobs min,max needs 1 <= min <= max");
  PetscCheck(ctx->cond_kalman >= 0, comm, PETSC_ERR_ARG_OUTOFRANGE, "-cond_kalman must be >= 0 (ensemble members; 0: off)");
  PetscCheck(!ctx->cond_kalman || ctx->ncond, comm, PETSC_ERR_ARG_WRONG, "-cond_kalman needs -condition obs");
  PetscCheck(!ctx->cond_kalman_adjoint || ctx->cond_kalman, comm, PETSC_ERR_ARG_WRONG, "-cond_kalman_adjoint needs -cond_kalman N");
  PetscCheck(!ctx->ncond || (ctx->cond_noise > 0 && isfinite(ctx->cond_noise)), comm, PETSC_ERR_ARG_OUTOFRANGE, "-cond_noise must be positive");
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFCLIMeshContextDestroy(PFCLIMeshContext *ctx)
{
  PetscFunctionBegin;
  if (ctx->oc) PetscCall(PFObsConditionerDestroy(ctx->oc));
  if (ctx->kalman.N) PetscCall(PFKalmanDestroy(&ctx->kalman));
  PetscCall(PetscFree(ctx->oc));
  PetscCall(PetscFree(ctx->heldmask));
  PetscCall(PetscFree(ctx->pin_phys));
  PetscCall(PetscFree(ctx->pinval));
  PetscCall(PFMeshGraphDestroy(&ctx->graph));
  PetscCall(PFPhysicsDestroy(&ctx->phys));
  if (ctx->gcomm != MPI_COMM_NULL && ctx->gcomm) PetscCallMPI(MPI_Comm_free(&ctx->gcomm));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscInt PFCLIMeshFieldIndex(const PFCLIMeshContext *ctx, const char name[])
{
  for (PetscInt g = 0; g < ctx->nfields; g++)
    if (!strcmp(ctx->fields[g], name)) return g;
  return -1;
}

/* The index of each held field (-condition field) among the modelled fields */
static PetscErrorCode HeldFieldIndex(PFCLIMeshContext *ctx, PetscInt k, PetscInt *f)
{
  PetscFunctionBegin;
  *f = PFCLIMeshFieldIndex(ctx, ctx->held[k]);
  PetscCheck(*f >= 0, ctx->gcomm, PETSC_ERR_ARG_WRONG, "-cond_fields: '%s' is not one of the modelled fields", ctx->held[k]);
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* -condition field: records the held fields in the model's /data */
static PetscErrorCode WriteHeldFields(void *vctx, hid_t g)
{
  PFCLIMeshContext *ctx = (PFCLIMeshContext *)vctx;
  char              list[PF_CLI_MAXFIELDS * 65] = "";

  PetscFunctionBegin;
  for (PetscInt k = 0; k < ctx->nheld; k++) {
    PetscCall(PetscStrlcat(list, k ? "," : "", sizeof(list)));
    PetscCall(PetscStrlcat(list, ctx->held[k], sizeof(list)));
  }
  PetscCall(PFH5WriteAttrString(g, "condition", "field"));
  PetscCall(PFH5WriteAttrString(g, "cond_fields", list));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* noise keys of the local components (field f, owned vertex i); held:
 * the conditioning channels (after the fields), the given fields and the
 * pinned vertex values */
PetscErrorCode PFCLIMeshFlowSetUp(PFCLIMeshContext *ctx, PFFlow flow, const double mean[], const double std[])
{
  PetscInt        n, *keys, F = ctx->nfields + ctx->ncond, nvert = 0;
  const PetscInt *nat;

  PetscFunctionBegin;
  PetscCall(PFPhysicsGetVertexMap(ctx->phys, &n, &nat));
  PetscCall(PetscMalloc1(F * n + 1, &keys));
  for (PetscInt f = 0; f < F; f++)
    for (PetscInt i = 0; i < n; i++) keys[f * n + i] = nat[i] * F + f;
  PetscCall(PFFlowSetComponentKeys(flow, F * n, keys));
  PetscCall(PetscFree(keys));
  PetscCall(PetscFree(ctx->pinval));
  if (ctx->pin_phys) {
    PFMesh mesh;
    PetscCall(PFPhysicsGetMesh(ctx->phys, &mesh));
    nvert = mesh->nvert;
    PetscCall(PetscMalloc1(F * n + 1, &ctx->pinval));
    for (PetscInt c = 0; c < F * n; c++) ctx->pinval[c] = (pfreal)NAN;
    for (PetscInt f = 0; f < ctx->nfields; f++)
      for (PetscInt i = 0; i < n; i++) {
        const double v = ctx->pin_phys[(size_t)f * nvert + nat[i]];
        if (isfinite(v)) ctx->pinval[f * n + i] = (pfreal)((v - mean[f]) / std[f]);
      }
  }
  if (ctx->ncond || ctx->nheld || ctx->pinval) {
    PetscBool *held;
    PetscCall(PetscMalloc1(F * n + 1, &held));
    for (PetscInt c = 0; c < F * n; c++) held[c] = (PetscBool)(c >= ctx->nfields * n || (ctx->pinval && isfinite((double)ctx->pinval[c])));
    for (PetscInt k = 0; k < ctx->nheld; k++) {
      PetscInt f;
      PetscCall(HeldFieldIndex(ctx, k, &f));
      for (PetscInt i = 0; i < n; i++) held[f * n + i] = PETSC_TRUE;
    }
    PetscCall(PFFlowSetHeldComponents(flow, F * n, held));
    PetscCall(PFFlowSetPinnedValues(flow, F * n, ctx->pinval));
    PetscCall(PetscFree(held));
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFCLIMeshReadPinned(PFCLIMeshContext *ctx, hid_t fid, const char model[])
{
  PFMesh mesh;

  PetscFunctionBegin;
  PetscCall(PetscFree(ctx->pin_phys));
  if (H5Lexists(fid, "data", H5P_DEFAULT) <= 0 || H5Lexists(fid, "data/pinned", H5P_DEFAULT) <= 0) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCall(PFPhysicsGetMesh(ctx->phys, &mesh));
  PetscCall(PetscMalloc1((size_t)ctx->nfields * mesh->nvert + 1, &ctx->pin_phys));
  PetscCall(PFH5ReadArray(fid, model, "data/pinned", H5T_NATIVE_DOUBLE, (size_t)ctx->nfields * mesh->nvert, ctx->pin_phys));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFCLIMeshTrainSetUp(PFCLIMeshContext *ctx, const char datafile[], PFNet net, PFFlow flow, PFTrainer tr, uint64_t seed, PFData *data)
{
  PetscInt           n;
  const PetscInt    *nat;
  const PetscScalar *mass;
  const char        *names[PF_CLI_MAXFIELDS];
  pfreal            *w;
  double             M;

  PetscFunctionBegin;
  PetscCheck(PFNetIsMesh(net), ctx->gcomm, PETSC_ERR_ARG_WRONG, "'%s' holds fields on a mesh: train them with -net_type %s or %s (not %s)", datafile, PFNETMESHUNET, PFNETMESH, net->type);
  PetscCall(PFCLIMeshContextSetUp(ctx));
  PetscCall(PFPhysicsGetVertexMap(ctx->phys, &n, &nat));
  PetscCall(PFPhysicsGetVertexMass(ctx->phys, &mass));
  for (PetscInt f = 0; f < ctx->nfields; f++) names[f] = ctx->fields[f];
  PetscCall(PFDataCreateMesh(ctx->gcomm, datafile, ctx->nfields, names, n, nat, seed, data));
  /* the loss is the mass-weighted mean over the domain and the fields: an
   * integral, independent of the mesh */
  PetscCall(PFPhysicsGetDomainMeasure(ctx->phys, &M));
  if (ctx->ncond) {
    /* random sensor sets of the observed field, encoded after the fields */
    PFDataConditioner dc;
    const double     *mean, *std;
    PFObsConditioner *oc;
    const PetscInt    field = PFCLIMeshFieldIndex(ctx, ctx->cond_field);
    PetscCheck(field >= 0, ctx->gcomm, PETSC_ERR_ARG_WRONG, "-cond_field '%s' is not one of the modelled fields", ctx->cond_field);
    PetscCall(PFDataGetNormalization(*data, NULL, &mean, &std));
    if (ctx->cond_kalman) {
      char abs[PATH_MAX];
      if (!ctx->cond_kalman_data[0]) PetscCall(PetscStrncpy(ctx->cond_kalman_data, datafile, sizeof(ctx->cond_kalman_data)));
      /* recorded absolute: infer may run elsewhere */
      if (realpath(ctx->cond_kalman_data, abs)) PetscCall(PetscStrncpy(ctx->cond_kalman_data, abs, sizeof(ctx->cond_kalman_data)));
      PetscCall(PFKalmanCreate(ctx->gcomm, ctx->cond_kalman_data, ctx->cond_kalman, ctx->nfields, names, n, nat, mean, std, &ctx->kalman));
      ctx->ncond = 2 + ctx->nfields;
      if (ctx->cond_kalman_adjoint) {
        PetscCall(PFKalmanSetPhysics(&ctx->kalman, ctx->phys, names));
        ctx->ncond += ctx->nfields;
      }
    }
    dc = (PFDataConditioner){ctx->ncond, PFObsConditionerFill, PFObsConditionerWrite, NULL};
    PetscCall(PetscNew(&ctx->oc));
    oc = ctx->oc;
    oc->phys = ctx->phys, oc->field = field, oc->nown = n, oc->seed = seed;
    oc->nobs_min = ctx->cond_nobs[0], oc->nobs_max = ctx->cond_nobs[1], oc->noise = ctx->cond_noise;
    oc->mean = mean[field], oc->std = std[field];
    oc->voronoi = ctx->cond_voronoi;
    if (ctx->cond_kalman) oc->kalman = &ctx->kalman, oc->kalman_data = ctx->cond_kalman_data, oc->kalman_adjoint = ctx->cond_kalman_adjoint;
    if (oc->voronoi) {
      /* the network's vertex order is the physics': its coordinates */
      for (PetscInt i = 0; i < n; i++) PetscCheck(ctx->graph->ownnat[i] == nat[i], PETSC_COMM_SELF, PETSC_ERR_PLIB, "mesh graph and physics order the owned vertices differently");
      oc->area = M;
      oc->xy   = ctx->graph->xy;
    }
    PetscCall(PetscStrncpy(oc->fieldname, ctx->cond_field, sizeof(oc->fieldname)));
    PetscCall(PFObsConditionerSetUp(oc));
    dc.ctx = oc;
    PetscCall(PFDataSetConditioner(*data, &dc));
  }
  if (ctx->nheld) {
    /* the given fields: no channels, a record in the model */
    PFDataConditioner dc = {0, NULL, WriteHeldFields, ctx};
    PetscCall(PFDataSetConditioner(*data, &dc));
  }
  if (ctx->pin_model[0]) {
    hid_t fid;
    PetscCall(PFH5OpenRead(ctx->pin_model, &fid));
    PetscCall(PFCLIMeshReadPinned(ctx, fid, ctx->pin_model));
    PetscCall(PFH5Close(&fid));
  }
  if (ctx->pin_phys) PetscCall(PFDataSetPinnedValues(*data, ctx->pin_phys)); /* fine-tuning: the model's */
  else if (ctx->pin_constant) {
    const double *cv;
    PetscInt      nvert, npin = 0;
    PetscCall(PFDataGetConstantValues(*data, &nvert, &cv));
    PetscCall(PetscMalloc1((size_t)ctx->nfields * nvert + 1, &ctx->pin_phys));
    PetscCall(PetscArraycpy(ctx->pin_phys, cv, (size_t)ctx->nfields * nvert));
    for (PetscInt k = 0; k < ctx->nfields * nvert; k++) npin += isfinite(cv[k]) ? 1 : 0;
    if (ctx->gid == 0) /* once, not once per rank group */
      PetscCall(PetscPrintf(ctx->gcomm, "physflow: -pin_constant: %" PetscInt_FMT " of %" PetscInt_FMT " vertex values are the same in every sample of '%s'; the model holds them\n", npin, ctx->nfields * nvert, datafile));
    PetscCall(PFDataSetPinnedValues(*data, ctx->pin_phys));
  }
  PetscCall(PFNetMeshSetGraph(net, ctx->graph, ctx->nfields + ctx->ncond));
  {
    const double *mean, *std;
    PetscCall(PFDataGetNormalization(*data, NULL, &mean, &std));
    PetscCall(PFCLIMeshFlowSetUp(ctx, flow, mean, std));
  }
  {
    /* per-field factors: fine-tuning on low-fidelity data trusts its inputs
     * (exact) more than its states (a coarse solve), e.g. 1,0.1 */
    PetscReal fw[PF_CLI_MAXFIELDS];
    PetscCheck(!ctx->nfm_weights || ctx->nfm_weights == ctx->nfields, ctx->gcomm, PETSC_ERR_ARG_WRONG, "-fm_field_weights needs %" PetscInt_FMT " values (one per field), got %" PetscInt_FMT, ctx->nfields, ctx->nfm_weights);
    for (PetscInt f = 0; f < ctx->nfields; f++) {
      fw[f] = ctx->nfm_weights ? ctx->fm_weights[f] : 1;
      PetscCheck(fw[f] >= 0 && PetscIsNormalReal(fw[f] + 1), ctx->gcomm, PETSC_ERR_ARG_OUTOFRANGE, "-fm_field_weights must be finite and >= 0");
    }
    /* (conditioning channels: inputs, weight 0) */
    PetscCall(PetscCalloc1((ctx->nfields + ctx->ncond) * n + 1, &w));
    for (PetscInt f = 0; f < ctx->nfields; f++)
      for (PetscInt i = 0; i < n; i++) w[f * n + i] = (pfreal)(fw[f] * PetscRealPart(mass[i]) / (M * ctx->nfields));
    if (ctx->pinval)
      for (PetscInt c = 0; c < ctx->nfields * n; c++)
        if (isfinite((double)ctx->pinval[c])) w[c] = 0; /* pinned: nothing to learn */
    for (PetscInt k = 0; k < ctx->nheld; k++) {
      /* given fields are inputs: nothing to learn */
      PetscInt f;
      PetscCall(HeldFieldIndex(ctx, k, &f));
      for (PetscInt i = 0; i < n; i++) w[f * n + i] = 0;
    }
  }
  PetscCall(PFTrainerSetDomain(tr, ctx->G, ctx->gid, w));
  PetscCall(PetscFree(w));
  PetscFunctionReturn(PETSC_SUCCESS);
}
