#pragma once
/* PETSc version compatibility.  physflow targets Debian's PETSc 3.18 and
 * newer; 3.19 introduced PETSC_SUCCESS, which the house style uses. */
#include <petscsys.h>

#if PETSC_VERSION_LT(3, 19, 0) && !defined(PETSC_SUCCESS)
  #define PETSC_SUCCESS 0
#endif
