/* Problem options recorded in data files, reused by the commands that work
 * on those data (eval, train, sample), so they need not be repeated. */
#include <stdlib.h>
#include <string.h>
#include <physflow/h5util.h>
#include "cli.h"

/* Is this option of the data file's recorded command line part of the
 * discrete problem (mesh, source, boundary conditions), so that eval must
 * use it too?  Solver and random-field options are not. */
static PetscBool ProblemOption(const char *name)
{
  static const char *const skip[] = {"-darcy_ksp_", "-darcy_pc_", "-darcy_low_", "-darcy_spde_", "-darcy_field", "-darcy_corr_length", "-darcy_kl_terms", "-darcy_logk_std", NULL};
  if (!strcmp(name, "-mesh") || !strcmp(name, "-mesh_faces")) return PETSC_TRUE;
  if (strncmp(name, "-darcy_", 7)) return PETSC_FALSE;
  for (int i = 0; skip[i]; i++)
    if (!strncmp(name, skip[i], strlen(skip[i]))) return PETSC_FALSE;
  return PETSC_TRUE;
}

/* Take the problem options (mesh, source, boundary groups) the data were
 * made with, from the file's "options" and "mesh" attributes, unless the
 * user gave them: the residual must be that of the data's own equations. */
PetscErrorCode PFCLIProblemOptionsFromFile(MPI_Comm comm, const char path[])
{
  char        mesh[PETSC_MAX_PATH_LEN] = "", opts[8192] = "";
  PetscMPIInt rank;
  PetscBool   exists = PETSC_FALSE, has_mesh, has_faces;

  PetscFunctionBegin;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  if (rank == 0) {
    PetscCall(PetscTestFile(path, 'r', &exists));
    if (exists && H5Fis_hdf5(path) > 0) {
      hid_t fid = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
      if (fid >= 0) {
        PetscBool has;
        PetscCall(PFH5HasAttr(fid, "mesh", &has));
        if (has && PFH5ReadAttrString(fid, "mesh", mesh, sizeof(mesh))) mesh[0] = 0;
        PetscCall(PFH5HasAttr(fid, "options", &has));
        if (has && PFH5ReadAttrString(fid, "options", opts, sizeof(opts))) opts[0] = 0;
        H5Fclose(fid);
      }
    }
  }
  PetscCallMPI(MPI_Bcast(mesh, sizeof(mesh), MPI_CHAR, 0, comm));
  PetscCallMPI(MPI_Bcast(opts, sizeof(opts), MPI_CHAR, 0, comm));
  PetscCall(PetscOptionsHasName(NULL, NULL, "-mesh", &has_mesh));
  PetscCall(PetscOptionsHasName(NULL, NULL, "-mesh_faces", &has_faces));
  /* "-name value -flag -name value": a value is a token that does not
   * start with '-', or is a (negative) number */
  {
    char    *tok[1024];
    PetscInt ntok = 0;
    for (char *t = strtok(opts, " "); t && ntok < 1024; t = strtok(NULL, " ")) tok[ntok++] = t;
    for (PetscInt k = 0; k < ntok;) {
      char     *name = tok[k], *value = NULL, *end;
      PetscBool set;
      if (k + 1 < ntok) {
        strtod(tok[k + 1], &end);
        if (tok[k + 1][0] != '-' || !*end) value = tok[k + 1];
      }
      k += value ? 2 : 1;
      if (name[0] != '-' || !ProblemOption(name)) continue;
      if ((has_mesh || has_faces) && (!strcmp(name, "-mesh") || !strcmp(name, "-mesh_faces"))) continue;
      PetscCall(PetscOptionsHasName(NULL, NULL, name, &set));
      if (!set) PetscCall(PetscOptionsSetValue(NULL, name, value));
    }
  }
  if (!has_mesh && !has_faces && mesh[0]) {
    PetscBool m, f;
    PetscCall(PetscOptionsHasName(NULL, NULL, "-mesh", &m));
    PetscCall(PetscOptionsHasName(NULL, NULL, "-mesh_faces", &f));
    if (!m && !f) PetscCall(PFCLISetMeshOption(mesh));
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}


PetscErrorCode PFCLISetMeshOption(const char mesh[])
{
  PetscFunctionBegin;
  if (!strncmp(mesh, "box ", 4)) {
    /* "box 63x63": the default box with that many cells per side */
    char faces[32];
    PetscCall(PetscStrncpy(faces, mesh + 4, sizeof(faces)));
    for (char *c = faces; *c; c++)
      if (*c == 'x') *c = 0;
    PetscCall(PetscOptionsSetValue(NULL, "-mesh_faces", faces));
  } else if (mesh[0]) PetscCall(PetscOptionsSetValue(NULL, "-mesh", mesh));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFCLIIsMeshFile(MPI_Comm comm, const char path[], PetscBool *mesh)
{
  PetscMPIInt rank;
  PetscBool   exists = PETSC_FALSE;

  PetscFunctionBegin;
  *mesh = PETSC_FALSE;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  if (rank == 0) {
    PetscCall(PetscTestFile(path, 'r', &exists));
    if (exists && H5Fis_hdf5(path) > 0) {
      hid_t fid = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
      if (fid >= 0) {
        *mesh = H5Lexists(fid, "coords", H5P_DEFAULT) > 0 ? PETSC_TRUE : PETSC_FALSE;
        H5Fclose(fid);
      }
    }
  }
  PetscCallMPI(MPI_Bcast(mesh, 1, MPIU_BOOL, 0, comm));
  PetscFunctionReturn(PETSC_SUCCESS);
}
