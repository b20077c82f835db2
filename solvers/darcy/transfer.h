#pragma once
/* Interpolation of nodal P1 fields from one serial mesh to arbitrary points
 * (used by low fidelity on Gmsh meshes: log K to the coarse mesh's vertices,
 * the coarse solution back to the fine vertices).  Each point is located in
 * a cell of the source mesh through a uniform bucket grid; quadrilaterals are
 * split into two triangles; a point outside the source mesh (a curved
 * boundary discretised differently) takes the closest cell, with barycentric
 * coordinates clamped to it. */
#include <physflow/compat.h>

typedef struct {
  PetscInt  n;   /* points */
  PetscInt *idx; /* [n*3] source vertices */
  double   *w;   /* [n*3] weights */
} PFTransfer;

PETSC_INTERN PetscErrorCode PFTransferCreate(PetscInt nvert, const double *coords, PetscInt ncells, PetscInt nvpc, const PetscInt *cells, PetscInt n, const double *points, PFTransfer *t);
PETSC_INTERN void           PFTransferApply(const PFTransfer *t, const double *src, double *dst);
PETSC_INTERN PetscErrorCode PFTransferDestroy(PFTransfer *t);
