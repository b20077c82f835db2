/* physflow guide -model base.h5 -guide_type observable -observable x0 -observable_target V -o guided.h5
 *
 * Minimum-excess-work observable guidance (include/physflow/guide.h): base
 * samples give the max-ent tilt lambda that matches the target, then the
 * guidance schedule is tuned against task loss + gamma * excess work, and
 * guided.h5 = the base model + /guide (what physflow sample needs to guide
 * it) + /sampler (the sampler it was tuned with).  With -guide_baseline
 * finetune, the naive alternative is written instead: the base model
 * fine-tuned on base samples resampled by the max-ent weights. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <physflow/h5util.h>
#include "guide_cli.h"



/* The naive baseline: the base model fine-tuned on the samples x [N d]
 * (written to <out>.<what>.h5) */
static PetscErrorCode FinetuneOn(MPI_Comm comm, const char model[], const char out[], const char what[], PetscInt N, PetscInt d, const double *x, const GuideOptions *o)
{
  char data[PETSC_MAX_PATH_LEN + 32];

  PetscFunctionBegin;
  PetscCall(PetscSNPrintf(data, sizeof(data), "%s.%s.h5", out, what));
  PetscCall(PFSamplesWrite(comm, data, "dataset", N, d, x, 0));
  PetscCall(PFCLIGuideFinetune(comm, model, data, out, what, o));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Observable guidance: max-ent lambda from the base samples' f, then the tuned schedule */
static PetscErrorCode GuideObservable(MPI_Comm comm, const char model[], const char out[], GuideOptions *o, PFFlow flow, PFNet net, PFSampler sampler, PetscInt nloc, PetscInt tlo, PetscInt ntl, const pfreal *x, const double *xall)
{
  const PetscInt n = net->nin;
  PFObservable   obs;
  double        *f, *fall, mean, var, lambda, mw;
  PetscMPIInt    size, *counts, *displs, cnt = (PetscMPIInt)nloc;

  PetscFunctionBegin;
  PetscCall(PFObservableCreate(comm, o->observable, n, &obs));
  PetscCallMPI(MPI_Comm_size(comm, &size));
  PetscCall(PetscMalloc4(nloc + 1, &f, o->nbase, &fall, size, &counts, size, &displs));
  PetscCall(PFObservableEval(obs, nloc, x, f, NULL));
  PetscCallMPI(MPI_Allgather(&cnt, 1, MPI_INT, counts, 1, MPI_INT, comm));
  displs[0] = 0;
  for (PetscMPIInt q = 1; q < size; q++) displs[q] = displs[q - 1] + counts[q - 1];
  PetscCallMPI(MPI_Allgatherv(f, cnt, MPI_DOUBLE, fall, counts, displs, MPI_DOUBLE, comm));
  PFGuideMoments(o->nbase, fall, &mean, &var);
  if (o->has_shift) o->target = mean + o->shift * sqrt(var);
  PetscCall(PFMaxEntLambda(o->nbase, fall, o->target, o->sigma, &lambda, &mw));
  PetscCall(PetscPrintf(comm, "physflow guide: observable %s of %" PetscInt_FMT " base samples: mean %.5g, std %.5g; target %.5g; max-ent tilt exp(-lambda f), lambda = %.5g, reweighted mean %.5g\n", o->observable, o->nbase, mean, sqrt(var), o->target, lambda, mw));
  if (o->baseline) {
    double   *pick;
    PetscInt *idx;
    PetscCall(PetscMalloc2((size_t)o->nbase * n, &pick, o->nbase, &idx));
    PetscCall(PFCLIGuideResample(o->nbase, fall, lambda, o->seed, idx));
    for (PetscInt k = 0; k < o->nbase; k++) PetscCall(PetscArraycpy(pick + (size_t)k * n, xall + (size_t)idx[k] * n, n));
    PetscCall(FinetuneOn(comm, model, out, "reweighted", o->nbase, n, pick, o));
    PetscCall(PetscFree2(pick, idx));
  } else {
    GuideTuneSetting gs = {comm, flow, net, sampler, obs, tlo, ntl};
    PetscCall(PFCLIGuideTuneWrite(&gs, model, out, o, lambda, mean, var, mw));
  }
  PetscCall(PetscFree4(f, fall, counts, displs));
  PetscCall(PFObservableDestroy(&obs));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Path guidance: the base samples inside the region guide (the first
 * -path_guides of them by sample index) */
static PetscErrorCode GuidePath(MPI_Comm comm, const char model[], const char out[], GuideOptions *o, PFFlow flow, PFNet net, PFSampler sampler, PetscInt lo, PetscInt nloc, const double *xall)
{
  const PetscInt n = net->nin;
  PetscInt      *in, nin = 0, M, K;
  pfreal        *g, *xs;
  PFPathGuide    pg = {0};

  PetscFunctionBegin;
  PetscCheck(n >= 2, comm, PETSC_ERR_ARG_WRONG, "-path_region is a box in the first two values of a state");
  PetscCall(PetscMalloc3(o->nbase, &in, (size_t)o->nbase * n, &g, (size_t)o->nbase * n, &xs));
  for (size_t q = 0; q < (size_t)o->nbase * n; q++) xs[q] = (pfreal)xall[q];
  PFPathRegionInside(o->box, n, o->nbase, xs, in);
  for (PetscInt i = 0; i < o->nbase; i++)
    if (in[i] && nin < o->nguides) PetscCall(PetscArraycpy(g + (size_t)nin++ * n, xs + (size_t)i * n, n));
  {
    PetscInt tot = 0;
    for (PetscInt i = 0; i < o->nbase; i++) tot += in[i];
    PetscCall(PetscPrintf(comm, "physflow guide: region [%g, %g] x [%g, %g] holds %" PetscInt_FMT " of %" PetscInt_FMT " base samples (%.2f%%); %" PetscInt_FMT " guide\n", o->box[0], o->box[1], o->box[2], o->box[3], tot, o->nbase, 100.0 * tot / o->nbase, nin));
    o->target = (double)tot / o->nbase; /* recorded: the base fraction */
  }
  PetscCheck(nin >= 2, comm, PETSC_ERR_ARG_OUTOFRANGE, "the region holds %" PetscInt_FMT " of the %" PetscInt_FMT " base samples: too rare to guide; draw more (-guide_samples) or widen -path_region", nin, o->nbase);
  M = nin;
  if (o->path_tilt && !o->baseline) {
    /* tilted path guidance: observable guidance of minus the distance to
     * the box toward the tilt that puts -path_fraction of the mass inside;
     * inside, where the distance is 0, the tilt is the base distribution */
    PFObservable     obs;
    double          *fall, mean, var, lambda, mw;
    GuideTuneSetting gs;
    PetscCall(PFObservableCreateWithRegion(comm, "box_distance", n, o->box, &obs));
    PetscCall(PetscMalloc1(o->nbase, &fall));
    PetscCall(PFObservableEval(obs, o->nbase, xs, fall, NULL));
    PFGuideMoments(o->nbase, fall, &mean, &var);
    PetscCall(PFMaxEntLambdaFraction(o->nbase, fall, -1e-12, o->fraction, &lambda, &mw));
    PetscCall(PetscPrintf(comm, "physflow guide: tilted path guidance: exp(-lambda f), f = -(distance to the box), lambda = %.5g puts %.1f%% of the reweighted base samples inside; tilted mean of f %.5g (base %.5g)\n", lambda, 100 * o->fraction, mw, mean));
    /* recorded as observable guidance of the box distance */
    PetscCall(PetscStrncpy(o->observable, "box_distance", sizeof(o->observable)));
    for (int k = 0; k < 4; k++) o->region[k] = o->box[k];
    o->has_region = PETSC_TRUE;
    o->target     = mw;
    gs            = (GuideTuneSetting){comm, flow, net, sampler, obs, lo, nloc};
    PetscCall(PFCLIGuideTuneWrite(&gs, model, out, o, lambda, mean, var, mw));
    PetscCall(PetscFree(fall));
    PetscCall(PFObservableDestroy(&obs));
  } else if (o->baseline) {
    double *gd;
    PetscCall(PetscMalloc1((size_t)M * n, &gd));
    for (size_t q = 0; q < (size_t)M * n; q++) gd[q] = (double)g[q];
    PetscCall(FinetuneOn(comm, model, out, "guides", M, n, gd, o));
    PetscCall(PetscFree(gd));
  } else {
    PFPathTuneParams tp = {{o->box[0], o->box[1], o->box[2], o->box[3]}, o->gamma, o->fraction, o->maxeval, NULL, 0};
    double           frac, work;
    PetscCall(PFSamplerGetSteps(sampler, &K));
    PetscCall(PFPathGuideBuild(net, MPI_COMM_SELF, PetscMax(K, 10), M, g, &pg));
    pg.a = 1, pg.b = o->schedule == PF_GUIDE_POWER ? 1 : 0, pg.h0 = 0.3, pg.kind = o->schedule;
    PetscCall(PetscPrintf(comm, "physflow guide: tuning alpha(t) = %s and the bandwidth h0 on reaching %g of the samples inside + %g x excess work\n", o->schedule == PF_GUIDE_POWER ? "a (1 - t)^b" : "a exp(-b (1 - t))", o->fraction, o->gamma));
    PetscCall(PFPathGuideTune(flow, net, sampler, &tp, comm, (uint64_t)o->seed, lo, nloc, &pg, &frac, &work));
    PetscCall(PetscPrintf(comm, "physflow guide: a = %.5g, b = %.5g, h0 = %.4g: %.1f%% of the guided samples inside (base %.2f%%), excess work %.4e -> %s\n", pg.a, pg.b, pg.h0, 100 * frac, 100 * o->target, work, out));
    {
      GuideRecord r = {NULL, &pg, pg.Y, {pg.K + 1, pg.M, pg.n}, {o->target, frac, 0, 0, 0, work}};
      PetscCall(PFCLIGuideWrite(comm, model, out, o, &r, sampler));
    }
    PetscCall(PFPathGuideDestroy(&pg));
  }
  PetscCall(PetscFree3(in, g, xs));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFCommandGuide(MPI_Comm comm)
{
  char         model[PETSC_MAX_PATH_LEN] = "", out[PETSC_MAX_PATH_LEN] = "guided.h5", type[32] = "observable";
  GuideOptions o = {.observable = "x0", .gamma = 1e-3, .nbase = 4000, .maxeval = 40, .ft_steps = 2000, .ntune = 4000, .fraction = 0.6, .nguides = 64, .schedule = PF_GUIDE_EXP, .drift = PF_GUIDE_TWEEDIE};
  PetscBool    has_model, help, is_mesh = PETSC_FALSE, path = PETSC_FALSE, has_box;
  PetscInt     nbox = 4, nreg = 4;
  PFSampler    sampler;
  PFCLIMeshContext mctx;
  PFNet        net  = NULL;
  PFFlow       flow = NULL;
  PetscMPIInt  rank, size;
  char         list[512];

  PetscFunctionBegin;
  PetscCall(PFObservableList(list, sizeof(list)));
  PetscOptionsBegin(comm, NULL, "physflow guide: minimum-excess-work guidance of a pretrained flow", "guide");
  PetscCall(PetscOptionsString("-model", "Base model (written by train)", "guide", model, model, sizeof(model), &has_model));
  PetscCall(PetscOptionsString("-guide_type", "observable (match an observable's mean) or path (concentrate on a region)", "guide", type, type, sizeof(type), NULL));
  PetscCall(PetscOptionsString("-observable", list, "guide", o.observable, o.observable, sizeof(o.observable), NULL));
  PetscCall(PetscOptionsReal("-observable_target", "Target mean of the observable", "guide", o.target, &o.target, &o.has_target));
  PetscCall(PetscOptionsReal("-observable_shift", "Or: target = base mean + this many base standard deviations", "guide", o.shift, &o.shift, &o.has_shift));
  PetscCall(PetscOptionsReal("-observable_sigma", "Uncertainty of the target (Gaussian): the max-ent answer then stops short of it", "guide", o.sigma, &o.sigma, NULL));
  PetscCall(PetscOptionsRealArray("-observable_region", "Mesh observables (mean_logK): the region xmin,xmax,ymin,ymax (default: the whole domain)", "guide", o.region, &nreg, &o.has_region));
  PetscCall(PetscOptionsString("-observable_group", "Mesh observables (boundary_flux): the boundary group (mesh group name or Face Sets number)", "guide", o.group, o.group, sizeof(o.group), NULL));
  PetscCall(PetscOptionsReal("-path_threshold", "Path guidance of mesh models: the subset is observable >= this", "guide", o.threshold, &o.threshold, &o.has_threshold));
  {
    char      method[16] = "kde";
    PetscBool set;
    PetscCall(PetscOptionsString("-path_method", "Path guidance: kde (the paper's: a density of guiding samples pushed back along the flow) or tilt (observable guidance toward the exponential tilt in the observable (toy: minus the distance to the box) that puts -path_fraction of the mass in the subset)", "guide", method, method, sizeof(method), &set));
    PetscCheck(!strcmp(method, "kde") || !strcmp(method, "tilt"), comm, PETSC_ERR_ARG_WRONG, "unknown -path_method '%s' (available: kde, tilt)", method);
    o.path_tilt = (PetscBool)!strcmp(method, "tilt");
  }
  PetscCall(PetscOptionsReal("-path_quantile", "Path guidance of mesh models: or the threshold is this quantile of the base samples' observable (e.g. 0.99)", "guide", o.quantile, &o.quantile, &o.has_quantile));
  PetscCall(PetscOptionsRealArray("-path_region", "Path guidance: the box xmin,xmax,ymin,ymax of the first two values", "guide", o.box, &nbox, &has_box));
  PetscCall(PetscOptionsReal("-path_fraction", "Path guidance: the fraction of samples to bring into the region", "guide", o.fraction, &o.fraction, NULL));
  PetscCall(PetscOptionsInt("-path_guides", "Path guidance: at most this many guiding samples (base samples inside the region)", "guide", o.nguides, &o.nguides, NULL));
  PetscCall(PetscOptionsEnum("-guide_schedule", "Family of alpha(t): exp (a exp(-b (1-t)), the paper's) or power (a (1-t)^b)", "guide", PFGuideScheduleTypes, (PetscEnum)o.schedule, (PetscEnum *)&o.schedule, NULL));
  PetscCall(PetscOptionsEnum("-guide_drift", "Direction of the drift: x1hat (grad f at the x1 estimate) or tweedie (J^T grad f, the exact tilt's first order)", "guide", PFGuideDriftTypes, (PetscEnum)o.drift, (PetscEnum *)&o.drift, NULL));
  PetscCall(PetscOptionsReal("-guide_clip", "Observable guidance: limit the drift of each state to this multiple of its base velocity (0: no limit)", "guide", o.clip, &o.clip, NULL));
  PetscCall(PetscOptionsReal("-guide_gamma", "Weight gamma of the excess work against the task loss", "guide", o.gamma, &o.gamma, NULL));
  PetscCall(PetscOptionsInt("-guide_samples", "Base samples for the max-ent reweighting / the guiding samples, and the tuning", "guide", o.nbase, &o.nbase, NULL));
  PetscCall(PetscOptionsInt("-guide_tune_samples", "Samples per guided run of the tuning (the first of the base samples' noise)", "guide", o.ntune, &o.ntune, NULL));
  PetscCall(PetscOptionsInt("-guide_tune_evals", "Guided sampling runs of the schedule tuning (Nelder-Mead)", "guide", o.maxeval, &o.maxeval, NULL));
  PetscCall(PetscOptionsInt("-seed", "Seed of the base samples' noise", "guide", o.seed, &o.seed, NULL));
  PetscCall(PetscOptionsBool("-guide_baseline", "Write the naive baseline instead: the base model fine-tuned on max-ent-resampled base samples (observable) or on the guiding samples (path)", "guide", o.baseline, &o.baseline, NULL));
  PetscCall(PetscOptionsInt("-guide_finetune_steps", "Steps of the naive baseline's fine-tuning", "guide", o.ft_steps, &o.ft_steps, NULL));
  PetscCall(PetscOptionsString("-o", "Guided model file", "guide", out, out, sizeof(out), NULL));
  PetscOptionsEnd();
  PetscCall(PFSamplerCreate(comm, &sampler));
  PetscCall(PFSamplerSetType(sampler, PFSAMPLERHEUN));
  PetscCall(PFSamplerSetSteps(sampler, 10));
  PetscCall(PFSamplerSetFromOptions(sampler));
  PetscCall(PetscOptionsHasHelp(NULL, &help));
  if (help) {
    PetscCall(PetscPrintf(comm, "  (-guide_baseline: the fine-tuning options of physflow finetune apply, e.g. -lr, -batch_size)\n"));
    goto done;
  }
  PetscCheck(has_model, comm, PETSC_ERR_ARG_WRONG, "give the base model: -model base.h5");
  {
    PetscBool set;
    PetscCall(PFCLIIsMeshModel(comm, model, &is_mesh));
    PetscCall(PFCLIPeek(comm, model, "guide", NULL, &set, NULL, 0));
    PetscCheck(!set, comm, PETSC_ERR_ARG_WRONG, "'%s' is already a guided model: guide its base model", model);
  }
  /* mesh models: the mesh, physics and groups of ranks, as physflow sample */
  if (is_mesh) PetscCall(PFCLIMeshSampleOptions(comm, model, &mctx));
  if (!o.baseline) PetscCall(PFCLIOptionsDone(comm, "guide", &help));
  path = (PetscBool)!strcmp(type, "path");
  PetscCheck(path || !strcmp(type, "observable"), comm, PETSC_ERR_ARG_WRONG, "unknown -guide_type '%s' (available: observable, path)", type);
  PetscCheck(!o.has_region || (nreg == 4 && o.region[0] < o.region[1] && o.region[2] < o.region[3]), comm, PETSC_ERR_ARG_WRONG, "-observable_region takes xmin,xmax,ymin,ymax (a non-empty box)");
  if (path && is_mesh) {
    PetscCheck(o.has_threshold != o.has_quantile, comm, PETSC_ERR_ARG_WRONG, "path guidance of a mesh model concentrates on observable >= threshold: give -observable NAME and -path_threshold V or -path_quantile q");
    PetscCheck(!o.has_quantile || (o.quantile > 0 && o.quantile < 1), comm, PETSC_ERR_ARG_OUTOFRANGE, "-path_quantile must lie in (0, 1)");
    PetscCheck(o.nguides >= 2 && o.fraction > 0 && o.fraction <= 1, comm, PETSC_ERR_ARG_OUTOFRANGE, "-path_guides must be >= 2 and -path_fraction in (0, 1]");
  } else if (path) {
    PetscCheck(has_box && nbox == 4 && o.box[0] < o.box[1] && o.box[2] < o.box[3], comm, PETSC_ERR_ARG_WRONG, "path guidance needs -path_region xmin,xmax,ymin,ymax (a non-empty box)");
    PetscCheck(o.nguides >= 2 && o.fraction > 0 && o.fraction <= 1, comm, PETSC_ERR_ARG_OUTOFRANGE, "-path_guides must be >= 2 and -path_fraction in (0, 1]");
  } else PetscCheck(o.has_target != o.has_shift, comm, PETSC_ERR_ARG_WRONG, "give the observable's target: -observable_target VALUE or -observable_shift K (base mean + K std)");
  PetscCheck(o.clip >= 0, comm, PETSC_ERR_ARG_OUTOFRANGE, "-guide_clip must be >= 0");
  PetscCheck(o.sigma >= 0 && o.gamma >= 0 && o.nbase >= 2 && o.maxeval >= 4 && o.ft_steps >= 1 && o.ntune >= 1, comm, PETSC_ERR_ARG_OUTOFRANGE, "-observable_sigma and -guide_gamma must be >= 0, -guide_samples >= 2, -guide_tune_evals >= 4, -guide_tune_samples >= 1");
  {
    PetscBool same;
    PetscCall(PetscStrcmp(model, out, &same));
    PetscCheck(!same, comm, PETSC_ERR_ARG_WRONG, "-o must differ from the base -model");
  }
  PetscCall(PFCheckWritable(comm, out));
  if (is_mesh) {
    PetscCall(PFCLIGuideMesh(comm, model, out, &o, path, sampler, &mctx));
    goto done;
  }
  PetscCall(PFCLILoadModel(comm, model, PETSC_TRUE, &net, &flow));
  {
    PFFlowType ft;
    PetscCall(PFFlowGetType(flow, &ft));
    PetscCheck(!strcmp(ft, PFFLOWCFM) || !strcmp(ft, PFFLOWOTCFM), comm, PETSC_ERR_ARG_WRONG, "guidance steers a flow-matching (cfm/otcfm) model; '%s' is '%s'", model, ft);
  }
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  PetscCallMPI(MPI_Comm_size(comm, &size));
  {
    /* the base samples: this rank's share, and all of them on every rank */
    const PetscInt n = net->nin, lo = (PetscInt)(((PetscInt64)rank * o.nbase) / size), hi = (PetscInt)(((PetscInt64)(rank + 1) * o.nbase) / size);
    pfreal        *x;
    double        *xl, *xall;
    PetscInt       nfe;
    PetscMPIInt   *counts, *displs, cnt = (PetscMPIInt)((hi - lo) * n);
    PetscCall(PFNetPlan(net, PetscMax(1, PetscMin(4096, hi - lo))));
    PetscCall(PetscMalloc5((size_t)(hi - lo) * n + 1, &x, (size_t)(hi - lo) * n + 1, &xl, (size_t)o.nbase * n, &xall, size, &counts, size, &displs));
    PetscCall(PFFlowSample(flow, net, sampler, (uint64_t)o.seed, lo, hi - lo, x, &nfe));
    for (PetscInt i = 0; i < (hi - lo) * n; i++) xl[i] = (double)x[i];
    PetscCallMPI(MPI_Allgather(&cnt, 1, MPI_INT, counts, 1, MPI_INT, comm));
    displs[0] = 0;
    for (PetscMPIInt q = 1; q < size; q++) displs[q] = displs[q - 1] + counts[q - 1];
    PetscCallMPI(MPI_Allgatherv(xl, cnt, MPI_DOUBLE, xall, counts, displs, MPI_DOUBLE, comm));
    {
      /* the tuning runs on the first ntune noises, split over the ranks */
      const PetscInt nt = PetscMin(o.ntune, o.nbase), tlo = (PetscInt)(((PetscInt64)rank * nt) / size), thi = (PetscInt)(((PetscInt64)(rank + 1) * nt) / size);
      if (path) PetscCall(GuidePath(comm, model, out, &o, flow, net, sampler, tlo, thi - tlo, xall));
      else PetscCall(GuideObservable(comm, model, out, &o, flow, net, sampler, hi - lo, tlo, thi - tlo, x, xall));
    }
    PetscCall(PetscFree5(x, xl, xall, counts, displs));
  }
done:
  if (is_mesh) PetscCall(PFCLIMeshContextDestroy(&mctx));
  PetscCall(PFSamplerDestroy(&sampler));
  PetscCall(PFNetDestroy(&net));
  PetscCall(PFFlowDestroy(&flow));
  PetscFunctionReturn(PETSC_SUCCESS);
}

