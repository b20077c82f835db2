#pragma once
/* Incompressible Navier-Stokes on a PFMesh (issue 8): Taylor-Hood P2/P1 on
 * triangles (Q2/Q1 on quads) with PetscFE/PetscDS pointwise residuals, the
 * flow past a cylinder in a channel (DFG benchmark, Schafer & Turek 1996):
 *
 *   (u . grad) u - nu lap u + grad p = 0,   div u = 0,
 *   parabolic inflow u = 4 Um y (H - y) / H^2 (Um = 1.5 U_mean) on "inlet",
 *   no slip on "walls" and "obstacle", do-nothing (nu du/dn - p n = 0) on
 *   "outlet";  Re = U_mean D / nu.
 *
 * Steady states by Newton (SNES, line search) with continuation in Re when
 * a direct solve fails; linear solves by MUMPS LU by default, or any
 * -ns_ksp/-ns_pc options (with -ns_schur_mass the preconditioning matrix
 * holds the velocity block and the pressure mass matrix / nu, for
 * fieldsplit Schur with -ns_pc_fieldsplit_schur_precondition a11).
 *
 * Forces on the obstacle come from the residual (the "volume" or reaction
 * form): with R the Galerkin momentum residual of the discrete solution on
 * a discretisation without the obstacle's no-slip condition, the force in
 * direction e is F_e = -R(phi_e), phi_e = e at the obstacle's velocity dofs
 * and 0 elsewhere; it converges at twice the rate of the boundary integral
 * of the stress. */
#include <physflow/mesh.h>
#include <petscsnes.h>

typedef struct _PFNSResidual *PFNSResidualRef;
typedef struct {
  double U_mean, D, H, nu; /* nu = U_mean D / Re */
  double Re;               /* of the current solution */
  char   inlet[64], outlet[64], walls[64], obstacle[64];
  PetscInt order;          /* velocity degree (2: Taylor-Hood), pressure order - 1 */
  PetscBool schur_mass;    /* a preconditioning matrix for fieldsplit Schur */
  PetscBool unsteady;      /* the equations hold u_t (PFNSSetUnsteady) */
  PetscInt tag_in, tag_out, tag_wall, tag_obs;
  PFMesh   mesh;           /* not owned */
  DM       dm;             /* the discretisation with all boundary conditions */
  DM       dmf;            /* the same without the obstacle's: reaction forces */
  SNES     snes;
  Vec      u;              /* global solution on dm */
  Vec      ex, ey;         /* global on dmf: unit x / y velocity on the obstacle */
  PetscInt newton_its, continuation_steps;
  PFNSResidualRef res;     /* the residual of vertex states (nsresidual.c), made on first use */
  /* snapshots of unsteady solves (PFNSSetSnapshots) */
  PetscInt        nsnap, snapnown;
  const PetscInt *snapstep;
  PetscScalar    *snapuvp;
} PFNS;

/* Reads -ns_* options (names of the boundary groups: -ns_inlet etc.,
 * -ns_U_mean, -ns_D, -ns_H, -ns_order); mesh must stay alive */
PETSC_EXTERN PetscErrorCode PFNSCreate(PFMesh mesh, PFNS **ns);
/* The steady state at Reynolds number Re (from the current solution:
 * continuation in Re when Newton from it fails) */
PETSC_EXTERN PetscErrorCode PFNSSolveSteady(PFNS *ns, double Re);
/* Drag and lift coefficients c = 2 F / (U_mean^2 D) (rho = 1) of the
 * steady solution, or of a state u with time derivative ut (global vectors
 * of ns->dm; ut NULL: steady) */
PETSC_EXTERN PetscErrorCode PFNSForces(PFNS *ns, double *cd, double *cl);
PETSC_EXTERN PetscErrorCode PFNSForcesOf(PFNS *ns, Vec u, Vec ut, double *cd, double *cl);
PETSC_EXTERN PetscErrorCode PFNSSetViscosity(PFNS *ns, double Re);
/* Time-dependent flows: u_t joins the momentum equation (both
 * discretisations); steady solves are then no longer available */
PETSC_EXTERN PetscErrorCode PFNSSetUnsteady(PFNS *ns);
/* Unsteady flow at Re from rest (solvers/navierstokes/nsunsteady.c): BDF2
 * with fixed dt (-ns_ts_* options) to tfinal; the drag and lift of every
 * step (allocated arrays of *nsteps + 1 entries, t[0] = 0) */
