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
#include <physflow/guide.h>
#include <physflow/h5util.h>
#include <physflow/rng.h>
#include "cli.h"

typedef struct {
  char     observable[64];
  double   target, shift, sigma, gamma;
  PetscInt nbase, maxeval, seed, ft_steps, ntune;
  PetscBool has_target, has_shift, baseline;
  double    box[4], fraction;
  PetscInt  nguides;
  PFGuideScheduleType schedule;
  PFGuideDriftType    drift;
} GuideOptions;

/* a byte copy of a file */
static int CopyFile(const char from[], const char to[])
{
  FILE  *a = fopen(from, "rb"), *b = a ? fopen(to, "wb") : NULL;
  char   buf[1 << 16];
  size_t k;
  int    bad = !a || !b;
  while (!bad && (k = fread(buf, 1, sizeof(buf), a)) > 0) bad = fwrite(buf, 1, k, b) != k;
  if (a) bad |= ferror(a), fclose(a);
  if (b) bad |= fclose(b) != 0;
  return bad;
}

/* The /guide record of one guidance: observable (s) or path (pg) */
static PetscErrorCode WriteRecord(hid_t fid, const char base[], const GuideOptions *o, const PFGuideSchedule *s, const PFPathGuide *pg, const double rec[6])
{
  hid_t g = H5Gcreate2(fid, "guide", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);

  PetscFunctionBegin;
  PetscCheck(g >= 0, PETSC_COMM_SELF, PETSC_ERR_FILE_WRITE, "cannot create /guide");
  PetscCall(PFH5WriteAttrString(g, "base_model", base));
  PetscCall(PFH5WriteAttrReal(g, "gamma", o->gamma));
  PetscCall(PFH5WriteAttrReal(g, "excess_work", rec[5]));
  if (s) {
    PetscCall(PFH5WriteAttrString(g, "type", "observable"));
    PetscCall(PFH5WriteAttrString(g, "observable", o->observable));
    PetscCall(PFH5WriteAttrReal(g, "lambda", s->lambda));
    PetscCall(PFH5WriteAttrReal(g, "a", s->a));
    PetscCall(PFH5WriteAttrReal(g, "b", s->b));
    PetscCall(PFH5WriteAttrString(g, "schedule", PFGuideScheduleTypes[s->kind]));
    PetscCall(PFH5WriteAttrString(g, "drift", PFGuideDriftTypes[s->drift]));
    PetscCall(PFH5WriteAttrReal(g, "sigma", o->sigma));
    PetscCall(PFH5WriteAttrReal(g, "target", rec[0]));
    PetscCall(PFH5WriteAttrReal(g, "base_mean", rec[1]));
    PetscCall(PFH5WriteAttrReal(g, "base_std", rec[2]));
    PetscCall(PFH5WriteAttrReal(g, "maxent_mean", rec[3]));
    PetscCall(PFH5WriteAttrReal(g, "guided_mean", rec[4]));
    H5Gclose(g);
  } else {
    hsize_t dims[3] = {(hsize_t)pg->K + 1, (hsize_t)pg->M, (hsize_t)pg->n}, d4[1] = {4};
    PetscCall(PFH5WriteAttrString(g, "type", "path"));
    PetscCall(PFH5WriteAttrReal(g, "a", pg->a));
    PetscCall(PFH5WriteAttrReal(g, "b", pg->b));
    PetscCall(PFH5WriteAttrReal(g, "h0", pg->h0));
    PetscCall(PFH5WriteAttrReal(g, "base_fraction", rec[0]));
    PetscCall(PFH5WriteAttrReal(g, "guided_fraction", rec[1]));
    H5Gclose(g);
    PetscCall(PFH5WriteArray(fid, "guide/region", H5T_NATIVE_DOUBLE, H5T_IEEE_F64LE, 1, d4, o->box));
    PetscCall(PFH5WriteArray(fid, "guide/paths", H5T_NATIVE_PFREAL, H5T_IEEE_F32LE, 3, dims, pg->Y));
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* /sampler: the sampler the guidance was tuned with (physflow sample's default) */
static PetscErrorCode WriteSampler(hid_t fid, PFSampler sampler)
{
  PFSamplerType st;
  PetscInt      steps;
  hid_t         g;

  PetscFunctionBegin;
  PetscCall(PFSamplerGetType(sampler, &st));
  PetscCall(PFSamplerGetSteps(sampler, &steps));
  g = H5Gcreate2(fid, "sampler", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  PetscCheck(g >= 0, PETSC_COMM_SELF, PETSC_ERR_FILE_WRITE, "cannot create /sampler");
  PetscCall(PFH5WriteAttrString(g, "type", st));
  PetscCall(PFH5WriteAttrInt(g, "steps", steps));
  H5Gclose(g);
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* guided.h5: a copy of the base model with the /guide and /sampler records,
 * written under a temporary name and renamed (rank 0) */
static PetscErrorCode WriteGuided(MPI_Comm comm, const char base[], const char out[], const GuideOptions *o, const PFGuideSchedule *s, const PFPathGuide *pg, const double rec[6], PFSampler sampler)
{
  PetscMPIInt    rank;
  PetscErrorCode ierr = PETSC_SUCCESS;

  PetscFunctionBegin;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  if (rank == 0) {
    char  tmp[PETSC_MAX_PATH_LEN + 32];
    hid_t dst = -1;
    PetscCall(PetscSNPrintf(tmp, sizeof(tmp), "%s.tmp.%d", out, (int)getpid()));
    if (CopyFile(base, tmp) || (dst = H5Fopen(tmp, H5F_ACC_RDWR, H5P_DEFAULT)) < 0) ierr = PETSC_ERR_FILE_WRITE;
    if (!ierr) {
      if (H5Lexists(dst, "sampler", H5P_DEFAULT) > 0) H5Ldelete(dst, "sampler", H5P_DEFAULT);
      /* errors are kept (not returned) so that the file is closed and the
       * temporary removed, and the outcome reaches every rank */
      ierr = WriteRecord(dst, base, o, s, pg, rec);
      if (!ierr) ierr = WriteSampler(dst, sampler);
    }
    if (dst >= 0 && H5Fclose(dst) < 0) ierr = PETSC_ERR_FILE_WRITE;
    if (!ierr && rename(tmp, out)) ierr = PETSC_ERR_FILE_WRITE;
    if (ierr) unlink(tmp);
  }
  PetscCallMPI(MPI_Bcast(&ierr, 1, MPI_INT, 0, comm));
  PetscCheck(!ierr, comm, PETSC_ERR_FILE_WRITE, "could not write the guided model '%s'", out);
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* The naive baseline: the base model fine-tuned on the samples x [N d]
 * (written to <out>.<what>.h5) */
static PetscErrorCode FinetuneOn(MPI_Comm comm, const char model[], const char out[], const char what[], PetscInt N, PetscInt d, const double *x, const GuideOptions *o)
{
  char           data[PETSC_MAX_PATH_LEN + 32], val[32];
  PFCLITrainSpec spec = {.cmd = "guide", .finetune = PETSC_TRUE};

  PetscFunctionBegin;
  PetscCall(PetscSNPrintf(data, sizeof(data), "%s.%s.h5", out, what));
  PetscCall(PFSamplesWrite(comm, data, "dataset", N, d, x, 0));
  PetscCall(PetscOptionsSetValue(NULL, "-model", model));
  PetscCall(PetscOptionsSetValue(NULL, "-data", data));
  PetscCall(PetscOptionsSetValue(NULL, "-o", out));
  PetscCall(PetscOptionsSetValue(NULL, "-constraint", "none"));
  PetscCall(PetscSNPrintf(val, sizeof(val), "%" PetscInt_FMT, o->ft_steps));
  PetscCall(PetscOptionsSetValue(NULL, "-train_steps", val));
  PetscCall(PetscPrintf(comm, "physflow guide: naive baseline: fine-tuning %s for %" PetscInt_FMT " steps on %" PetscInt_FMT " %s samples (%s)\n", model, o->ft_steps, N, what, data));
  PetscCall(PFCLITrainRun(comm, &spec));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* base samples resampled by the max-ent weights exp(-lambda f) (keyed
 * systematic resampling) */
static PetscErrorCode Resample(PetscInt N, PetscInt d, const double *x, const double *f, double lambda, PetscInt seed, double *pick)
{
  double *w, mx = -INFINITY, tot = 0, u, c;
  PFRNG   r;

  PetscFunctionBegin;
  PetscCall(PetscMalloc1(N, &w));
  for (PetscInt i = 0; i < N; i++) mx = PetscMax(mx, -lambda * f[i]);
  for (PetscInt i = 0; i < N; i++) tot += (w[i] = exp(-lambda * f[i] - mx));
  PFRNGInit(&r, (uint64_t)seed, PF_RNG_EVAL, 77, 0);
  u = PFRNGUniform(&r) / (double)N;
  c = w[0] / tot;
  for (PetscInt i = 0, k = 0; k < N; k++) {
    while (c < u + (double)k / N && i < N - 1) c += w[++i] / tot;
    PetscCall(PetscArraycpy(pick + (size_t)k * d, x + (size_t)i * d, d));
  }
  PetscCall(PetscFree(w));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Observable guidance: max-ent lambda from the base samples' f, then the tuned schedule */
static PetscErrorCode GuideObservable(MPI_Comm comm, const char model[], const char out[], GuideOptions *o, PFFlow flow, PFNet net, PFSampler sampler, PetscInt nloc, PetscInt tlo, PetscInt ntl, const pfreal *x, const double *xall)
{
  const PetscInt n = net->nin;
  PFObservable   obs;
  double        *f, *fall, mean = 0, var = 0, lambda, mw;
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
  for (PetscInt i = 0; i < o->nbase; i++) mean += fall[i] / o->nbase;
  for (PetscInt i = 0; i < o->nbase; i++) var += (fall[i] - mean) * (fall[i] - mean) / (o->nbase - 1);
  if (o->has_shift) o->target = mean + o->shift * sqrt(var);
  PetscCall(PFMaxEntLambda(o->nbase, fall, o->target, o->sigma, &lambda, &mw));
  PetscCall(PetscPrintf(comm, "physflow guide: observable %s of %" PetscInt_FMT " base samples: mean %.5g, std %.5g; target %.5g; max-ent tilt exp(-lambda f), lambda = %.5g, reweighted mean %.5g\n", o->observable, o->nbase, mean, sqrt(var), o->target, lambda, mw));
  if (o->baseline) {
    double *pick;
    PetscCall(PetscMalloc1((size_t)o->nbase * n, &pick));
    PetscCall(Resample(o->nbase, n, xall, fall, lambda, o->seed, pick));
    PetscCall(FinetuneOn(comm, model, out, "reweighted", o->nbase, n, pick, o));
    PetscCall(PetscFree(pick));
  } else {
    PFGuideSchedule   s  = {lambda, 1, o->schedule == PF_GUIDE_POWER ? 1 : 2, o->schedule, o->drift};
    PFGuideTuneParams tp = {mw, var, o->gamma, o->maxeval};
    double            gmean, work;
    PetscCall(PetscPrintf(comm, "physflow guide: tuning the schedule alpha(t) = %s on task loss + %g x excess work\n", o->schedule == PF_GUIDE_POWER ? "a (1 - t)^b" : "a exp(-b (1 - t))", o->gamma));
    PetscCall(PFGuideTune(flow, net, sampler, obs, &tp, (uint64_t)o->seed, tlo, ntl, &s, &gmean, &work));
    PetscCall(PetscPrintf(comm, "physflow guide: a = %.5g, b = %.5g: guided mean %.5g (target %.5g, %.3f base std away), excess work %.4e -> %s\n", s.a, s.b, gmean, mw, fabs(gmean - mw) / sqrt(var), work, out));
    {
      double rec[6] = {o->target, mean, sqrt(var), mw, gmean, work};
      PetscCall(WriteGuided(comm, model, out, o, &s, NULL, rec, sampler));
    }
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
  if (o->baseline) {
    double *gd;
    PetscCall(PetscMalloc1((size_t)M * n, &gd));
    for (size_t q = 0; q < (size_t)M * n; q++) gd[q] = (double)g[q];
    PetscCall(FinetuneOn(comm, model, out, "guides", M, n, gd, o));
    PetscCall(PetscFree(gd));
  } else {
    PFPathTuneParams tp = {{o->box[0], o->box[1], o->box[2], o->box[3]}, o->gamma, o->fraction, o->maxeval};
    double           frac, work;
    PetscCall(PFSamplerGetSteps(sampler, &K));
    PetscCall(PFPathGuideBuild(net, PetscMax(K, 10), M, g, &pg));
    pg.a = 1, pg.b = 0, pg.h0 = 0.3;
    PetscCall(PetscPrintf(comm, "physflow guide: tuning alpha(t) = a exp(-b (1 - t)) and the bandwidth h0 on reaching %g of the samples inside + %g x excess work\n", o->fraction, o->gamma));
    PetscCall(PFPathGuideTune(flow, net, sampler, &tp, comm, (uint64_t)o->seed, lo, nloc, &pg, &frac, &work));
    PetscCall(PetscPrintf(comm, "physflow guide: a = %.5g, b = %.5g, h0 = %.4g: %.1f%% of the guided samples inside (base %.2f%%), excess work %.4e -> %s\n", pg.a, pg.b, pg.h0, 100 * frac, 100 * o->target, work, out));
    {
      double rec[6] = {o->target, frac, 0, 0, 0, work};
      PetscCall(WriteGuided(comm, model, out, o, NULL, &pg, rec, sampler));
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
  PetscInt     nbox = 4;
  PFSampler    sampler;
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
  PetscCall(PetscOptionsRealArray("-path_region", "Path guidance: the box xmin,xmax,ymin,ymax of the first two values", "guide", o.box, &nbox, &has_box));
  PetscCall(PetscOptionsReal("-path_fraction", "Path guidance: the fraction of samples to bring into the region", "guide", o.fraction, &o.fraction, NULL));
  PetscCall(PetscOptionsInt("-path_guides", "Path guidance: at most this many guiding samples (base samples inside the region)", "guide", o.nguides, &o.nguides, NULL));
  PetscCall(PetscOptionsEnum("-guide_schedule", "Family of alpha(t): exp (a exp(-b (1-t)), the paper's) or power (a (1-t)^b)", "guide", PFGuideScheduleTypes, (PetscEnum)o.schedule, (PetscEnum *)&o.schedule, NULL));
  PetscCall(PetscOptionsEnum("-guide_drift", "Direction of the drift: x1hat (grad f at the x1 estimate) or tweedie (J^T grad f, the exact tilt's first order)", "guide", PFGuideDriftTypes, (PetscEnum)o.drift, (PetscEnum *)&o.drift, NULL));
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
  if (!o.baseline) PetscCall(PFCLIOptionsDone(comm, "guide", &help));
  PetscCheck(has_model, comm, PETSC_ERR_ARG_WRONG, "give the base model: -model base.h5");
  {
    PetscBool set;
    PetscCall(PFCLIPeek(comm, model, "arch", NULL, &set, NULL, 0));
    PetscCheck(set, comm, PETSC_ERR_FILE_OPEN, "cannot read model '%s': no such file, not HDF5, or not a model", model);
    PetscCall(PFCLIIsMeshModel(comm, model, &is_mesh));
    PetscCall(PFCLIPeek(comm, model, "guide", NULL, &set, NULL, 0));
    PetscCheck(!set, comm, PETSC_ERR_ARG_WRONG, "'%s' is already a guided model: guide its base model", model);
  }
  path = (PetscBool)!strcmp(type, "path");
  PetscCheck(path || !strcmp(type, "observable"), comm, PETSC_ERR_ARG_WRONG, "unknown -guide_type '%s' (available: observable, path)", type);
  PetscCheck(!is_mesh, comm, PETSC_ERR_SUP, "guidance of mesh (PDE field) models is not implemented yet: vector models only");
  if (path) {
    PetscCheck(has_box && nbox == 4 && o.box[0] < o.box[1] && o.box[2] < o.box[3], comm, PETSC_ERR_ARG_WRONG, "path guidance needs -path_region xmin,xmax,ymin,ymax (a non-empty box)");
    PetscCheck(o.nguides >= 2 && o.fraction > 0 && o.fraction <= 1, comm, PETSC_ERR_ARG_OUTOFRANGE, "-path_guides must be >= 2 and -path_fraction in (0, 1]");
  } else PetscCheck(o.has_target != o.has_shift, comm, PETSC_ERR_ARG_WRONG, "give the observable's target: -observable_target VALUE or -observable_shift K (base mean + K std)");
  PetscCheck(o.sigma >= 0 && o.gamma >= 0 && o.nbase >= 2 && o.maxeval >= 4 && o.ft_steps >= 1 && o.ntune >= 1, comm, PETSC_ERR_ARG_OUTOFRANGE, "-observable_sigma and -guide_gamma must be >= 0, -guide_samples >= 2, -guide_tune_evals >= 4, -guide_tune_samples >= 1");
  {
    PetscBool same;
    PetscCall(PetscStrcmp(model, out, &same));
    PetscCheck(!same, comm, PETSC_ERR_ARG_WRONG, "-o must differ from the base -model");
  }
  PetscCall(PFCheckWritable(comm, out));
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
  PetscCall(PFSamplerDestroy(&sampler));
  PetscCall(PFNetDestroy(&net));
  PetscCall(PFFlowDestroy(&flow));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode ReadGuideRecord(const char path[], const char type[], char name[64], char kind[16], char drift[16], double v[4], PetscInt dims[3])
{
  hid_t fid, g;

  PetscFunctionBegin;
  PetscCall(PFH5OpenRead(path, &fid));
  g = H5Gopen2(fid, "guide", H5P_DEFAULT);
  PetscCheck(g >= 0, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED, "no /guide");
  PetscCall(PFH5ReadAttrReal(g, "a", &v[1]));
  PetscCall(PFH5ReadAttrReal(g, "b", &v[2]));
  if (!strcmp(type, "observable")) {
    PetscCall(PFH5ReadAttrString(g, "observable", name, 64));
    PetscCall(PFH5ReadAttrReal(g, "lambda", &v[0]));
    if (H5Aexists(g, "schedule") > 0) PetscCall(PFH5ReadAttrString(g, "schedule", kind, 16));
    if (H5Aexists(g, "drift") > 0) PetscCall(PFH5ReadAttrString(g, "drift", drift, 16));
  } else {
    hsize_t d[3];
    PetscCall(PFH5ReadAttrReal(g, "h0", &v[3]));
    PetscCall(PFH5GetDims(fid, path, "guide/paths", 3, d));
    for (int k = 0; k < 3; k++) dims[k] = (PetscInt)d[k];
  }
  H5Gclose(g);
  PetscCall(PFH5Close(&fid));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFCLIGuideLoad(MPI_Comm comm, const char path[], PetscInt n, PFObservable *obs, PFGuideSchedule *s, PFPathGuide *pg)
{
  char        type[16] = "", name[64] = "", kind[16] = "exp", drift[16] = "x1hat";
  double      v[4] = {0, 0, 0, 0};
  PetscInt    dims[3] = {0, 0, 0};
  PetscMPIInt rank;
  PetscBool   has;

  PetscFunctionBegin;
  *obs   = NULL;
  pg->Y  = NULL;
  PetscCall(PFCLIPeek(comm, path, "guide", "type", &has, type, sizeof(type)));
  if (!has) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCheck(!strcmp(type, "observable") || !strcmp(type, "path"), comm, PETSC_ERR_FILE_UNEXPECTED, "'%s': unknown guidance type '%s'", path, type);
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  {
    /* rank 0 reads; a failure reaches every rank (not a rank-0 return
     * that leaves the others in the broadcast) */
    PetscErrorCode ierr = rank == 0 ? ReadGuideRecord(path, type, name, kind, drift, v, dims) : PETSC_SUCCESS;
    PetscCallMPI(MPI_Bcast(&ierr, 1, MPI_INT, 0, comm));
    PetscCheck(!ierr, comm, PETSC_ERR_FILE_UNEXPECTED, "'%s': cannot read its /guide record (corrupt guided model?)", path);
  }
  PetscCallMPI(MPI_Bcast(name, sizeof(name), MPI_CHAR, 0, comm));
  PetscCallMPI(MPI_Bcast(kind, sizeof(kind), MPI_CHAR, 0, comm));
  PetscCallMPI(MPI_Bcast(drift, sizeof(drift), MPI_CHAR, 0, comm));
  PetscCallMPI(MPI_Bcast(v, 4, MPI_DOUBLE, 0, comm));
  PetscCallMPI(MPI_Bcast(dims, 3, MPIU_INT, 0, comm));
  PetscCheck(isfinite(v[0]) && isfinite(v[1]) && isfinite(v[2]) && isfinite(v[3]) && v[1] >= 0, comm, PETSC_ERR_FILE_UNEXPECTED, "'%s': corrupt /guide record", path);
  if (!strcmp(type, "observable")) {
    s->lambda = v[0], s->a = v[1], s->b = v[2];
    s->kind  = strcmp(kind, "power") ? PF_GUIDE_EXP : PF_GUIDE_POWER;
    s->drift = strcmp(drift, "tweedie") ? PF_GUIDE_X1HAT : PF_GUIDE_TWEEDIE;
    PetscCall(PFObservableCreate(comm, name, n, obs));
    PetscFunctionReturn(PETSC_SUCCESS);
  }
  PetscCheck(dims[0] >= 2 && dims[1] >= 1 && dims[2] == n && v[3] > 0, comm, PETSC_ERR_FILE_UNEXPECTED, "'%s': corrupt path guidance (paths %" PetscInt_FMT " x %" PetscInt_FMT " x %" PetscInt_FMT " for states of %" PetscInt_FMT ")", path, dims[0], dims[1], dims[2], n);
  pg->K = dims[0] - 1, pg->M = dims[1], pg->n = dims[2];
  pg->a = v[1], pg->b = v[2], pg->h0 = v[3];
  PetscCall(PetscMalloc1((size_t)dims[0] * dims[1] * dims[2], &pg->Y));
  {
    PetscErrorCode ierr = PETSC_SUCCESS;
    if (rank == 0) {
      hid_t fid;
      ierr = PFH5OpenRead(path, &fid);
      if (!ierr) ierr = PFH5ReadArray(fid, path, "guide/paths", H5T_NATIVE_PFREAL, (size_t)dims[0] * dims[1] * dims[2], pg->Y);
      if (!ierr) ierr = PFH5Close(&fid);
    }
    PetscCallMPI(MPI_Bcast(&ierr, 1, MPI_INT, 0, comm));
    PetscCheck(!ierr, comm, PETSC_ERR_FILE_UNEXPECTED, "'%s': cannot read the guiding paths", path);
  }
  PetscCallMPI(MPI_Bcast(pg->Y, (PetscMPIInt)(dims[0] * dims[1] * dims[2]), MPIU_PFREAL, 0, comm));
  PetscFunctionReturn(PETSC_SUCCESS);
}
