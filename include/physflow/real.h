#pragma once
/* The arithmetic type of the networks.
 *
 * Networks compute in float32 (cblas_sgemm); the PDE side computes in
 * PetscScalar (double).  Building with PF_NET_DOUBLE switches every network
 * buffer, layer and GEMM to double so that finite-difference gradient checks
 * can reach tight tolerances.  Nothing outside the network, flow and trainer
 * code should depend on which one is active. */
#include <cblas.h>
#include <mpi.h>

#if defined(PF_NET_DOUBLE)
typedef double pfreal;
  #define MPIU_PFREAL  MPI_DOUBLE
  #define pf_gemm      cblas_dgemm
  #define pf_axpy      cblas_daxpy
  #define pf_dot       cblas_ddot
  #define pf_nrm2      cblas_dnrm2
  #define PF_REAL_NAME "float64"
  #define PF_REAL_EPS  2.220446049250313e-16
#else
typedef float pfreal;
  #define MPIU_PFREAL  MPI_FLOAT
  #define pf_gemm      cblas_sgemm
  #define pf_axpy      cblas_saxpy
  #define pf_dot       cblas_sdot
  #define pf_nrm2      cblas_snrm2
  #define PF_REAL_NAME "float32"
  #define PF_REAL_EPS  1.1920929e-07
#endif

#if defined(PF_NET_DOUBLE)
  #define H5T_NATIVE_PFREAL H5T_NATIVE_DOUBLE
#else
  #define H5T_NATIVE_PFREAL H5T_NATIVE_FLOAT
#endif