PETSC_EXTERN PetscErrorCode PFNSSolveUnsteady(PFNS *ns, double Re, double dt, double tfinal, PetscInt *nsteps, double **t, double **cd, double **cl);
/* Snapshots of the next PFNSSolveUnsteady: the vertex values (as
 * PFNSVertexValues, 3 nown each) after steps step[k], k < n, into
 * uvp[k * 3 nown].  The arrays are the caller's; n = 0 turns it off. */
PETSC_EXTERN PetscErrorCode PFNSSetSnapshots(PFNS *ns, PetscInt n, const PetscInt step[], PetscInt nown, PetscScalar *uvp);
/* Strouhal number D / (U_mean T) of a lift signal: T the mean spacing of
 * its upward mean crossings over the last `periods` periods; also the max
 * of cd and cl over them (-1 if fewer crossings) */
PETSC_EXTERN PetscErrorCode PFNSStrouhal(PFNS *ns, PetscInt n, const double t[], const double cd[], const double cl[], PetscInt periods, double *St, double *cdmax, double *clmax);
/* Vertex values of u, v, p on this rank's owned vertices (PFMesh natural
 * numbering: ownnat), nown of each: uvp[f * nown + i] */
PETSC_EXTERN PetscErrorCode PFNSGetOwnedVertices(PFNS *ns, PetscInt *nown, PetscInt **ownnat);
PETSC_EXTERN PetscErrorCode PFNSVertexValues(PFNS *ns, PetscInt nown, PetscScalar *uvp);
PETSC_EXTERN PetscErrorCode PFNSDestroy(PFNS **ns);
/* Lumped P1 vertex masses (area / vertices per cell, summed) of the owned
 * vertices, in PFNSGetOwnedVertices' order */
PETSC_EXTERN PetscErrorCode PFNSVertexMass(PFNS *ns, PetscInt nown, PetscScalar *mass);
/* Back to rest (zero velocity, Re 0): the next solve does not depend on
 * the previous one */
PETSC_EXTERN PetscErrorCode PFNSReset(PFNS *ns);
PETSC_EXTERN PetscErrorCode PFNSCreateDiscretisation(PFNS *ns, PetscInt bcs, DM *dm);

/* The residual of a state given by its vertex values (nsresidual.c):
 * x = (u, v, p) on the owned vertices [3 nown]; R [nres] over the dofs of
 * the Taylor-Hood space this rank owns (PFNSResidualGetSize), at the
 * viscosity nu; its VJP gx [3 nown] = J(x)^T v, and the derivative of
 * v . R with respect to nu (R is affine in nu).  Collective. */
PETSC_EXTERN PetscErrorCode PFNSResidualGetSize(PFNS *ns, PetscInt *nres);
PETSC_EXTERN PetscErrorCode PFNSResidualSetViscosity(PFNS *ns, double nu);
PETSC_EXTERN PetscErrorCode PFNSResidualVertex(PFNS *ns, const PetscScalar *x, PetscScalar *R);
PETSC_EXTERN PetscErrorCode PFNSResidualVertexVJP(PFNS *ns, const PetscScalar *x, const PetscScalar *v, PetscScalar *gx, double *dnu);
PETSC_EXTERN PetscErrorCode PFNSResidualDestroy(PFNS *ns);
/* The Newton step of a vertex state, e [3 nown] = the vertex values of
 * J^{-1} R(x) (J: the residual's Jacobian, identity on the Dirichlet rows):
 * x - e is Newton's update, e the state's distance to the solution to first
 * order.  gx (optional) [3 nown]: the exact gradient of sum_i mass_i |e_i|^2
 * (u, v, p) with respect to x, at fixed nu.  One LU factorisation per call
 * (-ns_newton_ksp_*, -ns_newton_pc_*); collective. */
PETSC_EXTERN PetscErrorCode PFNSResidualNewtonStep(PFNS *ns, const PetscScalar *x, const PetscScalar *mass, PetscScalar *e, PetscScalar *gx);
/* Parts of a residual R: the 2-norms of the momentum and continuity rows
 * and the largest boundary-row entry (global) */
PETSC_EXTERN PetscErrorCode PFNSResidualParts(PFNS *ns, const PetscScalar *R, double *momentum, double *continuity, double *bc);
/* Scale the momentum, continuity and boundary rows of a residual (or of a
 * cotangent before the VJP) by wmom, wcont, wbc */
PETSC_EXTERN PetscErrorCode PFNSResidualScaleRows(PFNS *ns, double wmom, double wcont, double wbc, PetscScalar *R);
/* Drag and lift of a vertex state (lifted as for the residual; the
 * solver's boundary values on the constrained dofs) */
PETSC_EXTERN PetscErrorCode PFNSForcesOfVertex(PFNS *ns, const PetscScalar *x, double *cd, double *cl);
