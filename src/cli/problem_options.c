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
  static const char *const ns_skip[] = {"-ns_snes_", "-ns_ts_", "-ns_residual_", "-ns_newton_", "-ns_ksp_", "-ns_pc_", "-ns_fieldsplit_", "-ns_schur_mass", NULL};
  if (!strcmp(name, "-mesh") || !strcmp(name, "-mesh_faces")) return PETSC_TRUE;
  if (!strncmp(name, "-ns_", 4)) {
    /* Navier-Stokes: the geometry, inflow and boundary groups, not the solver */
    for (int i = 0; ns_skip[i]; i++)
      if (!strncmp(name, ns_skip[i], strlen(ns_skip[i]))) return PETSC_FALSE;
    return PETSC_TRUE;
  }
  if (strncmp(name, "-darcy_", 7)) return PETSC_FALSE;
  for (int i = 0; skip[i]; i++)
    if (!strncmp(name, skip[i], strlen(skip[i]))) return PETSC_FALSE;
  return PETSC_TRUE;
}

PetscErrorCode PFCLIPeek(MPI_Comm comm, const char path[], const char obj[], const char name[], PetscBool *exists, char value[], size_t len)
{
  PetscMPIInt rank;
  PetscBool   found = PETSC_FALSE;

  PetscFunctionBegin;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  if (value) value[0] = 0;
  if (rank == 0 && H5Fis_hdf5(path) > 0) {
    hid_t fid = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (fid >= 0) {
      found = (!strcmp(obj, ".") || H5Lexists(fid, obj, H5P_DEFAULT) > 0) ? PETSC_TRUE : PETSC_FALSE;
      if (found && name) {
        hid_t o = H5Oopen(fid, obj, H5P_DEFAULT);
        if (o >= 0) {
          if (H5Aexists(o, name) > 0 && PFH5ReadAttrString(o, name, value, len)) value[0] = 0;
          H5Oclose(o);
        }
      }
      H5Fclose(fid);
    }
  }
  PetscCallMPI(MPI_Bcast(&found, 1, MPIU_BOOL, 0, comm));
  if (exists) *exists = found;
  if (value) PetscCallMPI(MPI_Bcast(value, (PetscMPIInt)len, MPI_CHAR, 0, comm));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* The random-field options of the data (the prior of their inputs) */
static PetscBool FieldOption(const char *name)
{
  static const char *const take[] = {"-darcy_spde_", "-darcy_field", "-darcy_corr_length", "-darcy_kl_terms", "-darcy_logk_std", NULL};
  for (int i = 0; take[i]; i++)
    if (!strncmp(name, take[i], strlen(take[i]))) return PETSC_TRUE;
  return PETSC_FALSE;
}

/* the options of a file's recorded command line that pass the filter, as
 * defaults (those the user gave win) */
static PetscErrorCode OptionsFromFile(MPI_Comm comm, const char path[], PetscBool (*keep)(const char *), PetscBool skip_mesh)
{
  char opts[8192];

  PetscFunctionBegin;
  PetscCall(PFCLIPeek(comm, path, ".", "options", NULL, opts, sizeof(opts)));
  /* "-name value -flag -name value": a value is a token that does not
   * start with '-', or is a (negative) number */
  {
    char    *tok[1024];
    PetscInt ntok = 0;
    for (char *t = strtok(opts, " "); t && ntok < 1024; t = strtok(NULL, " ")) tok[ntok++] = t;
    for (PetscInt k = 0; k < ntok;) {
      char *name = tok[k], *value = NULL, *end;
      if (k + 1 < ntok) {
        strtod(tok[k + 1], &end);
        if (tok[k + 1][0] != '-' || !*end) value = tok[k + 1];
      }
      k += value ? 2 : 1;
      if (name[0] != '-' || !keep(name)) continue;
      if (skip_mesh && (!strcmp(name, "-mesh") || !strcmp(name, "-mesh_faces"))) continue;
      PetscCall(PFCLIDefaultOption(name, value));
    }
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFCLIFieldOptionsFromFile(MPI_Comm comm, const char path[])
{
  PetscFunctionBegin;
  PetscCall(OptionsFromFile(comm, path, FieldOption, PETSC_TRUE));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Take the problem options (mesh, source, boundary groups) the data were
 * made with, from the file's "options" and "mesh" attributes, unless the
 * user gave them: the residual must be that of the data's own equations. */
PetscErrorCode PFCLIProblemOptionsFromFile(MPI_Comm comm, const char path[])
{
  char      mesh[PETSC_MAX_PATH_LEN];
  PetscBool has_mesh, has_faces;

  PetscFunctionBegin;
  PetscCall(PFCLIPeek(comm, path, ".", "mesh", NULL, mesh, sizeof(mesh)));
  PetscCall(PetscOptionsHasName(NULL, NULL, "-mesh", &has_mesh));
  PetscCall(PetscOptionsHasName(NULL, NULL, "-mesh_faces", &has_faces));
  PetscCall(OptionsFromFile(comm, path, ProblemOption, (PetscBool)(has_mesh || has_faces)));
  PetscCall(PFCLISetMeshOption(mesh));
  PetscFunctionReturn(PETSC_SUCCESS);
}


PetscErrorCode PFCLISetMeshOption(const char mesh[])
{
  PetscBool m, f;

  PetscFunctionBegin;
  PetscCall(PetscOptionsHasName(NULL, NULL, "-mesh", &m));
  PetscCall(PetscOptionsHasName(NULL, NULL, "-mesh_faces", &f));
  if (m || f) PetscFunctionReturn(PETSC_SUCCESS); /* the user's (or the data's) mesh */
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
  PetscFunctionBegin;
  PetscCall(PFCLIPeek(comm, path, "coords", NULL, mesh, NULL, 0));
  PetscFunctionReturn(PETSC_SUCCESS);
}
