/* physflow sample on a mesh model: fields on the model's mesh, written in
 * the dataset format (so eval and ParaView read samples like solver data).
 * Groups of -pf_group_size ranks share the mesh; groups generate different
 * samples; sample i starts from noise keyed by (seed, i, natural vertex,
 * field), so the file does not depend on the layout. */
#include <physflow/constraint.h>
#include <physflow/dataset.h>
#include <physflow/h5util.h>
#include <physflow/meshdata.h>
#include <string.h>
#include "cli.h"

/* why path is not a model file ("" if it is one), found on rank 0 */
static PetscErrorCode ModelFileProblem(MPI_Comm comm, const char path[], char why[], size_t len)
{
  PetscMPIInt rank;

  PetscFunctionBegin;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  why[0] = 0;
  if (rank == 0) {
    PetscBool exists;
    PetscCall(PetscTestFile(path, 'r', &exists));
    if (!exists) PetscCall(PetscStrncpy(why, "no such file or not readable", len));
    else if (H5Fis_hdf5(path) <= 0) PetscCall(PetscStrncpy(why, "not an HDF5 file (or truncated)", len));
    else {
      hid_t fid = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
      char  kind[64] = "";
      if (fid < 0) PetscCall(PetscStrncpy(why, "a corrupt HDF5 file", len));
      else {
        if (H5Aexists(fid, "kind") <= 0 || PFH5ReadAttrString(fid, "kind", kind, sizeof(kind))) PetscCall(PetscStrncpy(why, "not a physflow file (no 'kind' attribute)", len));
        else if (strcmp(kind, "model")) PetscCall(PetscSNPrintf(why, len, "a physflow '%s' file, not a model", kind));
        else if (H5Lexists(fid, "arch", H5P_DEFAULT) <= 0) PetscCall(PetscStrncpy(why, "no network in it (incomplete?)", len));
        H5Fclose(fid);
      }
    }
  }
  PetscCallMPI(MPI_Bcast(why, (PetscMPIInt)len, MPI_CHAR, 0, comm));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFCLIIsMeshModel(MPI_Comm comm, const char path[], PetscBool *mesh)
{
  char type[64], why[128];

  PetscFunctionBegin;
  /* an error here, so that a mistyped path is the error, not the options that
   * only the model's type would have registered */
  PetscCall(ModelFileProblem(comm, path, why, sizeof(why)));
  PetscCheck(!why[0], comm, PETSC_ERR_FILE_OPEN, "cannot read model '%s': %s", path, why);
  PetscCall(PFCLIPeek(comm, path, "arch", "net_type", NULL, type, sizeof(type)));
  PetscBool unet;
  PetscCall(PetscStrcmp(type, PFNETMESH, mesh));
  PetscCall(PetscStrcmp(type, PFNETMESHUNET, &unet));
  *mesh = (PetscBool)(*mesh || unet);
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFCLIMeshSampleOptions(MPI_Comm world, const char model[], PFCLIMeshContext *ctx)
{
  char mesh[PETSC_MAX_PATH_LEN];

  PetscFunctionBegin;
  /* the mesh the model was trained on, unless -mesh/-mesh_faces given */
  PetscCall(PFCLIPeek(world, model, "data", "mesh", NULL, mesh, sizeof(mesh)));
  PetscCall(PFCLISetMeshOption(mesh));
  /* the problem (source, boundary groups) the model was trained on, which
   * its file records: guidance and refinement use its residual */
  PetscCall(PFCLIProblemOptionsFromFile(world, model));
  PetscCall(PFCLIMeshContextCreate(world, model, ctx));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFCLIMeshModelLoad(PFCLIMeshContext *ctx, const char model[], PetscBool use_ema, PFNet *net, PFFlow *flow, double mean[], double std[])
{
  hid_t    fid;
  char     fields[1024];
  PetscInt nf;

  PetscFunctionBegin;
  PetscCall(PFCLIMeshContextSetUp(ctx));
  PetscCall(PFH5OpenRead(model, &fid));
  PetscCall(PFH5CheckKind(fid, model, "model"));
  PetscCall(PFNetMeshCreateFromH5(ctx->gcomm, fid, model, use_ema ? "ema" : "params", ctx->graph, net));
  PetscCall(PFFlowCreateFromH5(ctx->gcomm, fid, model, flow));
  {
    hid_t g = H5Gopen2(fid, "data", H5P_DEFAULT);
    PetscCheck(g >= 0, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED, "'%s' has no /data description", model);
    PetscCall(PFH5ReadAttrString(g, "fields", fields, sizeof(fields)));
    ctx->ncond = 0;
    ctx->nheld = 0;
    if (H5Aexists(g, "condition") > 0 && H5Aexists(g, "cond_fields") > 0) {
      /* conditioned on some of its own fields */
      char list[PF_CLI_MAXFIELDS * 65];
      PetscCall(PFH5ReadAttrString(g, "cond_fields", list, sizeof(list)));
      for (char *tok = strtok(list, ","); tok && ctx->nheld < PF_CLI_MAXFIELDS; tok = strtok(NULL, ",")) PetscCall(PetscStrncpy(ctx->held[ctx->nheld++], tok, sizeof(ctx->held[0])));
    } else if (H5Aexists(g, "condition") > 0) {
      /* a conditional model: its conditioning channels follow the fields */
      PetscCall(PFH5ReadAttrString(g, "cond_field", ctx->cond_field, sizeof(ctx->cond_field)));
      PetscCall(PFH5ReadAttrReal(g, "cond_noise", &ctx->cond_noise));
      PetscCall(PFH5ReadAttrInt(g, "cond_nobs_min", &ctx->cond_nobs[0]));
      PetscCall(PFH5ReadAttrInt(g, "cond_nobs_max", &ctx->cond_nobs[1]));
      ctx->ncond        = 2;
      ctx->cond_voronoi = PETSC_FALSE; /* models before the Voronoi encoding have no record */
      if (H5Aexists(g, "cond_encoding") > 0) {
        char enc[16];
        PetscCall(PFH5ReadAttrString(g, "cond_encoding", enc, sizeof(enc)));
        ctx->cond_voronoi = (PetscBool)!strcmp(enc, "voronoi");
      }
      ctx->cond_kalman = 0;
      if (H5Aexists(g, "cond_kalman") > 0) {
        PetscCall(PFH5ReadAttrInt(g, "cond_kalman", &ctx->cond_kalman));
        if (!ctx->cond_kalman_data[0]) PetscCall(PFH5ReadAttrString(g, "cond_kalman_data", ctx->cond_kalman_data, sizeof(ctx->cond_kalman_data)));
        ctx->cond_kalman_adjoint = (PetscBool)(H5Aexists(g, "cond_kalman_adjoint") > 0);
      }
    }
    H5Gclose(g);
  }
  if (ctx->ncond && !ctx->allow_condition) {
    PetscCall(PFH5Close(&fid));
    SETERRQ(ctx->gcomm, PETSC_ERR_ARG_WRONG, "'%s' is a conditional model (trained with -condition obs on sensors of %s): sample it from observations with physflow infer -infer_type conditional", model, ctx->cond_field);
  }
  if (ctx->nheld && !ctx->allow_field_condition) {
    PetscCall(PFH5Close(&fid));
    SETERRQ(ctx->gcomm, PETSC_ERR_ARG_WRONG, "'%s' is conditioned on its field(s) %s%s: sample it with physflow sample -cond_value or -cond_data", model, ctx->held[0], ctx->nheld > 1 ? ", ..." : "");
  }
  nf = 0;
  for (char *tok = strtok(fields, ","); tok && nf < PF_CLI_MAXFIELDS; tok = strtok(NULL, ",")) PetscCall(PetscStrncpy(ctx->fields[nf++], tok, sizeof(ctx->fields[0])));
  ctx->nfields = nf;
  if (ctx->cond_kalman) ctx->ncond = 2 + (ctx->cond_kalman_adjoint ? 2 : 1) * nf; /* the Kalman estimate of every field follows the encoding, then its adjoint summary */
  PetscCall(PFH5ReadArray(fid, model, "data/mean", H5T_NATIVE_DOUBLE, (size_t)nf, mean));
  PetscCall(PFH5ReadArray(fid, model, "data/std", H5T_NATIVE_DOUBLE, (size_t)nf, std));
  PetscCall(PFCLIMeshReadPinned(ctx, fid, model));
  PetscCall(PFH5Close(&fid));
  PetscCall(PFCLIMeshFlowSetUp(ctx, *flow, mean, std));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFCLIMeshGatherRows(PFCLIMeshContext *ctx, PetscInt nrows, const PetscInt pick[], const pfreal *x, const double mean[], const double std[], double *rows[])
{
  PFMesh       mesh;
  PetscInt     nown, nf = ctx->nfields;
  PetscMPIInt  grank;
  PetscScalar *col;

  PetscFunctionBegin;
  PetscCall(PFPhysicsGetMesh(ctx->phys, &mesh));
  PetscCall(PFPhysicsGetVertexMap(ctx->phys, &nown, NULL));
  PetscCallMPI(MPI_Comm_rank(ctx->gcomm, &grank));
  for (PetscInt f = 0; f < nf; f++) PetscCall(PetscMalloc1(grank == 0 ? (size_t)nrows * mesh->nvert + 1 : 1, &rows[f]));
  PetscCall(PetscMalloc1(nown + 1, &col));
  for (PetscInt j = 0; j < nrows; j++) {
    const size_t s = (size_t)(pick ? pick[j] : j);
    for (PetscInt f = 0; f < nf; f++) {
      for (PetscInt i = 0; i < nown; i++) col[i] = (double)x[(s * nf + f) * nown + i] * std[f] + mean[f];
      PetscCall(PFPhysicsGatherNatural(ctx->phys, col, grank == 0 ? rows[f] + (size_t)j * mesh->nvert : NULL));
    }
  }
  PetscCall(PetscFree(col));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFCLIMeshCheckAllFields(PFCLIMeshContext *ctx, const char model[], const char what[])
{
  const char *const *names;
  PetscInt           nf;
  PetscBool          same;

  PetscFunctionBegin;
  PetscCall(PFPhysicsGetFields(ctx->phys, &nf, &names, NULL));
  same = (PetscBool)(nf == ctx->nfields);
  for (PetscInt f = 0; same && f < nf; f++) same = (PetscBool)!strcmp(names[f], ctx->fields[f]);
  PetscCheck(same, ctx->gcomm, PETSC_ERR_ARG_WRONG, "%s needs a model of all the physics' fields in its order (%s%s); '%s' generates other fields", what, names[0], nf > 1 ? ", ..." : "", model);
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* The given fields of a field-conditioned model's samples lo.. (normalised):
 * -cond_value (one constant per given field) or -cond_data (sample j takes
 * row j mod N of the dataset) */
static PetscErrorCode FillHeldFields(PFCLIMeshContext *ctx, const double mean[], const double std[], PetscInt lo, PetscInt nloc, pfreal *x)
{
  PetscInt        nown, nf = ctx->nfields;
  const PetscInt *nat;
  PFMeshData      md;
  double         *row = NULL;

  PetscFunctionBegin;
  PetscCall(PFPhysicsGetVertexMap(ctx->phys, &nown, &nat));
  PetscCheck(ctx->ncond_value || ctx->cond_data[0], ctx->gcomm, PETSC_ERR_ARG_WRONG, "the model is conditioned on %s: give its value(s) with -cond_value v or a dataset with -cond_data data.h5", ctx->held[0]);
  PetscCheck(!ctx->ncond_value || ctx->ncond_value == ctx->nheld, ctx->gcomm, PETSC_ERR_ARG_WRONG, "-cond_value needs %" PetscInt_FMT " value(s), one per given field", ctx->nheld);
  if (!ctx->ncond_value) {
    PFMesh mesh;
    PetscCall(PFPhysicsGetMesh(ctx->phys, &mesh));
    PetscCall(PFMeshDataOpen(ctx->cond_data, &md));
    PetscCheck(md.nvert == mesh->nvert, PETSC_COMM_SELF, PETSC_ERR_ARG_INCOMP, "-cond_data '%s' is not on the model's mesh", ctx->cond_data);
    PetscCall(PetscMalloc1(md.nvert, &row));
  }
  for (PetscInt k = 0; k < ctx->nheld; k++) {
    const PetscInt f = PFCLIMeshFieldIndex(ctx, ctx->held[k]);
    PetscCheck(f >= 0, ctx->gcomm, PETSC_ERR_FILE_UNEXPECTED, "the model's given field '%s' is not among its fields", ctx->held[k]);
    if (!ctx->ncond_value) {
      PetscBool has;
      PetscCall(PFMeshDataHasField(&md, ctx->held[k], &has));
      PetscCheck(has && md.nsamples > 0, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED, "-cond_data '%s' has no samples of '%s'", ctx->cond_data, ctx->held[k]);
    }
    for (PetscInt j = 0; j < nloc; j++) {
      if (!ctx->ncond_value) PetscCall(PFMeshDataReadRows(&md, ctx->held[k], (lo + j) % md.nsamples, 1, row));
      for (PetscInt i = 0; i < nown; i++) x[((size_t)j * nf + f) * nown + i] = (pfreal)(((ctx->ncond_value ? ctx->cond_value[k] : row[nat[i]]) - mean[f]) / std[f]);
    }
  }
  if (!ctx->ncond_value) {
    PetscCall(PFMeshDataClose(&md));
    PetscCall(PetscFree(row));
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* -newton_polish k: k Newton steps of the physics on each of the nloc
 * samples (normalised units, in place), damped, one sample at a time (a
 * Jacobian factorisation per step); prints the median error norm |J^-1 R|_M / scale
 * before the first and after the last step, so a user sees how far the
 * generated states were from a solution */
static PetscErrorCode NewtonPolish(PFCLIMeshContext *ctx, MPI_Comm world, const double mean[], const double std[], PetscInt nloc, pfreal *x)
{
  PFConstraint c;
  PetscInt     nown;
  size_t       n;
  pfreal      *xt;
  double      *first, *last, med[2] = {0, 0};

  PetscFunctionBegin;
  PetscCall(PFPhysicsGetVertexMap(ctx->phys, &nown, NULL));
  n = (size_t)ctx->nfields * nown;
  PetscCall(PFConstraintCreate(ctx->gcomm, &c));
  PetscCall(PFConstraintSetPhysics(c, ctx->phys, mean, std));
  PetscCall(PetscMalloc3((size_t)nloc * n + 1, &xt, nloc + 1, &first, nloc + 1, &last));
  PetscCall(PFConstraintNewtonSolve(c, nloc, x, ctx->newton_polish, xt, first, last));
  PetscCall(PetscArraycpy(x, xt, (size_t)nloc * n));
  for (PetscInt b = 0; b < nloc; b++) first[b] = sqrt(first[b]), last[b] = sqrt(last[b]);
  /* medians over this group's samples (group 0 reports to the world) */
  if (nloc > 0) {
    PetscCall(PetscSortReal(nloc, first));
    PetscCall(PetscSortReal(nloc, last));
    med[0] = first[nloc / 2], med[1] = last[nloc / 2];
  }
  PetscCall(PetscPrintf(world, "physflow sample: -newton_polish %" PetscInt_FMT ": error norm |J^-1 R| of the samples (median, group 0) %.4e before, %.4e after\n", ctx->newton_polish, med[0], med[1]));
  PetscCall(PetscFree3(xt, first, last));
  PetscCall(PFConstraintDestroy(&c));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFCLIMeshSample(PFCLIMeshContext *ctx, MPI_Comm world, const char model[], PetscInt n, PetscInt seed, PetscBool use_ema, PetscInt chunk, PFSampler sampler, const char out[])
{
  PFNet           net  = NULL;
  PFFlow          flow = NULL;
  PFMesh          mesh;
  double          mean[PF_CLI_MAXFIELDS], std[PF_CLI_MAXFIELDS];
  const char     *names[PF_CLI_MAXFIELDS];
  PetscInt        nown, lo, hi, nfe = 0, nf;
  PetscMPIInt     grank;
  pfreal         *x;
  double         *rows[PF_CLI_MAXFIELDS];
  PetscInt       *idx;
  PFDatasetWriter w;
  PetscLogDouble  t0, t1;
  double          straightness = -1;
  PFObservable    gobs = NULL;
  PFGuideSchedule gsched;
  PFPathGuide     gpath = {0};

  PetscFunctionBegin;
  PetscCall(PFCLIMeshModelLoad(ctx, model, use_ema, &net, &flow, mean, std));
  {
    /* a guided model guides whole physics states */
    PetscBool guided;
    PetscCall(PFCLIPeek(world, model, "guide", NULL, &guided, NULL, 0));
    if (guided) PetscCall(PFCLIMeshCheckAllFields(ctx, model, "a guided model"));
    if (ctx->newton_polish > 0) {
      PetscBool has;
      PetscCall(PFCLIMeshCheckAllFields(ctx, model, "-newton_polish"));
      PetscCall(PFPhysicsHasNewtonStep(ctx->phys, &has));
      PetscCheck(has, world, PETSC_ERR_SUP, "-newton_polish needs a physics with a Newton step of its state (ns); '%s' is not one", model);
    }
  }
  PetscCall(PFPhysicsGetMesh(ctx->phys, &mesh));
  nf = ctx->nfields;
  {
    PFFlowType ftype;
    PetscBool  vp, set;
    PetscCall(PFFlowGetType(flow, &ftype));
    PetscCall(PetscStrcmp(ftype, PFFLOWVP, &vp));
    PetscCall(PetscOptionsHasName(NULL, NULL, "-sampler", &set));
    if (vp && !set) PetscCall(PFSamplerSetType(sampler, PFSAMPLERDDPM));
    PetscCall(PetscOptionsHasName(NULL, NULL, "-sampler_steps", &set));
    if (vp && !set) PetscCall(PFSamplerSetSteps(sampler, 200));
  }
  PetscCall(PFPhysicsGetVertexMap(ctx->phys, &nown, NULL));
  PetscCallMPI(MPI_Comm_rank(ctx->gcomm, &grank));
  lo = (PetscInt)(((PetscInt64)ctx->gid * n) / ctx->G);
  hi = (PetscInt)(((PetscInt64)(ctx->gid + 1) * n) / ctx->G);
  PetscCall(PFNetPlan(net, PetscMax(1, PetscMin(chunk, hi - lo))));
  PetscCall(PetscMalloc1((size_t)(hi - lo) * nf * nown + 1, &x));
  PetscCall(PetscTime(&t0));
  PetscCall(PFCLIGuideLoad(world, model, nf * nown, ctx->phys, mean, std, &gobs, &gsched, &gpath));
  PetscCheck(!(gobs || gpath.Y) || (ctx->guidance_scale == 0 && ctx->refine.steps == 0 && !ctx->straightness), world, PETSC_ERR_ARG_INCOMP, "'%s' is a guided model (physflow guide): not with -guidance, -piddm_refine or -straightness", model);
  if (gpath.Y) {
    double work;
    PetscCall(PFPathGuideSample(flow, net, sampler, &gpath, world, (uint64_t)seed, lo, hi - lo, x, &work, &nfe));
    PetscCall(PetscPrintf(world, "physflow sample: path guidance by %" PetscInt_FMT " guiding samples (alpha(t) = %.4g %s %.4g, h0 %.4g): excess work %.4e\n", gpath.M, gpath.a, gpath.kind == PF_GUIDE_POWER ? "(1 - t)^" : "exp((t - 1) x", gpath.b, gpath.h0, work));
    PetscCall(PFPathGuideDestroy(&gpath));
  } else if (gobs) {
    double work;
    PetscCall(PFGuideSample(flow, net, sampler, gobs, &gsched, world, (uint64_t)seed, lo, hi - lo, x, &work, &nfe));
    PetscCall(PetscPrintf(world, "physflow sample: guided by observable %s (lambda %.4g, alpha(t) = %.4g %s %.4g): excess work %.4e\n", gobs->name, gsched.lambda, gsched.a, gsched.kind == PF_GUIDE_POWER ? "(1 - t)^" : "exp((t - 1) x", gsched.b, work));
    PetscCall(PFObservableDestroy(&gobs));
  } else if (ctx->guidance_scale > 0) {
    /* physics guidance: the residual of the one-step x1 estimate */
    PFGuidance gd;
    PetscInt   mb = PetscMax(1, PetscMin(chunk, hi - lo));
    PetscCall(PFConstraintCreate(ctx->gcomm, &gd.c));
    PetscCall(PFConstraintSetPhysics(gd.c, ctx->phys, mean, std));
    /* guidance follows the squared L2 residual (a smooth gradient, A^T R, that
     * vanishes with R), not PBFM's L1 (whose sign(R) gradient is pure noise) */
    PetscCall(PFConstraintSetFromOptions(gd.c));
    PetscCall(PFConstraintSetDefaultNorm(gd.c, PF_NORM_L2, ctx->guidance_tpow));
    gd.net      = net;
    gd.scale    = ctx->guidance_scale;
    gd.maxbatch = mb;
    gd.n        = nf * nown;
    gd.graph   = (PFMeshGraphGuidanceRef)ctx->graph;
    gd.nsmooth = ctx->guidance_smooth;
    PetscCall(PetscMalloc4(mb, &gd.tbuf, (size_t)mb * gd.n, &gd.g, (size_t)mb * gd.n, &gd.w1, (size_t)mb * gd.n, &gd.w2));
    PetscCall(PFFlowSampleVelocity(flow, sampler, (uint64_t)seed, lo, hi - lo, gd.n, PFGuidedVelocity, &gd, x, &nfe));
    PetscCall(PetscFree4(gd.tbuf, gd.g, gd.w1, gd.w2));
    PetscCall(PFConstraintDestroy(&gd.c));
  } else if (ctx->refine.steps > 0) {
    PFSamplerType stype;
    PetscInt      steps;
    PetscBool     euler;
    PetscCall(PFSamplerGetType(sampler, &stype));
    PetscCall(PFSamplerGetSteps(sampler, &steps));
    PetscCall(PetscStrcmp(stype, PFSAMPLEREULER, &euler));
    PetscCheck(euler && steps == 1, world, PETSC_ERR_ARG_INCOMP, "-piddm_refine refines a one-step student (physflow distill -distill_type piddm): sample it with -sampler euler -sampler_steps 1");
    PetscCall(PFCLIRefineSample(ctx, net, flow, &ctx->refine, mean, std, (uint64_t)seed, lo, hi - lo, PetscMax(1, PetscMin(chunk, hi - lo)), x));
    nfe = 1 + 2 * ctx->refine.steps; /* forward + backward per Adam step */
  } else if (ctx->straightness) {
    PFStraightness st = {net, nf * nown, 0, NULL, NULL, 0};
    PFSamplerType  stype;
    PetscBool      euler;
    PetscCall(PFSamplerGetType(sampler, &stype));
    PetscCall(PetscStrcmp(stype, PFSAMPLEREULER, &euler));
    PetscCheck(euler, world, PETSC_ERR_ARG_INCOMP, "-straightness measures the Euler sampler's paths: use -sampler euler");
    PetscCall(PetscMalloc2(net->maxbatch, &st.tbuf, (size_t)(hi - lo) * st.n + 1, &st.x0));
    PetscCall(PFFlowSampleVelocity(flow, sampler, (uint64_t)seed, lo, hi - lo, st.n, PFStraightnessVelocity, &st, x, &nfe));
    /* sums over the world count each group's vertices once per sample */
    PetscCall(PFStraightnessFinish(&st, world, hi - lo, x, &straightness));
    PetscCall(PetscFree2(st.tbuf, st.x0));
  } else {
    if (ctx->nheld) PetscCall(FillHeldFields(ctx, mean, std, lo, hi - lo, x));
    PetscCall(PFFlowSample(flow, net, sampler, (uint64_t)seed, lo, hi - lo, x, &nfe));
  }
  if (ctx->newton_polish > 0) PetscCall(NewtonPolish(ctx, world, mean, std, hi - lo, x));
  PetscCall(PetscTime(&t1));
  if (ctx->straightness) PetscCall(PetscPrintf(world, "physflow sample: path straightness %.4e (int E|x1 - x0 - v|^2 dt / E|x1 - x0|^2 over the %" PetscInt_FMT " Euler steps; 0 = straight)\n", straightness, nfe));
  /* physical units, natural order on the group leaders, one collective write */
  for (PetscInt f = 0; f < nf; f++) names[f] = ctx->fields[f];
  PetscCall(PFCLIMeshGatherRows(ctx, hi - lo, NULL, x, mean, std, rows));
  PetscCall(PetscMalloc1(hi - lo + 1, &idx));
  for (PetscInt j = 0; j < hi - lo; j++) idx[j] = lo + j;
  {
    PFDatasetLayout L = {n, mesh->nvert, 2, mesh->ncells, mesh->nvpc, nf, names, 0, NULL, "samples", PETSC_FALSE};
    PetscBool       complete;
    PFSamplerType   st;
    PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, &nfe, 1, MPIU_INT, MPI_MAX, world));
    PetscCall(PFDatasetWriterCreate(world, out, &L, mesh->coords, mesh->cells, PETSC_FALSE, &w));
    PetscCall(PFDatasetWriterSetAttrString(w, "mesh", mesh->source));
    PetscCall(PFDatasetWriterSetAttrString(w, "model", model));
    PetscCall(PFDatasetWriterSetAttrReal(w, "nfe", (double)nfe));
    PetscCall(PFSamplerGetType(sampler, &st));
    PetscCall(PFDatasetWriterSetAttrString(w, "sampler", st));
    {
      PetscInt steps;
      PetscCall(PFSamplerGetSteps(sampler, &steps));
      /* the noise of sample i is keyed by (seed, i): distillation pairs them */
      PetscCall(PFDatasetWriterSetAttrReal(w, "seed", (double)seed));
      PetscCall(PFDatasetWriterSetAttrReal(w, "sampler_steps", (double)steps));
      PetscCall(PFDatasetWriterSetAttrReal(w, "use_ema", use_ema ? 1 : 0));
      {
        char hex[17];
        PFCLIParamsHash(net->nparams, net->params, hex);
        PetscCall(PFDatasetWriterSetAttrString(w, "model_params_hash", hex));
      }
    }
    PetscCall(PFDatasetWriterSetAttrReal(w, "guidance_scale", ctx->guidance_scale));
    PetscCall(PFDatasetWriterSetAttrReal(w, "newton_polish", (double)ctx->newton_polish));
    if (ctx->straightness) PetscCall(PFDatasetWriterSetAttrReal(w, "straightness", straightness));
    if (ctx->refine.steps > 0) {
      PetscCall(PFDatasetWriterSetAttrReal(w, "piddm_refine", (double)ctx->refine.steps));
      if (ctx->refine.obs_file[0]) {
        PetscCall(PFDatasetWriterSetAttrString(w, "refine_obs", ctx->refine.obs_file));
        PetscCall(PFDatasetWriterSetAttrReal(w, "refine_obs_index", (double)ctx->refine.obs_index));
        PetscCall(PFDatasetWriterSetAttrReal(w, "refine_obs_fraction", ctx->refine.obs_fraction));
        PetscCall(PFDatasetWriterSetAttrReal(w, "refine_obs_noise", ctx->refine.obs_noise));
      }
    }
    PetscCall(PFDatasetWriterWriteRows(w, grank == 0 ? hi - lo : 0, idx, (const double *const *)rows, NULL));
    PetscCall(PFDatasetWriterClose(&w, &complete));
    PetscCheck(complete, world, PETSC_ERR_PLIB, "sample file '%s' incomplete", out);
    PetscCall(PetscPrintf(world, "physflow sample: %" PetscInt_FMT " field samples on %s with %s (NFE %" PetscInt_FMT ") in %.3f s (%.1f samples/s on %" PetscInt_FMT " group(s)) -> %s\n", n, mesh->source, st, nfe, t1 - t0, (double)n / (t1 - t0), ctx->G, out));
  }
  for (PetscInt f = 0; f < nf; f++) PetscCall(PetscFree(rows[f]));
  PetscCall(PetscFree(idx));
  PetscCall(PetscFree(x));
  PetscCall(PFNetDestroy(&net));
  PetscCall(PFFlowDestroy(&flow));
  PetscFunctionReturn(PETSC_SUCCESS);
}
