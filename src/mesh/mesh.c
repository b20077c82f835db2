#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <petscsf.h>
#include <physflow/mesh.h>

/* Vertices of a cell in closure order (the order PetscFE's basis follows) */
static PetscErrorCode CellVertices(DM dm, PetscInt c, PetscInt vStart, PetscInt vEnd, PetscInt *nv, PetscInt v[])
{
  PetscInt *closure = NULL, n;

  PetscFunctionBegin;
  PetscCall(DMPlexGetTransitiveClosure(dm, c, PETSC_TRUE, &n, &closure));
  *nv = 0;
  for (PetscInt i = 0; i < 2 * n; i += 2)
    if (closure[i] >= vStart && closure[i] < vEnd) v[(*nv)++] = closure[i];
  PetscCall(DMPlexRestoreTransitiveClosure(dm, c, PETSC_TRUE, &n, &closure));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* $PhysicalNames of a Gmsh file (ASCII section in both text and binary
 * .msh): the names of the dimension-1 groups, i.e. boundary curves */
static PetscErrorCode ReadGmshPhysicalNames(const char file[], PetscInt *n, char (**names)[64], PetscInt **tags)
{
  FILE *f = fopen(file, "r");
  char  line[512];

  PetscFunctionBegin;
  *n = 0;
  PetscCall(PetscMalloc2(256, names, 256, tags));
  if (!f) PetscFunctionReturn(PETSC_SUCCESS);
  while (fgets(line, sizeof(line), f)) {
    if (strncmp(line, "$PhysicalNames", 14)) continue;
    int count = 0;
    if (!fgets(line, sizeof(line), f) || sscanf(line, "%d", &count) != 1) break;
    for (int i = 0; i < count && fgets(line, sizeof(line), f); i++) {
      int  dim, tag;
      char name[128];
      if (sscanf(line, "%d %d \"%127[^\"]\"", &dim, &tag, name) == 3 && dim == 1 && *n < 256) {
        PetscCall(PetscStrncpy((*names)[*n], name, 64));
        (*tags)[(*n)++] = tag;
      }
    }
    break;
  }
  fclose(f);
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFMeshGetBoundaryGroup(PFMesh mesh, const char name[], PetscInt *tag)
{
  char     *end, list[1024] = "";
  long      num = strtol(name, &end, 10);

  PetscFunctionBegin;
  for (PetscInt i = 0; i < mesh->ngroups; i++) {
    PetscBool same;
    PetscCall(PetscStrcmp(mesh->groupname[i], name, &same));
    if (same) {
      *tag = mesh->grouptag[i];
      PetscFunctionReturn(PETSC_SUCCESS);
    }
  }
  if (*name && !*end) {
    *tag = (PetscInt)num;
    PetscFunctionReturn(PETSC_SUCCESS);
  }
  for (PetscInt i = 0; i < mesh->ngroups; i++) {
    PetscCall(PetscStrlcat(list, i ? ", " : "", sizeof(list)));
    PetscCall(PetscStrlcat(list, mesh->groupname[i], sizeof(list)));
  }
  SETERRQ(mesh->comm, PETSC_ERR_ARG_WRONG, "mesh '%s' has no boundary group named '%s' (it has: %s)", mesh->source, name, mesh->ngroups ? list : "no named groups; give a Face Sets number");
}

static PetscErrorCode Distribute(PFMesh m, DM dm, const PetscInt cellrank[]);

PetscErrorCode PFMeshCreate(MPI_Comm comm, const char file[], PetscInt faces, PFMesh *mesh)
{
  PFMesh      m;
  DM          dm;
  PetscMPIInt rank;

  PetscFunctionBegin;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  PetscCall(PetscNew(&m));
  m->comm = comm;
  if (file && file[0]) {
    PetscBool      exists = PETSC_FALSE;
    PetscErrorCode ierr;
    if (rank == 0) PetscCall(PetscTestFile(file, 'r', &exists));
    PetscCallMPI(MPI_Bcast(&exists, 1, MPIU_BOOL, 0, comm));
    PetscCheck(exists, comm, PETSC_ERR_FILE_OPEN, "cannot read mesh '%s': no such file or not readable", file);
    ierr = DMPlexCreateFromFile(comm, file, "physflow", PETSC_TRUE, &dm);
    PetscCheck(!ierr, comm, PETSC_ERR_FILE_UNEXPECTED, "cannot read mesh '%s': not a mesh file PETSc can read (Gmsh .msh expected)", file);
    PetscCall(PetscStrncpy(m->source, file, sizeof(m->source)));
    if (rank == 0) PetscCall(ReadGmshPhysicalNames(file, &m->ngroups, &m->groupname, &m->grouptag));
    else PetscCall(PetscMalloc2(256, &m->groupname, 256, &m->grouptag));
    PetscCallMPI(MPI_Bcast(&m->ngroups, 1, MPIU_INT, 0, comm));
    PetscCallMPI(MPI_Bcast(m->groupname, (PetscMPIInt)(64 * m->ngroups), MPI_CHAR, 0, comm));
    PetscCallMPI(MPI_Bcast(m->grouptag, (PetscMPIInt)m->ngroups, MPIU_INT, 0, comm));
  } else {
    PetscInt  f[2]  = {faces, faces};
    PetscReal lo[2] = {0, 0}, hi[2] = {1, 1};
    PetscCheck(faces >= 1, comm, PETSC_ERR_ARG_OUTOFRANGE, "-mesh_faces must be >= 1, got %" PetscInt_FMT, faces);
    PetscCall(DMPlexCreateBoxMesh(comm, 2, PETSC_FALSE, f, lo, hi, NULL, PETSC_TRUE, &dm));
    PetscCall(PetscSNPrintf(m->source, sizeof(m->source), "box %" PetscInt_FMT "x%" PetscInt_FMT, faces, faces));
  }
  PetscCall(Distribute(m, dm, NULL));
  *mesh = m;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFMeshCreateBox(MPI_Comm comm, const PetscInt faces[2], const double lo[2], const double hi[2], const PetscInt cellrank[], PFMesh *mesh)
{
  PFMesh    m;
  DM        dm;
  PetscReal l[2] = {lo[0], lo[1]}, u[2] = {hi[0], hi[1]};
  PetscInt  f[2] = {faces[0], faces[1]};

  PetscFunctionBegin;
  PetscCheck(faces[0] >= 1 && faces[1] >= 1 && hi[0] > lo[0] && hi[1] > lo[1], comm, PETSC_ERR_ARG_OUTOFRANGE, "PFMeshCreateBox: empty box");
  PetscCall(PetscNew(&m));
  m->comm = comm;
  PetscCall(DMPlexCreateBoxMesh(comm, 2, PETSC_FALSE, f, l, u, NULL, PETSC_TRUE, &dm));
  PetscCall(PetscSNPrintf(m->source, sizeof(m->source), "box %" PetscInt_FMT "x%" PetscInt_FMT " on [%g,%g]x[%g,%g]", faces[0], faces[1], lo[0], hi[0], lo[1], hi[1]));
  PetscCall(Distribute(m, dm, cellrank));
  *mesh = m;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Record the serial mesh dm (on rank 0) in natural order and distribute it;
 * cellrank (rank 0, or NULL for the default partitioner) prescribes the
 * rank of every cell */
static PetscErrorCode Distribute(PFMesh m, DM dm, const PetscInt cellrank[])
{
  MPI_Comm    comm = m->comm;
  DM          dist = NULL;
  PetscSF     sf   = NULL;
  PetscMPIInt rank, size;
  PetscInt    pStart, pEnd, vStart, vEnd, cStart, cEnd, vStart0 = 0, counts[4] = {0, 0, 0, 0};

  PetscFunctionBegin;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  PetscCallMPI(MPI_Comm_size(comm, &size));
  PetscCall(DMGetDimension(dm, &m->dim));
  PetscCheck(m->dim == 2, comm, PETSC_ERR_SUP, "mesh '%s' is %" PetscInt_FMT "-D; physflow's solvers need a 2-D mesh", m->source, m->dim);
  PetscCall(DMPlexGetChart(dm, &pStart, &pEnd));
  PetscCall(DMPlexGetDepthStratum(dm, 0, &vStart, &vEnd));
  PetscCall(DMPlexGetHeightStratum(dm, 0, &cStart, &cEnd));
  /* the serial mesh lives on rank 0: record it in natural (serial) order */
  if (rank == 0) {
    PetscInt nv;
    PetscCall(CellVertices(dm, cStart, vStart, vEnd, &m->nvpc, counts));
    m->nvert  = vEnd - vStart;
    m->ncells = cEnd - cStart;
    vStart0   = vStart;
    PetscCheck(m->nvpc == 3 || m->nvpc == 4, PETSC_COMM_SELF, PETSC_ERR_SUP, "mesh '%s': cells with %" PetscInt_FMT " vertices; only triangles and quadrilaterals are supported", m->source, m->nvpc);
    PetscCall(PetscMalloc2(m->nvert * 2, &m->coords, m->ncells * m->nvpc, &m->cells));
    {
      Vec                coords;
      const PetscScalar *a;
      PetscCall(DMGetCoordinatesLocal(dm, &coords));
      PetscCall(VecGetArrayRead(coords, &a));
      for (PetscInt i = 0; i < 2 * m->nvert; i++) m->coords[i] = PetscRealPart(a[i]);
      PetscCall(VecRestoreArrayRead(coords, &a));
    }
    for (PetscInt c = cStart; c < cEnd; c++) {
      PetscInt v[8];
      PetscCall(CellVertices(dm, c, vStart, vEnd, &nv, v));
      PetscCheck(nv == m->nvpc, PETSC_COMM_SELF, PETSC_ERR_SUP, "mesh '%s' mixes cell types; use all triangles or all quadrilaterals", m->source);
      for (PetscInt i = 0; i < nv; i++) m->cells[(c - cStart) * nv + i] = v[i] - vStart;
    }
    m->simplex = (PetscBool)(m->nvpc == 3);
  }
  {
    PetscInt buf[4] = {m->nvert, m->ncells, m->nvpc, vStart0};
    PetscCallMPI(MPI_Bcast(buf, 4, MPIU_INT, 0, comm));
    m->nvert   = buf[0];
    m->ncells  = buf[1];
    m->nvpc    = buf[2];
    vStart0    = buf[3];
    m->simplex = (PetscBool)(m->nvpc == 3);
  }
  PetscCheck(m->nvert > 0, comm, PETSC_ERR_FILE_UNEXPECTED, "mesh '%s' has no vertices", m->source);
  PetscBool prescribed = (PetscBool)(cellrank != NULL);
  PetscCallMPI(MPI_Bcast(&prescribed, 1, MPIU_BOOL, 0, comm));
  if (prescribed && size > 1) {
    /* a prescribed partition: the shell partitioner takes the cells of
     * every rank as one list ordered by rank (rank 0 holds them all) */
    PetscPartitioner part;
    PetscInt        *sizes, *points, nc = rank == 0 ? cEnd - cStart : 0, k = 0;
    PetscCall(PetscCalloc2(size, &sizes, nc + 1, &points));
    for (PetscInt c = 0; c < nc; c++) sizes[cellrank[c]]++;
    for (PetscMPIInt r = 0; r < size; r++)
      for (PetscInt c = 0; c < nc; c++)
        if (cellrank[c] == r) points[k++] = c + cStart;
    PetscCall(DMPlexGetPartitioner(dm, &part));
    PetscCall(PetscPartitionerSetType(part, PETSCPARTITIONERSHELL));
    PetscCall(PetscPartitionerShellSetPartition(part, size, sizes, points));
    PetscCall(PetscFree2(sizes, points));
  }
  /* distribute; the migration SF maps serial points (roots) to new points */
  PetscCall(DMPlexDistribute(dm, 0, &sf, &dist));
  {
    PetscInt *orig, *mine, npStart, npEnd;
    DM        use = dist ? dist : dm;
    PetscCall(DMPlexGetChart(use, &npStart, &npEnd));
    PetscCall(DMPlexGetDepthStratum(use, 0, &vStart, &vEnd));
    PetscCall(PetscMalloc1(vEnd - vStart, &m->vnat));
    if (sf) {
      PetscCall(PetscMalloc2(pEnd - pStart, &orig, npEnd - npStart, &mine));
      for (PetscInt p = pStart; p < pEnd; p++) orig[p - pStart] = p;
      PetscCall(PetscSFBcastBegin(sf, MPIU_INT, orig, mine, MPI_REPLACE));
      PetscCall(PetscSFBcastEnd(sf, MPIU_INT, orig, mine, MPI_REPLACE));
      for (PetscInt v = vStart; v < vEnd; v++) m->vnat[v - vStart] = mine[v - npStart] - vStart0;
      PetscCall(PetscFree2(orig, mine));
    } else {
      for (PetscInt v = vStart; v < vEnd; v++) m->vnat[v - vStart] = v - vStart;
    }
    for (PetscInt v = vStart; v < vEnd; v++) PetscCheck(m->vnat[v - vStart] >= 0 && m->vnat[v - vStart] < m->nvert, PETSC_COMM_SELF, PETSC_ERR_PLIB, "natural vertex numbering failed");
  }
  PetscCall(PetscSFDestroy(&sf));
  if (dist) {
    PetscCall(DMDestroy(&dm));
    dm = dist;
  }
  m->dm = dm;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFMeshDestroy(PFMesh *mesh)
{
  PetscFunctionBegin;
  if (!*mesh) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCall(DMDestroy(&(*mesh)->dm));
  PetscCall(PetscFree((*mesh)->vnat));
  PetscCall(PetscFree2((*mesh)->coords, (*mesh)->cells));
  PetscCall(PetscFree2((*mesh)->groupname, (*mesh)->grouptag));
  PetscCall(PetscFree(*mesh));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFGatherNatural(MPI_Comm comm, PetscInt nown, const PetscInt *ownnat, PetscInt nvert, const PetscScalar *own, double *natural)
{
  PetscMPIInt rank, size, n = (PetscMPIInt)nown, *counts = NULL, *displs = NULL;
  PetscInt   *idx = NULL;
  double     *vals = NULL, *mine;

  PetscFunctionBegin;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  PetscCallMPI(MPI_Comm_size(comm, &size));
  PetscCall(PetscMalloc1(nown + 1, &mine));
  for (PetscInt i = 0; i < nown; i++) mine[i] = PetscRealPart(own[i]);
  if (rank == 0) PetscCall(PetscMalloc4(size, &counts, size, &displs, nvert, &idx, nvert, &vals));
  PetscCallMPI(MPI_Gather(&n, 1, MPI_INT, counts, 1, MPI_INT, 0, comm));
  if (rank == 0) {
    displs[0] = 0;
    for (PetscMPIInt r = 1; r < size; r++) displs[r] = displs[r - 1] + counts[r - 1];
  }
  PetscCallMPI(MPI_Gatherv(ownnat, n, MPIU_INT, idx, counts, displs, MPIU_INT, 0, comm));
  PetscCallMPI(MPI_Gatherv(mine, n, MPI_DOUBLE, vals, counts, displs, MPI_DOUBLE, 0, comm));
  if (rank == 0) {
    for (PetscInt i = 0; i < nvert; i++) natural[idx[i]] = vals[i];
    PetscCall(PetscFree4(counts, displs, idx, vals));
  }
  PetscCall(PetscFree(mine));
  PetscFunctionReturn(PETSC_SUCCESS);
}
