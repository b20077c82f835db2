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
  PetscInt nbase, maxeval, seed, ft_steps;
  PetscBool has_target, has_shift, baseline;
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

/* guided.h5: a copy of the base model with the /guide and /sampler records,
 * written under a temporary name and renamed (rank 0) */
static PetscErrorCode WriteGuided(MPI_Comm comm, const char base[], const char out[], const GuideOptions *o, const PFGuideSchedule *s, const double rec[6], PFSampler sampler)
{
  PetscMPIInt    rank;
  PetscErrorCode ierr = PETSC_SUCCESS;

  PetscFunctionBegin;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  if (rank == 0) {
    char  tmp[PETSC_MAX_PATH_LEN + 32];
    hid_t dst = -1, g;
    PetscCall(PetscSNPrintf(tmp, sizeof(tmp), "%s.tmp.%d", out, (int)getpid()));
    if (CopyFile(base, tmp) || (dst = H5Fopen(tmp, H5F_ACC_RDWR, H5P_DEFAULT)) < 0) ierr = PETSC_ERR_FILE_WRITE;
    if (!ierr) {
      PFSamplerType st;
      PetscInt      steps;
      if (H5Lexists(dst, "sampler", H5P_DEFAULT) > 0) H5Ldelete(dst, "sampler", H5P_DEFAULT);
      g = H5Gcreate2(dst, "guide", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
      PetscCall(PFH5WriteAttrString(g, "type", "observable"));
      PetscCall(PFH5WriteAttrString(g, "observable", o->observable));
      PetscCall(PFH5WriteAttrString(g, "base_model", base));
      PetscCall(PFH5WriteAttrReal(g, "lambda", s->lambda));
      PetscCall(PFH5WriteAttrReal(g, "a", s->a));
      PetscCall(PFH5WriteAttrReal(g, "b", s->b));
      PetscCall(PFH5WriteAttrString(g, "schedule", PFGuideScheduleTypes[s->kind]));
      PetscCall(PFH5WriteAttrString(g, "drift", PFGuideDriftTypes[s->drift]));
      PetscCall(PFH5WriteAttrReal(g, "gamma", o->gamma));
      PetscCall(PFH5WriteAttrReal(g, "sigma", o->sigma));
      PetscCall(PFH5WriteAttrReal(g, "target", rec[0]));
      PetscCall(PFH5WriteAttrReal(g, "base_mean", rec[1]));
      PetscCall(PFH5WriteAttrReal(g, "base_std", rec[2]));
      PetscCall(PFH5WriteAttrReal(g, "maxent_mean", rec[3]));
      PetscCall(PFH5WriteAttrReal(g, "guided_mean", rec[4]));
      PetscCall(PFH5WriteAttrReal(g, "excess_work", rec[5]));
      H5Gclose(g);
      PetscCall(PFSamplerGetType(sampler, &st));
      PetscCall(PFSamplerGetSteps(sampler, &steps));
      g = H5Gcreate2(dst, "sampler", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
      PetscCall(PFH5WriteAttrString(g, "type", st));
      PetscCall(PFH5WriteAttrInt(g, "steps", steps));
      H5Gclose(g);
    }
    if (dst >= 0 && H5Fclose(dst) < 0) ierr = PETSC_ERR_FILE_WRITE;
    if (!ierr && rename(tmp, out)) ierr = PETSC_ERR_FILE_WRITE;
    if (ierr) unlink(tmp);
  }
  PetscCallMPI(MPI_Bcast(&ierr, 1, MPI_INT, 0, comm));
  PetscCheck(!ierr, comm, PETSC_ERR_FILE_WRITE, "could not write the guided model '%s'", out);
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* The naive baseline: base samples resampled by the max-ent weights (keyed
 * systematic resampling), then the base model fine-tuned on them */
static PetscErrorCode NaiveBaseline(MPI_Comm comm, const char model[], const char out[], PetscInt N, PetscInt d, const double *xall, const double *fall, double lambda, const GuideOptions *o)
{
  char           data[PETSC_MAX_PATH_LEN + 16], val[32];
  double        *w, *pick, mx = -INFINITY, tot = 0, u;
  PFRNG          r;
  PFCLITrainSpec spec = {.cmd = "guide", .finetune = PETSC_TRUE};

  PetscFunctionBegin;
  PetscCall(PetscMalloc2(N, &w, (size_t)N * d, &pick));
  for (PetscInt i = 0; i < N; i++) mx = PetscMax(mx, -lambda * fall[i]);
  for (PetscInt i = 0; i < N; i++) tot += (w[i] = exp(-lambda * fall[i] - mx));
  PFRNGInit(&r, (uint64_t)o->seed, PF_RNG_EVAL, 77, 0);
  u = PFRNGUniform(&r) / (double)N;
  {
    PetscInt i = 0;
    double   c = w[0] / tot;
    for (PetscInt k = 0; k < N; k++) {
      while (c < u + (double)k / N && i < N - 1) c += w[++i] / tot;
      PetscCall(PetscArraycpy(pick + (size_t)k * d, xall + (size_t)i * d, d));
    }
  }
  PetscCall(PetscSNPrintf(data, sizeof(data), "%s.reweighted.h5", out));
  PetscCall(PFSamplesWrite(comm, data, "dataset", N, d, pick, 0));
  PetscCall(PetscFree2(w, pick));
  PetscCall(PetscOptionsSetValue(NULL, "-model", model));
  PetscCall(PetscOptionsSetValue(NULL, "-data", data));
  PetscCall(PetscOptionsSetValue(NULL, "-o", out));
  PetscCall(PetscOptionsSetValue(NULL, "-constraint", "none"));
  PetscCall(PetscSNPrintf(val, sizeof(val), "%" PetscInt_FMT, o->ft_steps));
  PetscCall(PetscOptionsSetValue(NULL, "-train_steps", val));
  PetscCall(PetscPrintf(comm, "physflow guide: naive baseline: fine-tuning %s for %" PetscInt_FMT " steps on %" PetscInt_FMT " base samples resampled by the max-ent weights (%s)\n", model, o->ft_steps, N, data));
  PetscCall(PFCLITrainRun(comm, &spec));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFCommandGuide(MPI_Comm comm)
{
  char         model[PETSC_MAX_PATH_LEN] = "", out[PETSC_MAX_PATH_LEN] = "guided.h5", type[32] = "observable";
  GuideOptions o = {"x0", 0, 0, 0, 1e-3, 4000, 40, 0, 2000, PETSC_FALSE, PETSC_FALSE, PETSC_FALSE, PF_GUIDE_EXP, PF_GUIDE_TWEEDIE};
  PetscBool    has_model, help, is_mesh = PETSC_FALSE;
  PFSampler    sampler;
  PFNet        net  = NULL;
  PFFlow       flow = NULL;
  PFObservable obs  = NULL;
  PetscMPIInt  rank, size;
  char         list[512];

  PetscFunctionBegin;
  PetscCall(PFObservableList(list, sizeof(list)));
  PetscOptionsBegin(comm, NULL, "physflow guide: minimum-excess-work guidance of a pretrained flow", "guide");
  PetscCall(PetscOptionsString("-model", "Base model (written by train)", "guide", model, model, sizeof(model), &has_model));
  PetscCall(PetscOptionsString("-guide_type", "observable (path: next)", "guide", type, type, sizeof(type), NULL));
  PetscCall(PetscOptionsString("-observable", list, "guide", o.observable, o.observable, sizeof(o.observable), NULL));
  PetscCall(PetscOptionsReal("-observable_target", "Target mean of the observable", "guide", o.target, &o.target, &o.has_target));
  PetscCall(PetscOptionsReal("-observable_shift", "Or: target = base mean + this many base standard deviations", "guide", o.shift, &o.shift, &o.has_shift));
  PetscCall(PetscOptionsReal("-observable_sigma", "Uncertainty of the target (Gaussian): the max-ent answer then stops short of it", "guide", o.sigma, &o.sigma, NULL));
  PetscCall(PetscOptionsEnum("-guide_schedule", "Family of alpha(t): exp (a exp(-b (1-t)), the paper's) or power (a (1-t)^b)", "guide", PFGuideScheduleTypes, (PetscEnum)o.schedule, (PetscEnum *)&o.schedule, NULL));
  PetscCall(PetscOptionsEnum("-guide_drift", "Direction of the drift: x1hat (grad f at the x1 estimate) or tweedie (J^T grad f, the exact tilt's first order)", "guide", PFGuideDriftTypes, (PetscEnum)o.drift, (PetscEnum *)&o.drift, NULL));
  PetscCall(PetscOptionsReal("-guide_gamma", "Weight gamma of the excess work against the task loss", "guide", o.gamma, &o.gamma, NULL));
  PetscCall(PetscOptionsInt("-guide_samples", "Base samples for the max-ent reweighting and the tuning", "guide", o.nbase, &o.nbase, NULL));
  PetscCall(PetscOptionsInt("-guide_tune_evals", "Guided sampling runs of the schedule tuning (Nelder-Mead)", "guide", o.maxeval, &o.maxeval, NULL));
  PetscCall(PetscOptionsInt("-seed", "Seed of the base samples' noise", "guide", o.seed, &o.seed, NULL));
  PetscCall(PetscOptionsBool("-guide_baseline", "Write the naive baseline instead: the base model fine-tuned on max-ent-resampled base samples", "guide", o.baseline, &o.baseline, NULL));
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
  PetscCheck(!strcmp(type, "observable"), comm, PETSC_ERR_ARG_WRONG, "unknown -guide_type '%s' (available: observable)", type);
  PetscCheck(!is_mesh, comm, PETSC_ERR_SUP, "guidance of mesh (PDE field) models is not implemented yet: vector models only");
  PetscCheck(o.has_target != o.has_shift, comm, PETSC_ERR_ARG_WRONG, "give the observable's target: -observable_target VALUE or -observable_shift K (base mean + K std)");
  PetscCheck(o.sigma >= 0 && o.gamma >= 0 && o.nbase >= 2 && o.maxeval >= 3 && o.ft_steps >= 1, comm, PETSC_ERR_ARG_OUTOFRANGE, "-observable_sigma and -guide_gamma must be >= 0, -guide_samples >= 2, -guide_tune_evals >= 3");
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
  PetscCall(PFObservableCreate(comm, o.observable, net->nin, &obs));
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  PetscCallMPI(MPI_Comm_size(comm, &size));
  {
    const PetscInt n = net->nin, lo = (PetscInt)(((PetscInt64)rank * o.nbase) / size), hi = (PetscInt)(((PetscInt64)(rank + 1) * o.nbase) / size);
    pfreal        *x;
    double        *f, *fall, *xl, *xall, mean = 0, var = 0, lambda, mw, gmean, work;
    PetscInt       nfe;
    PetscMPIInt   *counts, *displs, cnt = (PetscMPIInt)(hi - lo);
    PFGuideSchedule s;
    PFGuideTuneParams tp;

    PetscCall(PFNetPlan(net, PetscMax(1, PetscMin(4096, hi - lo))));
    PetscCall(PetscMalloc4((size_t)(hi - lo) * n + 1, &x, hi - lo + 1, &f, o.nbase, &fall, (size_t)o.nbase * n, &xall));
    PetscCall(PetscMalloc3(size, &counts, size, &displs, (size_t)(hi - lo) * n + 1, &xl));
    PetscCall(PFFlowSample(flow, net, sampler, (uint64_t)o.seed, lo, hi - lo, x, &nfe));
    PetscCall(PFObservableEval(obs, hi - lo, x, f, NULL));
    PetscCallMPI(MPI_Allgather(&cnt, 1, MPI_INT, counts, 1, MPI_INT, comm));
    displs[0] = 0;
    for (PetscMPIInt q = 1; q < size; q++) displs[q] = displs[q - 1] + counts[q - 1];
    PetscCallMPI(MPI_Allgatherv(f, cnt, MPI_DOUBLE, fall, counts, displs, MPI_DOUBLE, comm));
    for (PetscInt i = 0; i < o.nbase; i++) mean += fall[i] / o.nbase;
    for (PetscInt i = 0; i < o.nbase; i++) var += (fall[i] - mean) * (fall[i] - mean) / (o.nbase - 1);
    if (o.has_shift) o.target = mean + o.shift * sqrt(var);
    PetscCall(PFMaxEntLambda(o.nbase, fall, o.target, o.sigma, &lambda, &mw));
    PetscCall(PetscPrintf(comm, "physflow guide: observable %s of %" PetscInt_FMT " base samples (%s, %" PetscInt_FMT " evaluations): mean %.5g, std %.5g; target %.5g; max-ent tilt exp(-lambda f), lambda = %.5g, reweighted mean %.5g\n", o.observable, o.nbase, "base sampler", nfe, mean, sqrt(var), o.target, lambda, mw));
    if (o.baseline) {
      for (PetscInt i = 0; i < (hi - lo) * n; i++) xl[i] = (double)x[i];
      for (PetscMPIInt q = 0; q < size; q++) counts[q] *= (PetscMPIInt)n, displs[q] *= (PetscMPIInt)n;
      PetscCallMPI(MPI_Allgatherv(xl, cnt * (PetscMPIInt)n, MPI_DOUBLE, xall, counts, displs, MPI_DOUBLE, comm));
      PetscCall(NaiveBaseline(comm, model, out, o.nbase, n, xall, fall, lambda, &o));
    } else {
      s.lambda = lambda, s.a = 1, s.kind = o.schedule, s.drift = o.drift, s.b = o.schedule == PF_GUIDE_POWER ? 1 : 2;
      tp.target  = mw, tp.var = var, tp.gamma = o.gamma, tp.maxeval = o.maxeval;
      PetscCall(PetscPrintf(comm, "physflow guide: tuning the schedule alpha(t) = %s on task loss + %g x excess work\n", o.schedule == PF_GUIDE_POWER ? "a (1 - t)^b" : "a exp(-b (1 - t))", o.gamma));
      PetscCall(PFGuideTune(flow, net, sampler, obs, &tp, (uint64_t)o.seed, lo, hi - lo, &s, &gmean, &work));
      PetscCall(PetscPrintf(comm, "physflow guide: a = %.5g, b = %.5g: guided mean %.5g (target %.5g, %.3f base std away), excess work %.4e -> %s\n", s.a, s.b, gmean, mw, fabs(gmean - mw) / sqrt(var), work, out));
      {
        double rec[6] = {mw, mean, sqrt(var), mw, gmean, work};
        PetscCall(WriteGuided(comm, model, out, &o, &s, rec, sampler));
      }
    }
    PetscCall(PetscFree4(x, f, fall, xall));
    PetscCall(PetscFree3(counts, displs, xl));
  }
done:
  PetscCall(PFObservableDestroy(&obs));
  PetscCall(PFSamplerDestroy(&sampler));
  PetscCall(PFNetDestroy(&net));
  PetscCall(PFFlowDestroy(&flow));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFCLIGuideLoad(MPI_Comm comm, const char path[], PetscInt n, PFObservable *obs, PFGuideSchedule *s)
{
  char        name[64] = "", kind[16] = "exp", drift[16] = "x1hat";
  double      v[3]     = {0, 0, 0};
  PetscMPIInt rank;
  PetscBool   has;

  PetscFunctionBegin;
  *obs = NULL;
  PetscCall(PFCLIPeek(comm, path, "guide", NULL, &has, NULL, 0));
  if (!has) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  if (rank == 0) {
    hid_t fid, g;
    PetscCall(PFH5OpenRead(path, &fid));
    g = H5Gopen2(fid, "guide", H5P_DEFAULT);
    PetscCall(PFH5ReadAttrString(g, "observable", name, sizeof(name)));
    PetscCall(PFH5ReadAttrReal(g, "lambda", &v[0]));
    PetscCall(PFH5ReadAttrReal(g, "a", &v[1]));
    PetscCall(PFH5ReadAttrReal(g, "b", &v[2]));
    if (H5Aexists(g, "schedule") > 0) PetscCall(PFH5ReadAttrString(g, "schedule", kind, sizeof(kind)));
    if (H5Aexists(g, "drift") > 0) PetscCall(PFH5ReadAttrString(g, "drift", drift, sizeof(drift)));
    H5Gclose(g);
    PetscCall(PFH5Close(&fid));
  }
  PetscCallMPI(MPI_Bcast(name, sizeof(name), MPI_CHAR, 0, comm));
  PetscCallMPI(MPI_Bcast(v, 3, MPI_DOUBLE, 0, comm));
  PetscCallMPI(MPI_Bcast(kind, sizeof(kind), MPI_CHAR, 0, comm));
  PetscCallMPI(MPI_Bcast(drift, sizeof(drift), MPI_CHAR, 0, comm));
  s->kind  = strcmp(kind, "power") ? PF_GUIDE_EXP : PF_GUIDE_POWER;
  s->drift = strcmp(drift, "tweedie") ? PF_GUIDE_X1HAT : PF_GUIDE_TWEEDIE;
  PetscCheck(isfinite(v[0]) && isfinite(v[1]) && isfinite(v[2]) && v[1] >= 0, comm, PETSC_ERR_FILE_UNEXPECTED, "'%s': corrupt /guide record", path);
  s->lambda = v[0], s->a = v[1], s->b = v[2];
  PetscCall(PFObservableCreate(comm, name, n, obs));
  PetscFunctionReturn(PETSC_SUCCESS);
}
