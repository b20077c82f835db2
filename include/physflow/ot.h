#pragma once
#include <physflow/compat.h>

/* Exact minimum-cost assignment of n rows to n columns (the discrete optimal
 * transport between two equal-size uniform point sets).  cost is n x n,
 * row-major; on return assign[i] is the column matched to row i.  Used by the
 * OT-CFM minibatch coupling (Tong et al. 2023). */
PETSC_EXTERN PetscErrorCode PFOTAssign(PetscInt n, const double *cost, PetscInt *assign);
