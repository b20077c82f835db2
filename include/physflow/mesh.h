#pragma once
/* PFMesh: a 2-D DMPlex distributed over a communicator (a rank group), with
 * the canonical "natural" vertex numbering that every file uses.
 *
 * The mesh is built serially on rank 0 (a quad box, or a Gmsh file), its
 * vertex order there defines the natural order, and DMPlexDistribute's
 * migration SF carries each vertex's serial number to whichever rank owns it.
 * So files do not depend on the number of ranks, and no coordinate matching
 * is needed.  Rank 0 keeps the serial coordinates and cells for output. */
#include <petscdmplex.h>
#include <physflow/compat.h>

typedef struct _p_PFMesh *PFMesh;
struct _p_PFMesh {
  MPI_Comm  comm;
  DM        dm; /* distributed, overlap 0, no fields attached */
  PetscInt  dim;
  PetscBool simplex;
  PetscInt  nvert, ncells; /* global counts */
  PetscInt *vnat;          /* natural index of local vertex point v: vnat[v - vStart] */
  /* rank 0 only: serial mesh in natural order */
  double   *coords; /* [nvert, dim] */
  PetscInt *cells;  /* [ncells, nvpc] natural vertex indices */
  PetscInt  nvpc;   /* vertices per cell (3 or 4) */
  char      source[PETSC_MAX_PATH_LEN];
  /* Gmsh physical groups of dimension 1 (boundary curves): names and tags,
   * the tags being the values of the "Face Sets" label */
  PetscInt  ngroups;
  char    (*groupname)[64];
  PetscInt *grouptag;
};

/* file: a Gmsh .msh (or any format DMPlexCreateFromFile reads), or NULL/""
 * for the unit-square quad box with `faces` cells per side. */
PETSC_EXTERN PetscErrorCode PFMeshCreate(MPI_Comm comm, const char file[], PetscInt faces, PFMesh *mesh);
/* A quad box [lo,hi] with faces[0] x faces[1] cells (the U-Net's coarse
 * levels).  cellrank (rank 0: the rank of each serial cell, row-major, or
 * NULL for the default partitioner) lets the caller align its partition
 * with another mesh's. */
PETSC_EXTERN PetscErrorCode PFMeshCreateBox(MPI_Comm comm, const PetscInt faces[2], const double lo[2], const double hi[2], const PetscInt cellrank[], PFMesh *mesh);
PETSC_EXTERN PetscErrorCode PFMeshDestroy(PFMesh *mesh);

/* Gather an array over the nown owned vertices (natural indices ownnat) into
 * natural order on rank 0 of comm (natural needs nvert entries there) */
PETSC_EXTERN PetscErrorCode PFGatherNatural(MPI_Comm comm, PetscInt nown, const PetscInt *ownnat, PetscInt nvert, const PetscScalar *own, double *natural);

/* The "Face Sets" value of the boundary group called name (a Gmsh physical
 * curve name, or a number); an error listing the available groups if absent */
PETSC_EXTERN PetscErrorCode PFMeshGetBoundaryGroup(PFMesh mesh, const char name[], PetscInt *tag);
