#include <math.h>
#include "cli.h"

/* physflow sample -model m.h5 -n N [-sampler euler -sampler_steps 20] [-guidance dps -guidance_scale s] -o samples.h5
 * Sample i starts from noise keyed by (seed, i): any rank count gives the same file. */
PetscErrorCode PFCommandSample(MPI_Comm comm)
{
  PFSampler      sampler;
  PFNet          net  = NULL;
  PFFlow         flow = NULL;
  PetscInt       n = 1000, chunk = 4096, nfe = 0, nin;
  PetscInt      seed = 0;
  char           model[PETSC_MAX_PATH_LEN] = "", out[PETSC_MAX_PATH_LEN] = "samples.h5";
  PetscBool      help, has_model, use_ema = PETSC_TRUE, set_sampler, set_steps, set_chunk, is_mesh = PETSC_FALSE, dps = PETSC_FALSE, straight = PETSC_FALSE;
  char           guidance[16] = "none";
  double         gscale = 1, gtpow = 1;
  PetscInt       gsmooth = 20;
  PFCLIMeshContext mctx;
  PFCLIRefine      refine;
  PetscMPIInt    rank, size;
  PetscLogDouble t0, t1;

  PetscFunctionBegin;
  PetscOptionsBegin(comm, NULL, "physflow sample: generate samples from a model", "sample");
  PetscCall(PetscOptionsString("-model", "Model file written by train", "sample", model, model, sizeof(model), &has_model));
  PetscCall(PetscOptionsInt("-n", "Number of samples", "sample", n, &n, NULL));
  PetscCall(PetscOptionsInt("-seed", "Seed of the initial noise", "sample", seed, &seed, NULL));
  PetscCall(PetscOptionsBool("-use_ema", "Use the EMA weights (else the raw weights)", "sample", use_ema, &use_ema, NULL));
  PetscCall(PetscOptionsInt("-sample_batch", "Samples per network evaluation (memory bound; mesh models: 16)", "sample", chunk, &chunk, &set_chunk));
  PetscCall(PetscOptionsString("-o", "Output HDF5 file", "sample", out, out, sizeof(out), NULL));
  PetscCall(PetscOptionsString("-guidance", "Inference-time physics guidance of mesh models: none or dps", "sample", guidance, guidance, sizeof(guidance), NULL));
  PetscCall(PetscOptionsReal("-guidance_scale", "Strength s of the guidance (velocity - s grad of the residual loss of the x1 estimate)", "sample", gscale, &gscale, NULL));
  PetscCall(PetscOptionsReal("-guidance_tpow", "Guidance weight t^p (strongest near t = 1, where the x1 estimate is sharp)", "sample", gtpow, &gtpow, NULL));
  PetscCall(PetscOptionsInt("-guidance_smooth", "Low-pass the guidance gradient with this many applications of the mesh's mass smoother", "sample", gsmooth, &gsmooth, NULL));
  PetscCall(PetscOptionsBool("-straightness", "Mesh models, Euler sampler: report the straightness of the sampling paths (reflow makes it small)", "sample", straight, &straight, NULL));
  PetscOptionsEnd();
  PetscCall(PFSamplerCreate(comm, &sampler));
  PetscCall(PFSamplerSetFromOptions(sampler));
  if (has_model) PetscCall(PFCLIIsMeshModel(comm, model, &is_mesh));
  if (has_model) PetscCall(PFCLIModelSamplerDefaults(comm, model, sampler));
  if (is_mesh) {
    PetscCall(PFCLIMeshSampleOptions(comm, model, &mctx));
    /* models conditioned on their own fields (train -condition field) */
    mctx.allow_field_condition = PETSC_TRUE;
    mctx.ncond_value           = PF_CLI_MAXFIELDS;
    PetscOptionsBegin(comm, NULL, "physflow sample: field-conditioned models", "sample");
    PetscCall(PetscOptionsRealArray("-cond_value", "Values of the given fields (train -condition field), one constant per field", "sample", mctx.cond_value, &mctx.ncond_value, NULL));
    PetscCall(PetscOptionsString("-cond_data", "Or a dataset: sample j takes the given fields of its row j (mod its size)", "sample", mctx.cond_data, mctx.cond_data, sizeof(mctx.cond_data), NULL));
    PetscCall(PetscOptionsInt("-newton_polish", "Newton steps of the physics applied to each sample after sampling (physics with a Newton step, ns; 0: none): the model as a solver's initial guess", "sample", mctx.newton_polish, &mctx.newton_polish, NULL));
    PetscOptionsEnd();
    PetscCheck(mctx.newton_polish >= 0, comm, PETSC_ERR_ARG_OUTOFRANGE, "-newton_polish must be >= 0");
  }
  PetscCall(PFCLIRefineOptions(comm, &refine));
  PetscCall(PFCLIOptionsDone(comm, "sample", &help));
  if (help) {
    PetscCall(PetscPrintf(comm, "  (vp models default to -sampler ddpm -sampler_steps 200)\n"));
    goto done;
  }
  PetscCheck(has_model, comm, PETSC_ERR_ARG_WRONG, "give the model to sample from: -model model.h5");
  {
    PetscBool none;
    PetscCall(PetscStrcmp(guidance, "none", &none));
    PetscCall(PetscStrcmp(guidance, "dps", &dps));
    PetscCheck(none || dps, comm, PETSC_ERR_ARG_WRONG, "unknown -guidance '%s' (available: none, dps)", guidance);
    PetscCheck(!dps || is_mesh, comm, PETSC_ERR_ARG_WRONG, "-guidance dps needs a mesh (PDE) model");
    PetscCheck(gscale >= 0 && isfinite(gscale), comm, PETSC_ERR_ARG_OUTOFRANGE, "-guidance_scale must be >= 0");
    mctx.guidance_scale = dps ? gscale : 0;
    mctx.guidance_tpow  = gtpow;
    PetscCheck(gsmooth >= 0, comm, PETSC_ERR_ARG_OUTOFRANGE, "-guidance_smooth must be >= 0");
    mctx.guidance_smooth = gsmooth;
    PetscCheck(!straight || is_mesh, comm, PETSC_ERR_ARG_WRONG, "-straightness is measured for mesh (PDE) models");
    PetscCheck(!straight || !dps, comm, PETSC_ERR_ARG_INCOMP, "-straightness measures the model's own paths: not with -guidance");
    mctx.straightness = straight;
    PetscCheck(!refine.steps || is_mesh, comm, PETSC_ERR_ARG_WRONG, "-piddm_refine refines one-step students of PDE fields (mesh models)");
    PetscCheck(!refine.steps || !dps, comm, PETSC_ERR_ARG_INCOMP, "-piddm_refine and -guidance are alternatives");
    PetscCheck(!refine.steps || !straight, comm, PETSC_ERR_ARG_INCOMP, "-piddm_refine and -straightness are alternatives");
    mctx.refine = refine;
  }
  PetscCheck(n > 0, comm, PETSC_ERR_ARG_OUTOFRANGE, "-n must be positive, got %" PetscInt_FMT, n);
  PetscCheck(chunk > 0, comm, PETSC_ERR_ARG_OUTOFRANGE, "-sample_batch must be positive");
  PetscCall(PFCheckWritable(comm, out));
  if (is_mesh) {
    PetscCall(PFCLIMeshSample(&mctx, comm, model, n, seed, use_ema, set_chunk ? chunk : 16, sampler, out));
    goto done;
  }
  PetscCall(PFCLILoadModel(comm, model, use_ema, &net, &flow));
  {
    PFFlowType ftype;
    PetscBool  vp;
    PetscCall(PFFlowGetType(flow, &ftype));
    PetscCall(PetscStrcmp(ftype, PFFLOWVP, &vp));
    PetscCall(PetscOptionsHasName(NULL, NULL, "-sampler", &set_sampler));
    PetscCall(PetscOptionsHasName(NULL, NULL, "-sampler_steps", &set_steps));
    if (vp && !set_sampler) PetscCall(PFSamplerSetType(sampler, PFSAMPLERDDPM));
    if (vp && !set_steps) PetscCall(PFSamplerSetSteps(sampler, 200));
  }
  PetscCall(PFNetGetInputSize(net, &nin));
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  PetscCallMPI(MPI_Comm_size(comm, &size));
  PetscInt lo = (PetscInt)(((PetscInt64)rank * n) / size), hi = (PetscInt)(((PetscInt64)(rank + 1) * n) / size);
  PetscCall(PFNetPlan(net, PetscMax(1, PetscMin(chunk, hi - lo))));
  pfreal *x;
  double *mine, *all = NULL;
  PetscCall(PetscMalloc2((hi - lo) * nin + 1, &x, (hi - lo) * nin + 1, &mine));
  PetscCall(PetscTime(&t0));
  {
    /* a guided model (physflow guide): the base flow plus its guidance */
    PFObservable    obs;
    PFGuideSchedule gs;
    PFPathGuide     pg;
    double          work;
    PetscCall(PFCLIGuideLoad(comm, model, nin, NULL, NULL, NULL, &obs, &gs, &pg));
    if (pg.Y) {
      PetscCall(PFPathGuideSample(flow, net, sampler, &pg, comm, (uint64_t)seed, lo, hi - lo, x, &work, &nfe));
      PetscCall(PetscPrintf(comm, "physflow sample: path guidance by %" PetscInt_FMT " guiding samples (alpha(t) = %.4g %s %.4g, h0 %.4g): excess work %.4e\n", pg.M, pg.a, pg.kind == PF_GUIDE_POWER ? "(1 - t)^" : "exp((t - 1) x", pg.b, pg.h0, work));
      PetscCall(PFPathGuideDestroy(&pg));
    } else if (obs) {
      PetscCall(PFGuideSample(flow, net, sampler, obs, &gs, comm, (uint64_t)seed, lo, hi - lo, x, &work, &nfe));
      PetscCall(PetscPrintf(comm, "physflow sample: guided by observable %s (lambda %.4g, alpha(t) = %.4g %s %.4g): excess work %.4e\n", obs->name, gs.lambda, gs.a, gs.kind == PF_GUIDE_POWER ? "(1 - t)^" : "exp((t - 1) x", gs.b, work));
      PetscCall(PFObservableDestroy(&obs));
    } else PetscCall(PFFlowSample(flow, net, sampler, (uint64_t)seed, lo, hi - lo, x, &nfe));
  }
  PetscCall(PetscTime(&t1));
  for (PetscInt i = 0; i < (hi - lo) * nin; i++) mine[i] = (double)x[i];
  {
    PetscMPIInt *counts = NULL, *displs = NULL, cnt = (PetscMPIInt)((hi - lo) * nin);
    if (rank == 0) PetscCall(PetscMalloc3(n * nin, &all, size, &counts, size, &displs));
    PetscCallMPI(MPI_Gather(&cnt, 1, MPI_INT, counts, 1, MPI_INT, 0, comm));
    if (rank == 0) {
      displs[0] = 0;
      for (PetscMPIInt r = 1; r < size; r++) displs[r] = displs[r - 1] + counts[r - 1];
    }
    PetscCallMPI(MPI_Gatherv(mine, cnt, MPI_DOUBLE, all, counts, displs, MPI_DOUBLE, 0, comm));
    PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, &nfe, 1, MPIU_INT, MPI_MAX, comm));
    PetscCall(PFSamplesWrite(comm, out, "samples", n, nin, all, nfe));
    if (rank == 0) PetscCall(PetscFree3(all, counts, displs));
  }
  PetscCall(PetscFree2(x, mine));
  {
    PFSamplerType st;
    PetscCall(PFSamplerGetType(sampler, &st));
    PetscCall(PetscPrintf(comm, "physflow sample: %" PetscInt_FMT " samples with %s (NFE %" PetscInt_FMT ") in %.3f s (%.1f samples/s) -> %s\n", n, st, nfe, t1 - t0, (double)n / (t1 - t0), out));
  }
done:
  PetscCall(PFSamplerDestroy(&sampler));
  PetscCall(PFNetDestroy(&net));
  PetscCall(PFFlowDestroy(&flow));
  if (is_mesh) PetscCall(PFCLIMeshContextDestroy(&mctx));
  PetscFunctionReturn(PETSC_SUCCESS);
}
