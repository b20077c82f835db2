/* physflow eval -physics darcy -samples s.h5: physics checks of mesh fields.
 * For every sample, the weak-form residual of the PDE the data claim to
 * satisfy, as ||R||/||F|| and as the mean absolute nodal residual, and the
 * physics' own checks (PFPhysicsValidate; Darcy: re-solve consistency, the
 * no-flux leak and the conservation error); prints a JSON summary (mean,
 * median, max over samples) and writes the per-sample values beside it. */
#include <stdlib.h>
#include <string.h>
#include <physflow/h5util.h>
#include <math.h>
#include <physflow/fieldmetrics.h>
#include <physflow/meshdata.h>
#include <physflow/metrics.h>
#include <physflow/private/physicsimpl.h>
#include <physflow/physics.h>
#include "cli.h"

static int CompareDouble(const void *a, const void *b)
{
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* per sample: relative and mean-absolute residual, then the physics checks
 * (PFPhysicsValidate): rows of NCOL values (allocated) */
#define NCOL (3 + PF_PHYSICS_MAXCHECKS)
#define OBSCOL (2 + PF_PHYSICS_MAXCHECKS) /* the -observable's value */
static PetscErrorCode ResidualStats(PFPhysics phys, PFObservable obs, const char path[], double **relp, PetscInt *ns, PetscInt *nchecks, const char *const **checknames)
{
  PFMeshData   md;
  PFMesh       mesh;
  PetscInt     nown, nf;
  const char *const *names;
  PetscScalar *x, *R;
  double      *row;
  pfreal      *xr;
  PetscBool    has;

  PetscFunctionBegin;
  PetscCall(PFPhysicsGetMesh(phys, &mesh));
  PetscCall(PFPhysicsGetVertexMap(phys, &nown, NULL));
  PetscCall(PFPhysicsGetFields(phys, &nf, &names, NULL));
  PetscCall(PFMeshDataOpen(path, &md));
  PetscCheck(md.nvert == mesh->nvert, PETSC_COMM_SELF, PETSC_ERR_ARG_INCOMP, "'%s' has fields on %" PetscInt_FMT " vertices but the mesh (%s) has %" PetscInt_FMT ": give the -mesh/-mesh_faces the data were made with", path, md.nvert, mesh->source, mesh->nvert);
  for (PetscInt f = 0; f < nf; f++) {
    PetscCall(PFMeshDataHasField(&md, names[f], &has));
    PetscCheck(has, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED, "'%s' has no field '%s' needed by the %s residual", path, names[f], "PDE");
  }
  *ns = md.nsamples;
  PetscCheck(md.nsamples > 0, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED, "'%s' holds no samples", path);
  PetscCall(PetscCalloc1(NCOL * md.nsamples, relp));
  double *rel = *relp;
  {
    PetscInt nres;
    PetscCall(PFPhysicsGetResidualSize(phys, &nres));
    PetscCall(PetscMalloc4(nf * nown + 1, &x, PetscMax(nres, nown) + 1, &R, md.nvert, &row, nf * nown + 1, &xr));
  }
  for (PetscInt i = 0; i < md.nsamples; i++) {
    for (PetscInt f = 0; f < nf; f++) {
      PetscCall(PFMeshDataReadRows(&md, names[f], i, 1, row));
      PetscCall(PFPhysicsFromNatural(phys, row, x + f * nown));
    }
    PetscCall(PFPhysicsResidual(phys, 1, x, R));
    PetscCall(PFPhysicsResidualNorms(phys, R, &rel[NCOL * i], &rel[NCOL * i + 1]));
    PetscCall(PFPhysicsValidate(phys, x, nchecks, checknames, &rel[NCOL * i + 2]));
    if (obs) {
      for (PetscInt q = 0; q < nf * nown; q++) xr[q] = (pfreal)PetscRealPart(x[q]);
      PetscCall(PFObservableEval(obs, 1, xr, &rel[NCOL * i + OBSCOL], NULL));
    }
  }
  PetscCall(PetscFree4(x, R, row, xr));
  PetscCall(PFMeshDataClose(&md));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode AppendStats(char *json, size_t len, const char name[], const double *v, PetscInt stride, PetscInt n)
{
  double *s, mean = 0;
  char    item[256];

  PetscFunctionBegin;
  PetscCall(PetscMalloc1(n, &s));
  for (PetscInt i = 0; i < n; i++) {
    s[i] = v[i * stride];
    mean += s[i] / n;
  }
  qsort(s, (size_t)n, sizeof(double), CompareDouble);
  PetscCall(PetscSNPrintf(item, sizeof(item), ", \"%s\": {\"mean\": %.6g, \"median\": %.6g, \"max\": %.6g}", name, mean, n % 2 ? s[n / 2] : 0.5 * (s[n / 2 - 1] + s[n / 2]), s[n - 1]));
  PetscCall(PetscStrlcat(json, item, len));
  PetscCall(PetscFree(s));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Reads every field of every sample of path (natural order) on rank 0 */
static PetscErrorCode ReadAllFields(const char path[], PetscInt nf, const char *const names[], PetscInt *n, PetscInt *nv, double **X, double **coords)
{
  PFMeshData md;

  PetscFunctionBegin;
  PetscCall(PFMeshDataOpen(path, &md));
  for (PetscInt f = 0; f < nf; f++) {
    PetscBool has;
    PetscCall(PFMeshDataHasField(&md, names[f], &has));
    PetscCheck(has, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED, "'%s' has no field '%s'", path, names[f]);
  }
  *n  = md.nsamples;
  *nv = md.nvert;
  for (PetscInt f = 0; f < nf; f++) {
    PetscCall(PetscMalloc1((size_t)md.nsamples * md.nvert, &X[f]));
    PetscCall(PFMeshDataReadRows(&md, names[f], 0, md.nsamples, X[f]));
  }
  if (coords) {
    PetscCall(PetscMalloc1(2 * md.nvert, coords));
    PetscCall(PFMeshDataReadCoords(&md, *coords));
  }
  PetscCall(PFMeshDataClose(&md));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* mean/std field errors, two-point correlation of the first field, and a
 * field-space sliced Wasserstein distance (rank 0 computes) */
static PetscErrorCode DistributionMetrics(PFPhysics phys, const char samples[], const char reference[], char *json, size_t len)
{
  PetscInt           nf, ns, nr, nv, nv2, nown;
  const char *const *names;
  double            *S[8], *R[8], *coords, *w = NULL, swd;
  PetscMPIInt        rank;
  const PetscScalar *mass;
  char               item[512];
  const PetscInt     nbins = 12;
  const double       rmax  = 0.6;

  PetscFunctionBegin;
  PetscCall(PFPhysicsGetFields(phys, &nf, &names, NULL));
  PetscCall(PFPhysicsGetVertexMap(phys, &nown, NULL));
  PetscCall(PFPhysicsGetVertexMass(phys, &mass));
  PetscCallMPI(MPI_Comm_rank(phys->comm, &rank));
  {
    PFMesh mesh;
    PetscCall(PFPhysicsGetMesh(phys, &mesh));
    if (rank == 0) PetscCall(PetscMalloc1(mesh->nvert, &w));
  }
  PetscCall(PFPhysicsGatherNatural(phys, mass, w));
  if (rank == 0) {
    PetscCall(ReadAllFields(samples, nf, names, &ns, &nv, S, &coords));
    PetscCall(ReadAllFields(reference, nf, names, &nr, &nv2, R, NULL));
    PetscCheck(nv == nv2, PETSC_COMM_SELF, PETSC_ERR_ARG_INCOMP, "'%s' and '%s' are on different meshes", samples, reference);
    PetscCall(PetscStrlcat(json, ", \"distribution\": {", len));
    for (PetscInt f = 0; f < nf; f++) {
      double me, se;
      PetscCall(PFFieldMomentErrors(ns, nr, nv, S[f], R[f], w, &me, &se));
      PetscCall(PetscSNPrintf(item, sizeof(item), "%s\"%s\": {\"mean_error\": %.5g, \"std_error\": %.5g}", f ? ", " : "", names[f], me, se));
      PetscCall(PetscStrlcat(json, item, len));
    }
    {
      double cs[12], cr[12], dmax = 0;
      PetscCall(PFFieldCorrelation(ns, nv, S[0], coords, nbins, rmax, 20000, 1, cs));
      PetscCall(PFFieldCorrelation(nr, nv, R[0], coords, nbins, rmax, 20000, 1, cr));
      PetscCall(PetscSNPrintf(item, sizeof(item), ", \"correlation_%s\": {\"r_max\": %g, \"samples\": [", names[0], rmax));
      PetscCall(PetscStrlcat(json, item, len));
      for (PetscInt b = 0; b < nbins; b++) {
        /* bins without pairs are NaN: JSON has no NaN, write null */
        if (isfinite(cs[b])) PetscCall(PetscSNPrintf(item, sizeof(item), "%s%.4f", b ? ", " : "", cs[b]));
        else PetscCall(PetscSNPrintf(item, sizeof(item), "%snull", b ? ", " : ""));
        PetscCall(PetscStrlcat(json, item, len));
      }
      PetscCall(PetscStrlcat(json, "], \"reference\": [", len));
      for (PetscInt b = 0; b < nbins; b++) {
        if (isfinite(cr[b])) PetscCall(PetscSNPrintf(item, sizeof(item), "%s%.4f", b ? ", " : "", cr[b]));
        else PetscCall(PetscSNPrintf(item, sizeof(item), "%snull", b ? ", " : ""));
        PetscCall(PetscStrlcat(json, item, len));
        if (isfinite(cs[b]) && isfinite(cr[b])) dmax = PetscMax(dmax, fabs(cs[b] - cr[b]));
      }
      PetscCall(PetscSNPrintf(item, sizeof(item), "], \"max_abs_diff\": %.4f}", dmax));
      PetscCall(PetscStrlcat(json, item, len));
    }
    PetscCall(PFFieldSlicedWasserstein(nf, ns, nr, nv, (const double *const *)S, (const double *const *)R, 64, 1, &swd));
    PetscCall(PetscSNPrintf(item, sizeof(item), ", \"field_sliced_wasserstein\": %.5g}", swd));
    PetscCall(PetscStrlcat(json, item, len));
    for (PetscInt f = 0; f < nf; f++) {
      PetscCall(PetscFree(S[f]));
      PetscCall(PetscFree(R[f]));
    }
    PetscCall(PetscFree(coords));
    PetscCall(PetscFree(w));
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* prefix+suffix: the n rows of physics checks (and the observable), one
 * column each, named in a header, for plots */
static PetscErrorCode WriteChecks(const char prefix[], const char suffix[], const double *rel, PetscInt n, PetscInt nchecks, const char *const *names, const char obsname[])
{
  char  path[PETSC_MAX_PATH_LEN];
  FILE *f;

  PetscFunctionBegin;
  PetscCall(PetscSNPrintf(path, sizeof(path), "%s%s", prefix, suffix));
  f = fopen(path, "w");
  PetscCheck(f, PETSC_COMM_SELF, PETSC_ERR_FILE_OPEN, "cannot write '%s'", path);
  fprintf(f, "#");
  for (PetscInt k = 0; k < nchecks; k++) fprintf(f, " %s", names[k]);
  if (obsname) fprintf(f, " %s", obsname);
  fprintf(f, "\n");
  for (PetscInt i = 0; i < n; i++) {
    for (PetscInt k = 0; k < nchecks; k++) fprintf(f, "%s%.6e", k ? " " : "", rel[NCOL * i + 2 + k]);
    if (obsname) fprintf(f, " %.6e", rel[NCOL * i + OBSCOL]);
    fprintf(f, "\n");
  }
  fclose(f);
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* the physics checks as distributions (e.g. the drag and lift of generated
 * flows against the solver's): for each, mean and std of the samples' and
 * the reference's values, the 1-D Wasserstein-2 distance between them and
 * that distance relative to the reference's std (non-finite values are
 * left out and counted) */
static PetscErrorCode CheckDistributions(const double *rs, PetscInt ns, const double *rr, PetscInt nr, PetscInt nchecks, const char *const *names, char *json, size_t len)
{
  double *a, *b;
  char    item[512];

  PetscFunctionBegin;
  PetscCall(PetscMalloc2(ns, &a, nr, &b));
  PetscCall(PetscStrlcat(json, ", \"check_distributions\": {", len));
  for (PetscInt k = 0; k < nchecks; k++) {
    PetscInt na = 0, nb = 0;
    double   ma = 0, mb = 0, sa = 0, sb = 0, w2 = NAN;
    for (PetscInt i = 0; i < ns; i++)
      if (isfinite(rs[NCOL * i + 2 + k])) a[na++] = rs[NCOL * i + 2 + k];
    for (PetscInt i = 0; i < nr; i++)
      if (isfinite(rr[NCOL * i + 2 + k])) b[nb++] = rr[NCOL * i + 2 + k];
    for (PetscInt i = 0; i < na; i++) ma += a[i] / na;
    for (PetscInt i = 0; i < nb; i++) mb += b[i] / nb;
    for (PetscInt i = 0; i < na; i++) sa += (a[i] - ma) * (a[i] - ma) / na;
    for (PetscInt i = 0; i < nb; i++) sb += (b[i] - mb) * (b[i] - mb) / nb;
    /* one projection of 1-D data: the exact W2 of the two empirical laws */
    if (na && nb) PetscCall(PFSlicedWasserstein(1, na, a, nb, b, 1, 0, &w2));
    if (!(na && nb)) PetscCall(PetscSNPrintf(item, sizeof(item), "%s\"%s\": {\"nonfinite\": %" PetscInt_FMT "}", k ? ", " : "", names[k], ns - na + nr - nb));
    else
    {
      char rel[32] = "null"; /* JSON has no NaN: a constant reference has no relative distance */
      if (sb > 0) PetscCall(PetscSNPrintf(rel, sizeof(rel), "%.5g", w2 / sqrt(sb)));
      PetscCall(PetscSNPrintf(item, sizeof(item), "%s\"%s\": {\"mean\": %.6g, \"std\": %.6g, \"ref_mean\": %.6g, \"ref_std\": %.6g, \"w2\": %.5g, \"w2_rel\": %s, \"nonfinite\": %" PetscInt_FMT "}", k ? ", " : "", names[k], ma, sqrt(sa), mb, sqrt(sb), w2, rel, ns - na + nr - nb));
    }
    PetscCall(PetscStrlcat(json, item, len));
  }
  PetscCall(PetscStrlcat(json, "}", len));
  PetscCall(PetscFree2(a, b));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFEvalPDE(MPI_Comm comm, const char physics_type[], const char samples[], const char reference[], const char jsonpath[], PetscBool *help)
{
  PFPhysics   phys;
  PetscMPIInt rank;
  char        json[16384];
  double     *rel, *rel_s = NULL, *rel_r = NULL;
  PetscInt    nr = 0;
  PetscInt    ns, nchecks = 0;
  const char *const *checknames = NULL;
  char        oname[64] = "", ogroup[64] = "";
  double      oregion[4];
  PetscInt    nreg = 4;
  PetscBool   has_obs, has_region;
  PFObservable obs = NULL;

  PetscFunctionBegin;
  PetscCall(PFCLIProblemOptionsFromFile(comm, samples));
  PetscCall(PFPhysicsCreate(comm, &phys));
  PetscCall(PFPhysicsSetType(phys, physics_type));
  PetscCall(PFPhysicsSetFromOptions(phys));
  /* an observable of every sample (physflow guide's plug-ins), e.g. the
   * outflow through a boundary group of path-guided samples */
  PetscOptionsBegin(comm, NULL, "physflow eval: an observable of every sample", "eval");
  PetscCall(PetscOptionsString("-observable", "Also report this observable of each sample (mean_logK, boundary_flux, ...)", "eval", oname, oname, sizeof(oname), &has_obs));
  PetscCall(PetscOptionsRealArray("-observable_region", "Its region xmin,xmax,ymin,ymax (mean_logK)", "eval", oregion, &nreg, &has_region));
  PetscCall(PetscOptionsString("-observable_group", "Its boundary group (boundary_flux)", "eval", ogroup, ogroup, sizeof(ogroup), NULL));
  PetscOptionsEnd();
  PetscCall(PFCLIOptionsDone(comm, "eval", help));
  if (*help) goto done;
  PetscCheck(samples[0], comm, PETSC_ERR_ARG_WRONG, "give the fields to check: -samples file.h5");
  if (jsonpath[0]) PetscCall(PFCheckWritable(comm, jsonpath));
  PetscCall(PFPhysicsSetUp(phys));
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  if (has_obs) {
    const double zero[8] = {0, 0, 0, 0, 0, 0, 0, 0}, one[8] = {1, 1, 1, 1, 1, 1, 1, 1};
    PetscCheck(!has_region || (nreg == 4 && oregion[0] < oregion[1] && oregion[2] < oregion[3]), comm, PETSC_ERR_ARG_WRONG, "-observable_region takes xmin,xmax,ymin,ymax (a non-empty box)");
    PetscCall(PFObservableCreateMesh(oname, phys, zero, one, has_region ? oregion : NULL, ogroup[0] ? ogroup : NULL, &obs));
  }
  PetscCall(ResidualStats(phys, obs, samples, &rel, &ns, &nchecks, &checknames));
  PetscCall(PetscSNPrintf(json, sizeof(json), "{\"physics\": \"%s\", \"samples\": \"%s\", \"n_samples\": %" PetscInt_FMT, physics_type, samples, ns));
  PetscCall(AppendStats(json, sizeof(json), "residual_relative", rel, NCOL, ns));
  PetscCall(AppendStats(json, sizeof(json), "residual_meanabs", rel + 1, NCOL, ns));
  for (PetscInt k = 0; k < nchecks; k++) PetscCall(AppendStats(json, sizeof(json), checknames[k], rel + 2 + k, NCOL, ns));
  if (obs) {
    char key[96];
    PetscCall(PetscSNPrintf(key, sizeof(key), "observable_%s", oname));
    PetscCall(AppendStats(json, sizeof(json), key, rel + OBSCOL, NCOL, ns));
  }
  rel_s = rel;
  if (reference[0]) {
    PetscCall(ResidualStats(phys, obs, reference, &rel, &nr, &nchecks, &checknames));
    PetscCall(PetscStrlcat(json, ", \"reference\": {", sizeof(json)));
    {
      char item[PETSC_MAX_PATH_LEN + 64];
      PetscCall(PetscSNPrintf(item, sizeof(item), "\"file\": \"%s\", \"n\": %" PetscInt_FMT, reference, nr));
      PetscCall(PetscStrlcat(json, item, sizeof(json)));
    }
    PetscCall(AppendStats(json, sizeof(json), "residual_relative", rel, NCOL, nr));
    for (PetscInt k = 0; k < nchecks; k++) PetscCall(AppendStats(json, sizeof(json), checknames[k], rel + 2 + k, NCOL, nr));
    if (obs) {
      char key[96];
      PetscCall(PetscSNPrintf(key, sizeof(key), "observable_%s", oname));
      PetscCall(AppendStats(json, sizeof(json), key, rel + OBSCOL, NCOL, nr));
    }
    PetscCall(PetscStrlcat(json, "}", sizeof(json)));
    PetscCall(CheckDistributions(rel_s, ns, rel, nr, nchecks, checknames, json, sizeof(json)));
    rel_r = rel;
    PetscCall(DistributionMetrics(phys, samples, reference, json, sizeof(json)));
  }
  PetscCall(PetscStrlcat(json, "}", sizeof(json)));
  PetscCall(PetscPrintf(comm, "%s\n", json));
  if (jsonpath[0] && rank == 0) {
    /* the per-sample residuals beside the JSON, for histograms */
    char  rpath[PETSC_MAX_PATH_LEN];
    FILE *rf;
    PetscCall(PetscStrncpy(rpath, jsonpath, sizeof(rpath)));
    {
      size_t l;
      PetscCall(PetscStrlen(rpath, &l));
      if (l > 5 && !strcmp(rpath + l - 5, ".json")) rpath[l - 5] = 0;
    }
    PetscCall(PetscStrlcat(rpath, "_residuals.txt", sizeof(rpath)));
    rf = fopen(rpath, "w");
    PetscCheck(rf, PETSC_COMM_SELF, PETSC_ERR_FILE_OPEN, "cannot write '%s'", rpath);
    for (PetscInt i = 0; i < ns; i++) fprintf(rf, "%.6e\n", rel_s[NCOL * i]);
    fclose(rf);
    /* and the physics checks, one column each (also of the reference) */
    rpath[strlen(rpath) - strlen("_residuals.txt")] = 0;
    PetscCall(WriteChecks(rpath, "_checks.txt", rel_s, ns, nchecks, checknames, obs ? oname : NULL));
    if (rel_r) PetscCall(WriteChecks(rpath, "_refchecks.txt", rel_r, nr, nchecks, checknames, obs ? oname : NULL));
  }
  if (jsonpath[0] && rank == 0) {
    FILE *f = fopen(jsonpath, "w");
    PetscCheck(f, PETSC_COMM_SELF, PETSC_ERR_FILE_OPEN, "cannot write '%s'", jsonpath);
    fprintf(f, "%s\n", json);
    fclose(f);
  }
  PetscCall(PetscFree(rel_s));
  PetscCall(PetscFree(rel_r));
done:
  PetscCall(PFObservableDestroy(&obs));
  PetscCall(PFPhysicsDestroy(&phys));
  PetscFunctionReturn(PETSC_SUCCESS);
}
