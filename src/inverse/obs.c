/* Sparse noisy observations of mesh fields: the file, point location on
 * the serial mesh, and the distributed observation operator
 * (include/physflow/obs.h, issue 7). */
#include <math.h>
#include <string.h>
#include <physflow/h5util.h>
#include <physflow/log.h>
#include <physflow/obs.h>
#include <physflow/rng.h>

/* P1 weights of x in the triangle p[3][2] (barycentric coordinates) */
static PetscBool Triangle(const double *p, const double x[2], double w[3])
{
  const double d = (p[2] - p[0]) * (p[5] - p[1]) - (p[4] - p[0]) * (p[3] - p[1]);
  if (d == 0) return PETSC_FALSE;
  w[1] = ((x[0] - p[0]) * (p[5] - p[1]) - (p[4] - p[0]) * (x[1] - p[1])) / d;
  w[2] = ((p[2] - p[0]) * (x[1] - p[1]) - (x[0] - p[0]) * (p[3] - p[1])) / d;
  w[0] = 1 - w[1] - w[2];
  return (PetscBool)(w[0] >= -1e-12 && w[1] >= -1e-12 && w[2] >= -1e-12);
}

/* Q1 weights of x in the quadrilateral p[4][2] (vertices in cyclic order):
 * the bilinear map's inverse by Newton from the centre */
static PetscBool Quad(const double *p, const double x[2], double w[4])
{
  double s = 0.5, t = 0.5;
  for (int it = 0; it < 30; it++) {
    const double N[4] = {(1 - s) * (1 - t), s * (1 - t), s * t, (1 - s) * t};
    const double Ns[4] = {-(1 - t), 1 - t, t, -t}, Nt[4] = {-(1 - s), -s, s, 1 - s};
    double       r[2] = {-x[0], -x[1]}, J[4] = {0, 0, 0, 0}, det, ds, dt;
    for (int k = 0; k < 4; k++) {
      r[0] += N[k] * p[2 * k], r[1] += N[k] * p[2 * k + 1];
      J[0] += Ns[k] * p[2 * k], J[1] += Nt[k] * p[2 * k];
      J[2] += Ns[k] * p[2 * k + 1], J[3] += Nt[k] * p[2 * k + 1];
    }
    det = J[0] * J[3] - J[1] * J[2];
    if (det == 0) return PETSC_FALSE;
    ds = (J[3] * r[0] - J[1] * r[1]) / det;
    dt = (-J[2] * r[0] + J[0] * r[1]) / det;
    s -= ds, t -= dt;
    if (fabs(ds) + fabs(dt) < 1e-14) break;
  }
  w[0] = (1 - s) * (1 - t), w[1] = s * (1 - t), w[2] = s * t, w[3] = (1 - s) * t;
  return (PetscBool)(s >= -1e-10 && s <= 1 + 1e-10 && t >= -1e-10 && t <= 1 + 1e-10);
}

