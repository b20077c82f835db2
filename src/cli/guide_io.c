/* The guided model file (physflow guide, include/physflow/guide.h):
 * guided.h5 = the base model + /guide (what physflow sample needs to guide
 * it) + /sampler (the sampler the guidance was tuned with).  Path guidance
 * of mesh models stores its paths in natural vertex order, so the file does
 * not depend on the rank layout. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <physflow/h5util.h>
#include <physflow/rng.h>
#include "guide_cli.h"

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

/* the observable's name and where it looks (region, boundary group) */
static PetscErrorCode WriteObservable(hid_t g, hid_t fid, const GuideOptions *o)
{
  PetscFunctionBegin;
  PetscCall(PFH5WriteAttrString(g, "observable", o->observable));
  if (o->group[0]) PetscCall(PFH5WriteAttrString(g, "group", o->group));
  if (o->has_region) {
    hsize_t d4[1] = {4};
    PetscCall(PFH5WriteArray(fid, "guide/observable_region", H5T_NATIVE_DOUBLE, H5T_IEEE_F64LE, 1, d4, o->region));
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode WriteRecord(hid_t fid, const char base[], const GuideOptions *o, const GuideRecord *r)
{
  hid_t g = H5Gcreate2(fid, "guide", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);

  PetscFunctionBegin;
  PetscCheck(g >= 0, PETSC_COMM_SELF, PETSC_ERR_FILE_WRITE, "cannot create /guide");
  PetscCall(PFH5WriteAttrString(g, "base_model", base));
  PetscCall(PFH5WriteAttrReal(g, "gamma", o->gamma));
  PetscCall(PFH5WriteAttrReal(g, "excess_work", r->rec[5]));
  if (r->s) {
    const PFGuideSchedule *s = r->s;
    PetscCall(PFH5WriteAttrString(g, "type", "observable"));
    PetscCall(WriteObservable(g, fid, o));
    PetscCall(PFH5WriteAttrReal(g, "lambda", s->lambda));
    PetscCall(PFH5WriteAttrReal(g, "a", s->a));
    PetscCall(PFH5WriteAttrReal(g, "b", s->b));
    PetscCall(PFH5WriteAttrString(g, "schedule", PFGuideScheduleTypes[s->kind]));
    PetscCall(PFH5WriteAttrString(g, "drift", PFGuideDriftTypes[s->drift]));
    PetscCall(PFH5WriteAttrReal(g, "clip", s->clip));
    PetscCall(PFH5WriteAttrReal(g, "sigma", o->sigma));
    PetscCall(PFH5WriteAttrReal(g, "target", r->rec[0]));
    PetscCall(PFH5WriteAttrReal(g, "base_mean", r->rec[1]));
    PetscCall(PFH5WriteAttrReal(g, "base_std", r->rec[2]));
    PetscCall(PFH5WriteAttrReal(g, "maxent_mean", r->rec[3]));
    PetscCall(PFH5WriteAttrReal(g, "guided_mean", r->rec[4]));
    H5Gclose(g);
  } else {
    const PFPathGuide *pg      = r->pg;
    hsize_t            dims[3] = {(hsize_t)r->dims[0], (hsize_t)r->dims[1], (hsize_t)r->dims[2]}, d4[1] = {4};
    PetscCall(PFH5WriteAttrString(g, "type", "path"));
    PetscCall(PFH5WriteAttrReal(g, "a", pg->a));
    PetscCall(PFH5WriteAttrReal(g, "b", pg->b));
    PetscCall(PFH5WriteAttrReal(g, "h0", pg->h0));
    PetscCall(PFH5WriteAttrString(g, "schedule", PFGuideScheduleTypes[pg->kind]));
    PetscCall(PFH5WriteAttrReal(g, "base_fraction", r->rec[0]));
    PetscCall(PFH5WriteAttrReal(g, "guided_fraction", r->rec[1]));
    if (o->box[0] < o->box[1]) PetscCall(PFH5WriteArray(fid, "guide/region", H5T_NATIVE_DOUBLE, H5T_IEEE_F64LE, 1, d4, o->box));
    else {
      /* the subset: observable >= threshold */
      PetscCall(WriteObservable(g, fid, o));
      PetscCall(PFH5WriteAttrReal(g, "threshold", r->rec[2]));
    }
    H5Gclose(g);
    PetscCall(PFH5WriteArray(fid, "guide/paths", H5T_NATIVE_PFREAL, H5T_IEEE_F32LE, 3, dims, r->Y));
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

PetscErrorCode PFCLIGuideWrite(MPI_Comm comm, const char base[], const char out[], const GuideOptions *o, const GuideRecord *r, PFSampler sampler)
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
      ierr = WriteRecord(dst, base, o, r);
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

PetscErrorCode PFCLIGuideTuneWrite(const GuideTuneSetting *g, const char model[], const char out[], const GuideOptions *o, double lambda, double mean, double var, double mw)
{
  PFGuideSchedule   s  = {lambda, 1, o->schedule == PF_GUIDE_POWER ? 1 : 2, o->schedule, o->drift, o->clip};
  PFGuideTuneParams tp = {mw, var, o->gamma, o->maxeval};
  double            gmean, work;

  PetscFunctionBegin;
  PetscCall(PetscPrintf(g->world, "physflow guide: tuning the schedule alpha(t) = %s on task loss + %g x excess work (%" PetscInt_FMT " samples per run)\n", o->schedule == PF_GUIDE_POWER ? "a (1 - t)^b" : "a exp(-b (1 - t))", o->gamma, PetscMin(o->ntune, o->nbase)));
  PetscCall(PFGuideTune(g->flow, g->net, g->sampler, g->obs, g->world, &tp, (uint64_t)o->seed, g->tlo, g->ntl, &s, &gmean, &work));
  PetscCall(PetscPrintf(g->world, "physflow guide: a = %.5g, b = %.5g: guided mean %.5g (target %.5g, %.3f base std away), excess work %.4e -> %s\n", s.a, s.b, gmean, mw, fabs(gmean - mw) / sqrt(var), work, out));
  {
    GuideRecord r = {&s, NULL, NULL, {0, 0, 0}, {o->target, mean, sqrt(var), mw, gmean, work}};
    PetscCall(PFCLIGuideWrite(g->world, model, out, o, &r, g->sampler));
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFCLIGuideFinetune(MPI_Comm comm, const char model[], const char data[], const char out[], const char what[], const GuideOptions *o)
{
  char           val[32];
  PFCLITrainSpec spec = {.cmd = "guide", .finetune = PETSC_TRUE};

  PetscFunctionBegin;
  PetscCall(PetscOptionsSetValue(NULL, "-model", model));
  PetscCall(PetscOptionsSetValue(NULL, "-data", data));
  PetscCall(PetscOptionsSetValue(NULL, "-o", out));
  PetscCall(PetscOptionsSetValue(NULL, "-constraint", "none"));
  PetscCall(PetscSNPrintf(val, sizeof(val), "%" PetscInt_FMT, o->ft_steps));
  PetscCall(PetscOptionsSetValue(NULL, "-train_steps", val));
  PetscCall(PetscPrintf(comm, "physflow guide: naive baseline: fine-tuning %s for %" PetscInt_FMT " steps on the %s samples (%s)\n", model, o->ft_steps, what, data));
  PetscCall(PFCLITrainRun(comm, &spec));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFCLIGuideResample(PetscInt N, const double *f, double lambda, PetscInt seed, PetscInt *idx)
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
    idx[k] = i;
  }
  PetscCall(PetscFree(w));
  PetscFunctionReturn(PETSC_SUCCESS);
}

typedef struct {
  char     type[16], name[64], kind[16], drift[16], group[64];
  double   v[4]; /* lambda, a, b, h0 */
  double   clip;
  double   region[4];
  PetscInt has_region, dims[3];
} GuideHeader;

static PetscErrorCode ReadGuideRecord(const char path[], GuideHeader *h)
{
  hid_t fid, g;

  PetscFunctionBegin;
  PetscCall(PFH5OpenRead(path, &fid));
  g = H5Gopen2(fid, "guide", H5P_DEFAULT);
  PetscCheck(g >= 0, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED, "no /guide");
  PetscCall(PFH5ReadAttrReal(g, "a", &h->v[1]));
  PetscCall(PFH5ReadAttrReal(g, "b", &h->v[2]));
  if (H5Aexists(g, "observable") > 0) PetscCall(PFH5ReadAttrString(g, "observable", h->name, sizeof(h->name)));
  if (H5Aexists(g, "group") > 0) PetscCall(PFH5ReadAttrString(g, "group", h->group, sizeof(h->group)));
  if (H5Lexists(fid, "guide/observable_region", H5P_DEFAULT) > 0) {
    PetscCall(PFH5ReadArray(fid, path, "guide/observable_region", H5T_NATIVE_DOUBLE, 4, h->region));
    h->has_region = 1;
  }
  if (!strcmp(h->type, "observable")) {
    PetscCall(PFH5ReadAttrReal(g, "lambda", &h->v[0]));
    if (H5Aexists(g, "schedule") > 0) PetscCall(PFH5ReadAttrString(g, "schedule", h->kind, sizeof(h->kind)));
    if (H5Aexists(g, "drift") > 0) PetscCall(PFH5ReadAttrString(g, "drift", h->drift, sizeof(h->drift)));
    if (H5Aexists(g, "clip") > 0) PetscCall(PFH5ReadAttrReal(g, "clip", &h->clip));
  } else {
    hsize_t d[3];
    PetscCall(PFH5ReadAttrReal(g, "h0", &h->v[3]));
    if (H5Aexists(g, "schedule") > 0) PetscCall(PFH5ReadAttrString(g, "schedule", h->kind, sizeof(h->kind)));
    PetscCall(PFH5GetDims(fid, path, "guide/paths", 3, d));
    for (int k = 0; k < 3; k++) h->dims[k] = (PetscInt)d[k];
  }
  H5Gclose(g);
  PetscCall(PFH5Close(&fid));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* the stored paths [K+1, M, nstored] on every rank of comm */
static PetscErrorCode ReadPaths(MPI_Comm comm, const char path[], const PetscInt dims[3], pfreal *Y)
{
  PetscMPIInt    rank;
  PetscErrorCode ierr = PETSC_SUCCESS;
  const size_t   N    = (size_t)dims[0] * dims[1] * dims[2];

  PetscFunctionBegin;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  if (rank == 0) {
    hid_t fid;
    ierr = PFH5OpenRead(path, &fid);
    if (!ierr) ierr = PFH5ReadArray(fid, path, "guide/paths", H5T_NATIVE_PFREAL, N, Y);
    if (!ierr) ierr = PFH5Close(&fid);
  }
  PetscCallMPI(MPI_Bcast(&ierr, 1, MPI_INT, 0, comm));
  PetscCheck(!ierr, comm, PETSC_ERR_FILE_UNEXPECTED, "'%s': cannot read the guiding paths", path);
  PetscCallMPI(MPI_Bcast(Y, (PetscMPIInt)N, MPIU_PFREAL, 0, comm));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFCLIGuideLoad(MPI_Comm comm, const char path[], PetscInt n, PFPhysics phys, const double mean[], const double std[], PFObservable *obs, PFGuideSchedule *s, PFPathGuide *pg)
{
  GuideHeader h = {.kind = "exp", .drift = "x1hat"};
  PetscMPIInt rank;
  PetscBool   has;
  const double *v = h.v;

  PetscFunctionBegin;
  *obs  = NULL;
  pg->Y = NULL;
  PetscCall(PFCLIPeek(comm, path, "guide", "type", &has, h.type, sizeof(h.type)));
  if (!has) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCheck(!strcmp(h.type, "observable") || !strcmp(h.type, "path"), comm, PETSC_ERR_FILE_UNEXPECTED, "'%s': unknown guidance type '%s'", path, h.type);
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  {
    /* rank 0 reads; a failure reaches every rank (not a rank-0 return
     * that leaves the others in the broadcast) */
    PetscErrorCode ierr = rank == 0 ? ReadGuideRecord(path, &h) : PETSC_SUCCESS;
    PetscCallMPI(MPI_Bcast(&ierr, 1, MPI_INT, 0, comm));
    PetscCheck(!ierr, comm, PETSC_ERR_FILE_UNEXPECTED, "'%s': cannot read its /guide record (corrupt guided model?)", path);
  }
  PetscCallMPI(MPI_Bcast(&h, (PetscMPIInt)sizeof(h), MPI_BYTE, 0, comm));
  PetscCheck(isfinite(v[0]) && isfinite(v[1]) && isfinite(v[2]) && isfinite(v[3]) && v[1] >= 0, comm, PETSC_ERR_FILE_UNEXPECTED, "'%s': corrupt /guide record", path);
  if (!strcmp(h.type, "observable")) {
    s->lambda = v[0], s->a = v[1], s->b = v[2];
    s->kind  = strcmp(h.kind, "power") ? PF_GUIDE_EXP : PF_GUIDE_POWER;
    s->drift = strcmp(h.drift, "tweedie") ? PF_GUIDE_X1HAT : PF_GUIDE_TWEEDIE;
    s->clip  = isfinite(h.clip) && h.clip > 0 ? h.clip : 0;
    if (phys) PetscCall(PFObservableCreateMesh(h.name, phys, mean, std, h.has_region ? h.region : NULL, h.group, obs));
    else PetscCall(PFObservableCreateWithRegion(comm, h.name, n, h.has_region ? h.region : NULL, obs));
    PetscFunctionReturn(PETSC_SUCCESS);
  }
  {
    /* mesh states are stored in natural vertex order (nfields x nvert per state) */
    PetscInt nstored = n, nf = 0, nvert = 0, nown = 0;
    if (phys) {
      PFMesh mesh;
      PetscCall(PFPhysicsGetMesh(phys, &mesh));
      PetscCall(PFPhysicsGetFields(phys, &nf, NULL, NULL));
      PetscCall(PFPhysicsGetVertexMap(phys, &nown, NULL));
      nvert   = mesh->nvert;
      nstored = nf * nvert;
    }
    PetscCheck(h.dims[0] >= 2 && h.dims[1] >= 1 && h.dims[2] == nstored && v[3] > 0, comm, PETSC_ERR_FILE_UNEXPECTED, "'%s': corrupt path guidance (paths %" PetscInt_FMT " x %" PetscInt_FMT " x %" PetscInt_FMT " for states of %" PetscInt_FMT ")", path, h.dims[0], h.dims[1], h.dims[2], nstored);
    pg->K = h.dims[0] - 1, pg->M = h.dims[1], pg->n = n;
    pg->a = v[1], pg->b = v[2], pg->h0 = v[3];
    pg->kind = strcmp(h.kind, "power") ? PF_GUIDE_EXP : PF_GUIDE_POWER;
    pg->gcomm = MPI_COMM_SELF;
    PetscCall(PetscMalloc1((size_t)h.dims[0] * h.dims[1] * n + 1, &pg->Y));
    if (!phys) PetscCall(ReadPaths(comm, path, h.dims, pg->Y));
    else {
      pfreal      *Ynat;
      double      *nat;
      PetscScalar *own;
      PetscCall(PetscMalloc3((size_t)h.dims[0] * h.dims[1] * nstored, &Ynat, nvert, &nat, nown + 1, &own));
      PetscCall(ReadPaths(comm, path, h.dims, Ynat));
      for (PetscInt q = 0; q < h.dims[0] * h.dims[1]; q++)
        for (PetscInt f = 0; f < nf; f++) {
          for (PetscInt i = 0; i < nvert; i++) nat[i] = (double)Ynat[((size_t)q * nf + f) * nvert + i];
          PetscCall(PFPhysicsFromNatural(phys, nat, own));
          for (PetscInt i = 0; i < nown; i++) pg->Y[((size_t)q * nf + f) * nown + i] = (pfreal)PetscRealPart(own[i]);
        }
      PetscCall(PetscFree3(Ynat, nat, own));
      {
        PFMesh mesh;
        PetscCall(PFPhysicsGetMesh(phys, &mesh));
        pg->gcomm = mesh->comm;
      }
    }
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}
