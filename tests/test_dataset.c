/* PFDatasetWriter: collective parallel HDF5 dataset writing, resume, XDMF.
 * Run on 1, 2 and 4 ranks (test_dataset, test_dataset_mpi2, test_dataset_mpi4).
 *
 * Mesh: a 5 x 4 vertex grid of 12 quads; 11 samples, fields {logK, p}, param
 * {Re}.  Value of field f at vertex v of sample s is 1000 s + 100 f + v + 1/4
 * and Re = 10 s + 1/2, so every number read back says where it belongs.
 * Rows are written in rounds in which rank r takes (k + 2r) % 3 samples (so
 * counts are uneven, some ranks and some whole rounds have none) from a
 * scrambled list (so each rank's indices are unsorted).
 *
 *  1. fresh run: all samples written -> Close says complete, path.partial is
 *     renamed to path, every value, /completed, the mesh and the attributes
 *     read back serially with plain HDF5 on rank 0; the XDMF is well-formed
 *     and has one grid and one attribute per field and sample;
 *  2. interrupted run: resume with nothing there starts afresh; out-of-range
 *     and duplicate indices are errors; a subset written -> Close says
 *     incomplete, path.partial stays (rows not written are NaN), path absent;
 *     resuming with another mesh size, fields, sample count, coordinates, kind
 *     or parameters fails with a message naming the difference; the right
 *     resume sees exactly the written subset, writes the rest and completes;
 *  3. resume of a complete file: everything reported done, nothing to write
 *     (writing is an error), Close rewrites a missing XDMF. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <hdf5.h>
#include <physflow/dataset.h>
#include <physflow/h5util.h>

#define NX 5
#define NY 4
#define NV (NX * NY)
#define NC ((NX - 1) * (NY - 1))
#define NS 11

static int         nfail = 0;
static PetscMPIInt rank, size;

/* every rank calls it; ok is what this rank saw (rank-0-only checks pass PETSC_TRUE elsewhere) */
static PetscErrorCode Check(PetscBool ok, const char *what)
{
  int l = ok ? 1 : 0, g;

  PetscFunctionBegin;
  PetscCallMPI(MPI_Allreduce(&l, &g, 1, MPI_INT, MPI_MIN, PETSC_COMM_WORLD));
  if (!g) nfail++;
  PetscCall(PetscPrintf(PETSC_COMM_WORLD, "  [%s] %s\n", g ? "ok" : "FAIL", what));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static double Value(PetscInt s, PetscInt f, PetscInt v)
{
  return 1000.0 * s + 100.0 * f + v + 0.25;
}

static double Param(PetscInt s)
{
  return 10.0 * s + 0.5;
}

/* nx x ny vertices, counter-clockwise quads (XDMF/VTK order) */
static void Mesh(PetscInt nx, PetscInt ny, double shift, double coords[], PetscInt cells[])
{
  for (PetscInt j = 0; j < ny; j++)
    for (PetscInt i = 0; i < nx; i++) {
      coords[2 * (j * nx + i)]     = i + shift;
      coords[2 * (j * nx + i) + 1] = 0.5 * j;
    }
  for (PetscInt j = 0; j < ny - 1; j++)
    for (PetscInt i = 0; i < nx - 1; i++) {
      PetscInt *c = cells + 4 * (j * (nx - 1) + i);
      c[0]        = j * nx + i;
      c[1]        = j * nx + i + 1;
      c[2]        = (j + 1) * nx + i + 1;
      c[3]        = (j + 1) * nx + i;
    }
}

static PetscBool Exists(const char *path)
{
  return access(path, F_OK) == 0 ? PETSC_TRUE : PETSC_FALSE;
}

/* The samples in list[0..m) in a scrambled order (5 is prime to 11, 7 and 4) */
static void Scramble(PetscInt m, const PetscInt list[], PetscInt out[])
{
  for (PetscInt i = 0; i < m; i++) out[i] = list[(5 * i + 3) % m];
}

static PetscErrorCode WriteInRounds(PFDatasetWriter w, PetscInt m, const PetscInt todo[], PetscInt *nrounds, PetscInt *nempty)
{
  PetscInt next = 0, k;

  PetscFunctionBegin;
  *nempty = 0;
  for (k = 0; next < m; k++) {
    PetscInt first = 0, c = 0, idx[2], nround = 0;
    double   vals[2][2 * NV], pars[1][2];
    const double *v[2] = {vals[0], vals[1]}, *p[1] = {pars[0]};

    for (PetscMPIInt r = 0; r < size; r++) {
      PetscInt cr = PetscMin((k + 2 * r) % 3, m - next);
      if (r == rank) first = next, c = cr;
      next += cr;
      nround += cr;
    }
    if (!nround) (*nempty)++;
    for (PetscInt i = 0; i < c; i++) {
      idx[i] = todo[first + i];
      for (PetscInt f = 0; f < 2; f++)
        for (PetscInt vtx = 0; vtx < NV; vtx++) vals[f][i * NV + vtx] = Value(idx[i], f, vtx);
      pars[0][i] = Param(idx[i]);
    }
    PetscCall(PFDatasetWriterWriteRows(w, c, idx, v, p));
  }
  *nrounds = k;
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscBool ReadAll(hid_t fid, const char *name, hid_t type, void *buf)
{
  hid_t  d  = H5Dopen2(fid, name, H5P_DEFAULT);
  herr_t st = d >= 0 ? H5Dread(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) : -1;
  if (d >= 0) H5Dclose(d);
  return st >= 0 ? PETSC_TRUE : PETSC_FALSE;
}

/* Rank 0, plain serial HDF5: rows in expect[] hold their values and are marked complete, the others are NaN and unmarked */
static PetscErrorCode Verify(const char *path, const PetscBool expect[], PetscBool attrs, const char *what)
{
  PetscBool ok = PETSC_TRUE;
  char      msg[512];
  int       nbad = 0;

  PetscFunctionBegin;
  if (rank == 0) {
    hid_t         fid = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    static double f[2][NS * NV], re[NS], coords[NV * 2], want[NV * 2];
    long long     cells[NC * 4];
    PetscInt      wantc[NC * 4];
    unsigned char done[NS];
    char          kind[64];

    ok = (PetscBool)(fid >= 0);
    ok = (PetscBool)(ok && ReadAll(fid, "fields/logK", H5T_NATIVE_DOUBLE, f[0]) && ReadAll(fid, "fields/p", H5T_NATIVE_DOUBLE, f[1]));
    ok = (PetscBool)(ok && ReadAll(fid, "params/Re", H5T_NATIVE_DOUBLE, re) && ReadAll(fid, "completed", H5T_NATIVE_UCHAR, done));
    ok = (PetscBool)(ok && ReadAll(fid, "coords", H5T_NATIVE_DOUBLE, coords) && ReadAll(fid, "cells", H5T_NATIVE_LLONG, cells));
    if (ok) {
      Mesh(NX, NY, 0, want, wantc);
      for (PetscInt i = 0; i < NV * 2; i++) nbad += coords[i] != want[i];
      for (PetscInt i = 0; i < NC * 4; i++) nbad += cells[i] != (long long)wantc[i];
      for (PetscInt s = 0; s < NS; s++) {
        nbad += done[s] != (expect[s] ? 1 : 0);
        nbad += expect[s] ? re[s] != Param(s) : !isnan(re[s]);
        for (PetscInt k = 0; k < 2; k++)
          for (PetscInt v = 0; v < NV; v++) nbad += expect[s] ? f[k][s * NV + v] != Value(s, k, v) : !isnan(f[k][s * NV + v]);
      }
      ok = (PetscBool)(nbad == 0);
      if (PFH5ReadAttrString(fid, "kind", kind, sizeof(kind)) || strcmp(kind, "dataset")) ok = PETSC_FALSE;
      if (H5Aexists(fid, "physflow_version") <= 0 || H5Aexists(fid, "options") <= 0) ok = PETSC_FALSE;
      if (attrs) {
        char   solver[64] = "";
        double tol        = 0;
        if (PFH5ReadAttrString(fid, "solver", solver, sizeof(solver)) || strcmp(solver, "synthetic")) ok = PETSC_FALSE;
        if (PFH5ReadAttrReal(fid, "tol", &tol) || tol != 1e-8) ok = PETSC_FALSE;
      }
    }
    if (fid >= 0) H5Fclose(fid);
  }
  PetscCall(PetscSNPrintf(msg, sizeof(msg), "%s: values, NaN fill, /completed, mesh, attributes of %s (%d wrong numbers)", what, path, nbad));
  PetscCall(Check(ok, msg));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static int CountOf(const char *text, const char *sub)
{
  int n = 0;
  for (const char *p = strstr(text, sub); p; p = strstr(p + 1, sub)) n++;
  return n;
}

/* Minimal well-formedness: every element closed in order (comments,
 * declarations and self-closing tags skipped), nothing after the root */
static PetscBool WellFormed(const char *t)
{
  char        stack[32][64];
  int         depth = 0, roots = 0;
  const char *p     = t;

  while ((p = strchr(p, '<'))) {
    const char *end = strchr(p, '>');
    char        name[64];
    size_t      n;
    if (!end) return PETSC_FALSE;
    if (p[1] == '?' || p[1] == '!') {
      p = end + 1;
      continue;
    }
    int closing = p[1] == '/';
    const char *s = p + 1 + closing;
    for (n = 0; n < sizeof(name) - 1 && s[n] && !strchr(" \t\n/>", s[n]); n++) name[n] = s[n];
    name[n] = 0;
    if (closing) {
      if (depth == 0 || strcmp(stack[depth - 1], name)) return PETSC_FALSE;
      depth--;
    } else if (end[-1] != '/') {
      if (depth == 0) roots++;
      if (depth == 32) return PETSC_FALSE;
      strcpy(stack[depth++], name);
    }
    p = end + 1;
  }
  return (PetscBool)(depth == 0 && roots == 1);
}

static PetscErrorCode CheckXDMF(const char *xmf, const char *h5base)
{
  PetscBool ok = PETSC_FALSE;
  char      msg[512] = "";

  PetscFunctionBegin;
  if (rank == 0) {
    FILE *fp = fopen(xmf, "r");
    static char text[1 << 20];
    size_t      n = fp ? fread(text, 1, sizeof(text) - 1, fp) : 0;
    char        ref[256];

    if (fp) fclose(fp);
    text[n] = 0;
    PetscCall(PetscSNPrintf(ref, sizeof(ref), ">%s:/fields/logK<", h5base));
    ok = (PetscBool)(n > 0 && WellFormed(text) && CountOf(text, "<Grid ") == NS + 1 && CountOf(text, "</Grid>") == NS + 1 && CountOf(text, "<Time ") == NS && CountOf(text, "Name=\"logK\"") == NS && CountOf(text, "Name=\"p\"") == NS &&
                     CountOf(text, "TopologyType=\"Quadrilateral\"") == NS && CountOf(text, ref) == NS && !strstr(text, "/tmp") && CountOf(text, "CollectionType=\"Temporal\"") == 1);
    PetscCall(PetscSNPrintf(msg, sizeof(msg), "XDMF %s: well-formed, %d grids (want %d + 1), %d logK and %d p attributes, relative references to %s", xmf, CountOf(text, "<Grid "), NS, CountOf(text, "Name=\"logK\""), CountOf(text, "Name=\"p\""), h5base));
  }
  PetscCallMPI(MPI_Bcast(msg, sizeof(msg), MPI_CHAR, 0, PETSC_COMM_WORLD));
  PetscCall(Check(rank ? PETSC_TRUE : ok, msg));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode ExpectCreateError(const char *path, const PFDatasetLayout *L, const double *coords, const PetscInt *cells, const char *what, const char *needle)
{
  PFDatasetWriter w = NULL;
  PetscErrorCode  ierr;
  char           *spec = NULL, msg[1024];

  PetscFunctionBegin;
  PetscCall(PetscPushErrorHandler(PetscReturnErrorHandler, NULL));
  ierr = PFDatasetWriterCreate(PETSC_COMM_WORLD, path, L, coords, cells, PETSC_TRUE, &w);
  PetscCall(PetscPopErrorHandler());
  if (ierr) (void)PetscErrorMessage(ierr, NULL, &spec);
  PetscCall(PetscSNPrintf(msg, sizeof(msg), "resume with %s fails: \"%s\"", what, spec ? spec : "(no error)"));
  PetscCall(Check((PetscBool)(ierr && !w && spec && strstr(spec, needle)), msg));
  if (w) PetscCall(PFDatasetWriterClose(&w, NULL));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode ExpectWriteError(PFDatasetWriter w, PetscInt n, const PetscInt idx[], const char *what, const char *needle)
{
  double         vals[2][2 * NV] = {{0}}, pars[1][2] = {{0}};
  const double  *v[2] = {vals[0], vals[1]}, *p[1] = {pars[0]};
  PetscErrorCode ierr;
  char          *spec = NULL, msg[1024];

  PetscFunctionBegin;
  PetscCall(PetscPushErrorHandler(PetscReturnErrorHandler, NULL));
  ierr = PFDatasetWriterWriteRows(w, n, idx, v, p);
  PetscCall(PetscPopErrorHandler());
  if (ierr) (void)PetscErrorMessage(ierr, NULL, &spec);
  PetscCall(PetscSNPrintf(msg, sizeof(msg), "%s fails on every rank: \"%s\"", what, spec ? spec : "(no error)"));
  PetscCall(Check((PetscBool)(ierr && spec && strstr(spec, needle)), msg));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode CheckFiles(const char *path, PetscBool final, const char *what)
{
  char      partial[PETSC_MAX_PATH_LEN], xmf[PETSC_MAX_PATH_LEN], msg[512];
  PetscBool ok = PETSC_TRUE;
  size_t    n  = strlen(path);

  PetscFunctionBegin;
  PetscCall(PetscSNPrintf(partial, sizeof(partial), "%s.partial", path));
  PetscCall(PetscSNPrintf(xmf, sizeof(xmf), "%.*s.xmf", (int)(n - 3), path));
  if (rank == 0) ok = (PetscBool)(Exists(path) == final && Exists(partial) == !final && Exists(xmf) == final);
  PetscCall(PetscSNPrintf(msg, sizeof(msg), "%s: %s %s, %s %s, XDMF %s", what, path, final ? "exists" : "absent", partial, final ? "gone" : "kept", final ? "written" : "absent"));
  PetscCall(Check(ok, msg));
  PetscFunctionReturn(PETSC_SUCCESS);
}

int main(int argc, char **argv)
{
  const char *const fields[] = {"logK", "p"}, *const params[] = {"Re"}, *const other[] = {"logK", "u"};
  PFDatasetLayout   L = {NS, NV, 2, NC, 4, 2, fields, 1, params, "dataset", PETSC_FALSE}, bad;
  double            coords[NV * 2], moved[NV * 2], small_coords[16 * 2];
  PetscInt          cells[NC * 4], small_cells[9 * 4], all[NS], todo[NS], rest[NS], nsub = 0, nrest = 0, nrounds, nempty, ndone;
  PetscBool         complete, expect[NS], ok;
  const PetscBool  *done;
  PFDatasetWriter   w;
  char              dir[64], path1[128], path2[128], xmf1[128], xmf2[128], msg[256];

  PetscCall(PetscInitialize(&argc, &argv, NULL, "test_dataset: parallel dataset writer"));
  PetscCallMPI(MPI_Comm_rank(PETSC_COMM_WORLD, &rank));
  PetscCallMPI(MPI_Comm_size(PETSC_COMM_WORLD, &size));
  Mesh(NX, NY, 0, coords, cells);
  Mesh(NX, NY, 0.125, moved, cells);
  Mesh(4, 4, 0, small_coords, small_cells);
  /* one directory per rank count: ctest may run the 1-, 2- and 4-rank tests at once */
  PetscCall(PetscSNPrintf(dir, sizeof(dir), "test_dataset_np%d", (int)size));
  PetscCall(PetscSNPrintf(path1, sizeof(path1), "%s/fresh.h5", dir));
  PetscCall(PetscSNPrintf(path2, sizeof(path2), "%s/resumed.h5", dir));
  PetscCall(PetscSNPrintf(xmf1, sizeof(xmf1), "%s/fresh.xmf", dir));
  PetscCall(PetscSNPrintf(xmf2, sizeof(xmf2), "%s/resumed.xmf", dir));
  if (rank == 0) {
    const char *old[] = {path1, path2, xmf1, xmf2};
    (void)mkdir(dir, 0755);
    for (int i = 0; i < 4; i++) {
      char p[160];
      (void)unlink(old[i]);
      snprintf(p, sizeof(p), "%s.partial", old[i]);
      (void)unlink(p);
    }
  }
  PetscCallMPI(MPI_Barrier(PETSC_COMM_WORLD));
  PetscCall(PetscPrintf(PETSC_COMM_WORLD, "PFDatasetWriter on %d rank(s), %d samples of %d vertices:\n", (int)size, NS, NV));

  /* 1. a fresh run writes everything */
  for (PetscInt s = 0; s < NS; s++) all[s] = s, expect[s] = PETSC_TRUE;
  Scramble(NS, all, todo);
  PetscCall(PFDatasetWriterCreate(PETSC_COMM_WORLD, path1, &L, rank ? NULL : coords, rank ? NULL : cells, PETSC_FALSE, &w));
  PetscCall(PFDatasetWriterGetCompleted(w, &done, &ndone));
  PetscCall(Check((PetscBool)(ndone == 0), "fresh file: no sample complete"));
  PetscCall(PFDatasetWriterSetAttrString(w, "solver", "synthetic"));
  PetscCall(PFDatasetWriterSetAttrReal(w, "tol", 1e-8));
  PetscCall(WriteInRounds(w, NS, todo, &nrounds, &nempty));
  PetscCall(PFDatasetWriterGetCompleted(w, &done, &ndone));
  ok = (PetscBool)(ndone == NS);
  for (PetscInt s = 0; s < NS; s++) ok = (PetscBool)(ok && done[s]);
  PetscCall(PetscSNPrintf(msg, sizeof(msg), "all %d samples written in %d rounds (%d without any row); every rank sees them complete", NS, (int)nrounds, (int)nempty));
  PetscCall(Check(ok, msg));
  PetscCall(CheckFiles(path1, PETSC_FALSE, "before Close"));
  PetscCall(PFDatasetWriterClose(&w, &complete));
  PetscCall(Check((PetscBool)(complete && !w), "Close reports complete"));
  PetscCall(CheckFiles(path1, PETSC_TRUE, "after Close"));
  PetscCall(Verify(path1, expect, PETSC_TRUE, "fresh run"));
  PetscCall(CheckXDMF(xmf1, "fresh.h5"));

  /* 2. an interrupted run, then resumed */
  for (PetscInt s = 0; s < NS; s++) {
    expect[s] = (PetscBool)(s % 3 != 1);
    if (expect[s]) all[nsub++] = s;
    else rest[nrest++] = s;
  }
  Scramble(nsub, all, todo);
  PetscCall(PFDatasetWriterCreate(PETSC_COMM_WORLD, path2, &L, rank ? NULL : coords, rank ? NULL : cells, PETSC_TRUE, &w));
  PetscCall(PFDatasetWriterGetCompleted(w, &done, &ndone));
  PetscCall(Check((PetscBool)(ndone == 0), "resume with no file there: starts afresh"));
  {
    PetscInt out[1] = {NS}, dup[2] = {2, 2};
    PetscCall(ExpectWriteError(w, rank == 0 ? 1 : 0, out, "sample index == nsamples on rank 0", "outside"));
    if (size == 1) PetscCall(ExpectWriteError(w, 2, dup, "the same sample twice in one round", "twice"));
    else PetscCall(ExpectWriteError(w, rank == 0 || rank == size - 1 ? 1 : 0, dup, "the same sample from the first and last rank", "twice"));
  }
  PetscCall(WriteInRounds(w, nsub, todo, &nrounds, &nempty));
  PetscCall(PFDatasetWriterClose(&w, &complete));
  PetscCall(Check((PetscBool)!complete, "Close after writing 7 of 11 samples reports incomplete"));
  PetscCall(CheckFiles(path2, PETSC_FALSE, "interrupted"));
  {
    char partial[160];
    PetscCall(PetscSNPrintf(partial, sizeof(partial), "%s.partial", path2));
    PetscCall(Verify(partial, expect, PETSC_FALSE, "interrupted run"));
  }

  bad       = L;
  bad.nvert = 16, bad.ncells = 9;
  PetscCall(ExpectCreateError(path2, &bad, small_coords, small_cells, "a 4x4 mesh", "/coords is [20, 2] but this run needs [16, 2]"));
  bad        = L;
  bad.fields = other;
  PetscCall(ExpectCreateError(path2, &bad, coords, cells, "fields {logK, u}", "{logK, p} but this run writes {logK, u}"));
  bad          = L;
  bad.nsamples = 12;
  PetscCall(ExpectCreateError(path2, &bad, coords, cells, "12 samples", "needs [12, 20]"));
  PetscCall(ExpectCreateError(path2, &L, moved, cells, "moved coordinates", "another mesh"));
  bad      = L;
  bad.kind = "samples";
  PetscCall(ExpectCreateError(path2, &bad, coords, cells, "kind 'samples'", "expected a 'samples' file"));
  bad         = L;
  bad.nparams = 0;
  PetscCall(ExpectCreateError(path2, &bad, coords, cells, "no parameters", "/params {Re} but this run writes {}"));

  PetscCall(PFDatasetWriterCreate(PETSC_COMM_WORLD, path2, &L, rank ? NULL : coords, rank ? NULL : cells, PETSC_TRUE, &w));
  PetscCall(PFDatasetWriterGetCompleted(w, &done, &ndone));
  ok = (PetscBool)(ndone == nsub);
  for (PetscInt s = 0; s < NS; s++) ok = (PetscBool)(ok && done[s] == expect[s]);
  PetscCall(Check(ok, "resume: every rank sees exactly the 7 completed samples"));
  PetscCall(PFDatasetWriterSetAttrString(w, "solver", "synthetic"));
  PetscCall(PFDatasetWriterSetAttrReal(w, "tol", 1e-8));
  Scramble(nrest, rest, todo);
  PetscCall(WriteInRounds(w, nrest, todo, &nrounds, &nempty));
  PetscCall(PFDatasetWriterClose(&w, &complete));
  PetscCall(Check(complete, "resumed run completes"));
  PetscCall(CheckFiles(path2, PETSC_TRUE, "resumed"));
  for (PetscInt s = 0; s < NS; s++) expect[s] = PETSC_TRUE;
  PetscCall(Verify(path2, expect, PETSC_TRUE, "resumed run"));
  PetscCall(CheckXDMF(xmf2, "resumed.h5"));

  /* 3. resume of a finished file */
  if (rank == 0) (void)unlink(xmf2);
  PetscCallMPI(MPI_Barrier(PETSC_COMM_WORLD));
  PetscCall(PFDatasetWriterCreate(PETSC_COMM_WORLD, path2, &L, NULL, NULL, PETSC_TRUE, &w));
  PetscCall(PFDatasetWriterGetCompleted(w, &done, &ndone));
  PetscCall(Check((PetscBool)(ndone == NS), "resume of a complete file: all samples done"));
  PetscCall(PFDatasetWriterWriteRows(w, 0, NULL, NULL, NULL));
  {
    PetscInt one[1] = {0};
    PetscCall(ExpectWriteError(w, rank == 0 ? 1 : 0, one, "writing into a complete file", "already complete"));
  }
  PetscCall(PFDatasetWriterSetAttrString(w, "solver", "ignored"));
  PetscCall(PFDatasetWriterClose(&w, &complete));
  PetscCall(Check(complete, "Close reports complete"));
  PetscCall(CheckFiles(path2, PETSC_TRUE, "complete file left alone, XDMF rewritten"));
  PetscCall(Verify(path2, expect, PETSC_TRUE, "complete file unchanged"));

  PetscCall(PetscPrintf(PETSC_COMM_WORLD, "%s\n", nfail ? "FAILED" : "all checks passed"));
  PetscCall(PetscFinalize());
  return nfail ? 1 : 0;
}