PetscErrorCode PFObsLocate(PFMesh mesh, const double x[2], PetscInt *cell, double w[4])
{
  const PetscInt nv = mesh->nvpc;

  PetscFunctionBegin;
  *cell = -1;
  PetscCheck(mesh->coords && mesh->cells, PETSC_COMM_SELF, PETSC_ERR_ORDER, "PFObsLocate needs the serial mesh (rank 0)");
  PetscCheck(nv == 3 || nv == 4, PETSC_COMM_SELF, PETSC_ERR_SUP, "observations on cells of %" PetscInt_FMT " vertices", nv);
  for (PetscInt c = 0; c < mesh->ncells; c++) {
    double   p[8], lo[2] = {INFINITY, INFINITY}, hi[2] = {-INFINITY, -INFINITY};
    for (PetscInt k = 0; k < nv; k++) {
      const double *q = mesh->coords + 2 * mesh->cells[c * nv + k];
      p[2 * k] = q[0], p[2 * k + 1] = q[1];
      lo[0] = PetscMin(lo[0], q[0]), hi[0] = PetscMax(hi[0], q[0]);
      lo[1] = PetscMin(lo[1], q[1]), hi[1] = PetscMax(hi[1], q[1]);
    }
    if (x[0] < lo[0] - 1e-12 || x[0] > hi[0] + 1e-12 || x[1] < lo[1] - 1e-12 || x[1] > hi[1] + 1e-12) continue;
    if (nv == 3 ? Triangle(p, x, w) : Quad(p, x, w)) {
      *cell = c;
      break;
    }
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* rank 0: nobs uniformly random points inside the mesh (rejection from its
 * bounding box, so holes and re-entrant corners work), each with its cell's
 * vertices (vidx[4], -1 past the cell's) and interpolation weights w[4];
 * point j's stream is (seed, purpose, a, j); streams (may be NULL): each
 * point's generator after its position, to draw its noise from */
PetscErrorCode PFObsDrawPositions(PFMesh mesh, uint64_t seed, PFRNGPurpose purpose, uint64_t a, PetscInt nobs, double coords[], PetscInt vidx[], double w[], PFRNG streams[])
{
  double lo[2] = {INFINITY, INFINITY}, hi[2] = {-INFINITY, -INFINITY};

  PetscFunctionBegin;
  PetscCheck(mesh->coords, PETSC_COMM_SELF, PETSC_ERR_ORDER, "random sensor positions need the serial mesh (rank 0)");
  for (PetscInt v = 0; v < mesh->nvert; v++)
    for (int d = 0; d < 2; d++) lo[d] = PetscMin(lo[d], mesh->coords[2 * v + d]), hi[d] = PetscMax(hi[d], mesh->coords[2 * v + d]);
  for (PetscInt j = 0; j < nobs; j++) {
    PFRNG    r;
    PetscInt cell = -1, tries = 0;
    double   wj[4] = {0, 0, 0, 0};
    PFRNGInit(&r, seed, purpose, a, (uint32_t)j);
    while (cell < 0) {
      PetscCheck(tries++ < 10000, PETSC_COMM_SELF, PETSC_ERR_PLIB, "no sensor position found inside the mesh");
      coords[2 * j]     = lo[0] + (hi[0] - lo[0]) * PFRNGUniform(&r);
      coords[2 * j + 1] = lo[1] + (hi[1] - lo[1]) * PFRNGUniform(&r);
      PetscCall(PFObsLocate(mesh, coords + 2 * j, &cell, wj));
    }
    for (PetscInt k = 0; k < 4; k++) {
      vidx[4 * j + k] = k < mesh->nvpc ? mesh->cells[cell * mesh->nvpc + k] : -1;
      w[4 * j + k]    = wj[k];
    }
    if (streams) streams[j] = r;
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* rank 0 located the points (vidx, w [4 nobs], natural vertices); every
 * rank keeps the entries of its owned vertices (each vertex has one owner) */
static PetscErrorCode OperatorFromLocated(PFPhysics phys, PetscInt nobs, PetscInt *vidx, double *w, PFObsOperator *H)
{
  PFMesh          mesh;
  PetscInt        nown, *nat2own;
  const PetscInt *ownnat;

  PetscFunctionBegin;
  PetscCall(PFPhysicsGetMesh(phys, &mesh));
  PetscCall(PFPhysicsGetVertexMap(phys, &nown, &ownnat));
  PetscCallMPI(MPI_Bcast(vidx, (PetscMPIInt)(4 * nobs), MPIU_INT, 0, H->comm));
  PetscCallMPI(MPI_Bcast(w, (PetscMPIInt)(4 * nobs), MPI_DOUBLE, 0, H->comm));
  PetscCall(PetscMalloc1(mesh->nvert, &nat2own));
  for (PetscInt i = 0; i < mesh->nvert; i++) nat2own[i] = -1;
  for (PetscInt i = 0; i < nown; i++) nat2own[ownnat[i]] = i;
  for (PetscInt q = 0; q < 4 * nobs; q++) H->nent += (vidx[q] >= 0 && nat2own[vidx[q]] >= 0 && w[q] != 0);
  PetscCall(PetscMalloc3(H->nent + 1, &H->obs, H->nent + 1, &H->vert, H->nent + 1, &H->w));
  H->nent = 0;
  for (PetscInt q = 0; q < 4 * nobs; q++)
    if (vidx[q] >= 0 && nat2own[vidx[q]] >= 0 && w[q] != 0) {
      H->obs[H->nent]  = q / 4;
      H->vert[H->nent] = nat2own[vidx[q]];
      H->w[H->nent++]  = w[q];
    }
  PetscCall(PetscFree(nat2own));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode OperatorInit(PFPhysics phys, PetscInt nobs, PFObsOperator *H, PetscInt **vidx, double **w)
{
  PFMesh mesh;

  PetscFunctionBegin;
  PetscCall(PFPhysicsGetMesh(phys, &mesh));
  PetscCall(PetscMemzero(H, sizeof(*H)));
  H->comm = mesh->comm;
  H->nobs = nobs;
  PetscCall(PetscMalloc2(4 * nobs + 1, vidx, 4 * nobs + 1, w));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFObsOperatorCreate(PFPhysics phys, PetscInt nobs, const double coords[], PFObsOperator *H)
{
  PFMesh      mesh;
  PetscInt   *vidx, bad = -1;
  double     *w;
  PetscMPIInt rank;

  PetscFunctionBegin;
  PetscCall(PFPhysicsGetMesh(phys, &mesh));
  PetscCall(OperatorInit(phys, nobs, H, &vidx, &w));
  PetscCallMPI(MPI_Comm_rank(H->comm, &rank));
  {
    /* rank 0 locates; its failure reaches the group as one error */
    PetscErrorCode ierr = PETSC_SUCCESS;
    for (PetscInt j = 0; rank == 0 && j < nobs && !ierr; j++) {
      PetscInt c;
      double   wj[4] = {0, 0, 0, 0};
      ierr = PFObsLocate(mesh, coords + 2 * j, &c, wj);
      if (ierr) break;
      if (c < 0 && bad < 0) bad = j;
      for (PetscInt k = 0; k < 4; k++) {
        vidx[4 * j + k] = (c >= 0 && k < mesh->nvpc) ? mesh->cells[c * mesh->nvpc + k] : -1;
        w[4 * j + k]    = wj[k];
      }
    }
    if (ierr) PetscCall(PetscFree2(vidx, w));
    PetscCall(PFBcastError(H->comm, ierr, "locating the observations: "));
  }
  PetscCallMPI(MPI_Bcast(&bad, 1, MPIU_INT, 0, H->comm));
  if (bad >= 0) PetscCall(PetscFree2(vidx, w));
  PetscCheck(bad < 0, H->comm, PETSC_ERR_ARG_OUTOFRANGE, "observation %" PetscInt_FMT " at (%g, %g) lies outside the mesh (%s)", bad, coords[2 * bad], coords[2 * bad + 1], mesh->source);
  PetscCall(OperatorFromLocated(phys, nobs, vidx, w, H));
  PetscCall(PetscFree2(vidx, w));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFObsOperatorCreateRandom(PFPhysics phys, uint64_t seed, PFRNGPurpose purpose, uint64_t a, PetscInt nobs, double coords_out[], PFObsOperator *H)
{
  PFMesh      mesh;
  PetscInt   *vidx;
  double     *w, *coords = NULL;
  PetscMPIInt rank;

  PetscFunctionBegin;
  PetscCall(PFPhysicsGetMesh(phys, &mesh));
  PetscCall(OperatorInit(phys, nobs, H, &vidx, &w));
  PetscCallMPI(MPI_Comm_rank(H->comm, &rank));
  {
    PetscErrorCode ierr = PETSC_SUCCESS;
    if (rank == 0) {
      PetscCall(PetscMalloc1(2 * nobs, &coords));
      ierr = PFObsDrawPositions(mesh, seed, purpose, a, nobs, coords, vidx, w, NULL);
    }
    if (ierr) {
      PetscCall(PetscFree2(vidx, w));
      if (rank == 0) PetscCall(PetscFree(coords));
    }
    PetscCall(PFBcastError(H->comm, ierr, "random sensor positions: "));
  }
  if (coords_out) {
    if (rank == 0) PetscCall(PetscArraycpy(coords_out, coords, 2 * nobs));
    PetscCallMPI(MPI_Bcast(coords_out, (PetscMPIInt)(2 * nobs), MPI_DOUBLE, 0, H->comm));
  }
  if (rank == 0) PetscCall(PetscFree(coords));
  PetscCall(OperatorFromLocated(phys, nobs, vidx, w, H));
  PetscCall(PetscFree2(vidx, w));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFObsOperatorApply(PFObsOperator *H, const PetscScalar *f, double y[])
{
  PetscFunctionBegin;
  for (PetscInt j = 0; j < H->nobs; j++) y[j] = 0;
  for (PetscInt e = 0; e < H->nent; e++) y[H->obs[e]] += H->w[e] * PetscRealPart(f[H->vert[e]]);
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, y, (PetscMPIInt)H->nobs, MPI_DOUBLE, MPI_SUM, H->comm));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFObsOperatorApplyTransposeAdd(PFObsOperator *H, const double r[], PetscScalar *g)
{
  PetscFunctionBegin;
  for (PetscInt e = 0; e < H->nent; e++) g[H->vert[e]] += H->w[e] * r[H->obs[e]];
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFObsOperatorDestroy(PFObsOperator *H)
{
  PetscFunctionBegin;
  PetscCall(PetscFree3(H->obs, H->vert, H->w));
  H->nent = 0;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* rank 0: read and check; errors are returned (the caller broadcasts them) */
static PetscErrorCode ReadOpen(hid_t fid, const char path[], PFObs *o)
{
  hid_t   g;
  hsize_t d[2];

  PetscFunctionBegin;
  PetscCall(PFH5CheckKind(fid, path, "observations"));
  PetscCall(PFH5GetDims(fid, path, "obs/coords", 2, d));
  PetscCheck(d[0] > 0 && d[1] == 2, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED, "'%s': /obs/coords must be [nobs > 0, 2]", path);
  o->nobs = (PetscInt)d[0];
  {
    hsize_t dv[1];
    PetscCall(PFH5GetDims(fid, path, "obs/values", 1, dv));
    PetscCheck(dv[0] == d[0], PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED, "'%s': %llu values for %llu coordinates", path, (unsigned long long)dv[0], (unsigned long long)d[0]);
  }
  PetscCall(PetscMalloc2(2 * o->nobs, &o->coords, o->nobs, &o->values));
  PetscCall(PFH5ReadArray(fid, path, "obs/coords", H5T_NATIVE_DOUBLE, 2 * (size_t)o->nobs, o->coords));
  PetscCall(PFH5ReadArray(fid, path, "obs/values", H5T_NATIVE_DOUBLE, (size_t)o->nobs, o->values));
  g = H5Gopen2(fid, "obs", H5P_DEFAULT);
  PetscCheck(g >= 0, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED, "'%s' has no /obs", path);
  PetscCall(PFH5ReadAttrString(g, "field", o->field, sizeof(o->field)));
  PetscCall(PFH5ReadAttrReal(g, "sigma", &o->sigma));
  H5Gclose(g);
  for (PetscInt j = 0; j < o->nobs; j++) PetscCheck(isfinite(o->values[j]) && isfinite(o->coords[2 * j]) && isfinite(o->coords[2 * j + 1]), PETSC_COMM_SELF, PETSC_ERR_FP, "'%s': observation %" PetscInt_FMT " is not finite", path, j);
  PetscCheck(o->sigma > 0 && isfinite(o->sigma), PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED, "'%s': the noise level sigma must be positive (got %g)", path, o->sigma);
  if (H5Lexists(fid, "truth", H5P_DEFAULT) > 0) {
    hid_t      tg = H5Gopen2(fid, "truth", H5P_DEFAULT);
    H5G_info_t info;
    PetscCheck(tg >= 0 && H5Gget_info(tg, &info) >= 0, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED, "'%s': unreadable /truth", path);
    o->ntruth = PetscMin((PetscInt)info.nlinks, 8);
    for (PetscInt k = 0; k < o->ntruth; k++) {
      char    name[PETSC_MAX_PATH_LEN];
      hsize_t dt[1];
      PetscCheck(H5Lget_name_by_idx(tg, ".", H5_INDEX_NAME, H5_ITER_INC, (hsize_t)k, o->truthname[k], sizeof(o->truthname[k]), H5P_DEFAULT) > 0, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED, "'%s': unreadable /truth", path);
      PetscCall(PetscSNPrintf(name, sizeof(name), "truth/%s", o->truthname[k]));
      PetscCall(PFH5GetDims(fid, path, name, 1, dt));
      if (k == 0) {
        o->nvert = (PetscInt)dt[0];
        PetscCall(PetscMalloc1((size_t)o->ntruth * o->nvert, &o->truth));
      }
      PetscCheck((PetscInt)dt[0] == o->nvert, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED, "'%s': truth fields of different sizes", path);
      PetscCall(PFH5ReadArray(fid, path, name, H5T_NATIVE_DOUBLE, (size_t)o->nvert, o->truth + (size_t)k * o->nvert));
    }
    H5Gclose(tg);
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* the file is closed whatever the outcome (a campaign reads many, some bad) */
static PetscErrorCode ReadOnRank0(const char path[], PFObs *o)
{
  hid_t          fid;
  PetscErrorCode ierr;

  PetscFunctionBegin;
  PetscCall(PFH5OpenRead(path, &fid));
  ierr = ReadOpen(fid, path, o);
  PetscCall(PFH5Close(&fid));
  PetscCall(ierr);
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFObsRead(MPI_Comm comm, const char path[], PFObs *o)
{
  PetscMPIInt    rank;
  PetscErrorCode ierr = PETSC_SUCCESS;
  PetscInt       n[3];

  PetscFunctionBegin;
  PetscCall(PetscMemzero(o, sizeof(*o)));
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  if (rank == 0) ierr = ReadOnRank0(path, o);
  if (ierr && rank == 0) PetscCall(PFObsDestroy(o));
  PetscCall(PFBcastError(comm, ierr, "cannot read observations: "));
  n[0] = o->nobs, n[1] = o->ntruth, n[2] = o->nvert;
  PetscCallMPI(MPI_Bcast(n, 3, MPIU_INT, 0, comm));
  if (rank) {
    o->nobs = n[0], o->ntruth = n[1], o->nvert = n[2];
    PetscCall(PetscMalloc2(2 * o->nobs, &o->coords, o->nobs, &o->values));
    if (o->ntruth) PetscCall(PetscMalloc1((size_t)o->ntruth * o->nvert, &o->truth));
  }
  PetscCallMPI(MPI_Bcast(o->coords, (PetscMPIInt)(2 * o->nobs), MPI_DOUBLE, 0, comm));
  PetscCallMPI(MPI_Bcast(o->values, (PetscMPIInt)o->nobs, MPI_DOUBLE, 0, comm));
  PetscCallMPI(MPI_Bcast(&o->sigma, 1, MPI_DOUBLE, 0, comm));
  PetscCallMPI(MPI_Bcast(o->field, sizeof(o->field), MPI_CHAR, 0, comm));
  PetscCallMPI(MPI_Bcast(o->truthname, sizeof(o->truthname), MPI_CHAR, 0, comm));
  if (o->ntruth) PetscCallMPI(MPI_Bcast(o->truth, (PetscMPIInt)(o->ntruth * o->nvert), MPI_DOUBLE, 0, comm));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFObsWrite(MPI_Comm comm, const char path[], const PFObs *o, const char source[], PetscInt index, PetscInt seed, const char mesh[])
{
  PetscMPIInt    rank;
  PetscErrorCode ierr = PETSC_SUCCESS;

  PetscFunctionBegin;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  if (rank == 0) {
    PFH5Temp t = {.fid = -1};
    hsize_t  dc[2] = {(hsize_t)o->nobs, 2}, dv[1] = {(hsize_t)o->nobs}, dt[1] = {(hsize_t)o->nvert};
    hid_t    g;
    ierr = PFH5CreateTemp(path, &t);
    if (!ierr) ierr = PFH5WriteStandardAttrs(t.fid, "observations");
    if (!ierr) ierr = PFH5WriteAttrString(t.fid, "source", source);
    if (!ierr) ierr = PFH5WriteAttrInt(t.fid, "index", index);
    if (!ierr) ierr = PFH5WriteAttrInt(t.fid, "seed", seed);
    if (!ierr) ierr = PFH5WriteAttrString(t.fid, "mesh", mesh);
    if (!ierr) ierr = PFH5WriteArray(t.fid, "obs/coords", H5T_NATIVE_DOUBLE, H5T_IEEE_F64LE, 2, dc, o->coords);
    if (!ierr) ierr = PFH5WriteArray(t.fid, "obs/values", H5T_NATIVE_DOUBLE, H5T_IEEE_F64LE, 1, dv, o->values);
    if (!ierr && (g = H5Gopen2(t.fid, "obs", H5P_DEFAULT)) >= 0) {
      ierr = PFH5WriteAttrString(g, "field", o->field);
      if (!ierr) ierr = PFH5WriteAttrReal(g, "sigma", o->sigma);
      H5Gclose(g);
    }
    for (PetscInt k = 0; !ierr && k < o->ntruth; k++) {
      char name[128];
      PetscCall(PetscSNPrintf(name, sizeof(name), "truth/%s", o->truthname[k]));
      ierr = PFH5WriteArray(t.fid, name, H5T_NATIVE_DOUBLE, H5T_IEEE_F64LE, 1, dt, o->truth + (size_t)k * o->nvert);
    }
    if (!ierr) ierr = PFH5CommitTemp(&t);
    else if (t.fid >= 0) PFH5AbortTemp(&t);
  }
  PetscCallMPI(MPI_Bcast(&ierr, 1, MPI_INT, 0, comm));
  PetscCheck(!ierr, comm, PETSC_ERR_FILE_WRITE, "could not write observations '%s'", path);
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFObsDestroy(PFObs *o)
{
  PetscFunctionBegin;
  PetscCall(PetscFree2(o->coords, o->values));
  PetscCall(PetscFree(o->truth));
  o->nobs = o->ntruth = 0;
  PetscFunctionReturn(PETSC_SUCCESS);
}
