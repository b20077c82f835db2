#pragma once
/* PFPhysics: a parametric PDE on a distributed mesh.
 *
 * It draws random inputs (e.g. log-permeability), solves for the state at
 * high or low fidelity, and evaluates the weak-form residual R(x) of a state
 * x = (all fields) with its vector-Jacobian product J(x)^T v, for a batch.
 *
 * Field layout ("vertex arrays"): every field is a PetscScalar array over the
 * vertices this rank owns, in the rank's owned order; PFPhysicsGetVertexMap
 * gives each owned vertex's natural (file) index.  A state of the batch is
 * nfields such arrays back to back: x[b*nfields*nown + f*nown + i]. */
#include <petscdmplex.h>
#include <physflow/compat.h>
#include <physflow/mesh.h>

typedef struct _p_PFPhysics *PFPhysics;
typedef const char          *PFPhysicsType;
#define PFPHYSICSDARCY "darcy"
#define PFPHYSICSNS    "ns"

typedef enum {
  PF_FIDELITY_HIGH = 0,
  PF_FIDELITY_LOW  = 1
} PFFidelity;
PETSC_EXTERN const char *const PFFidelities[];

PETSC_EXTERN PetscErrorCode PFPhysicsCreate(MPI_Comm comm, PFPhysics *phys);
PETSC_EXTERN PetscErrorCode PFPhysicsSetType(PFPhysics phys, PFPhysicsType type);
PETSC_EXTERN PetscErrorCode PFPhysicsSetFromOptions(PFPhysics phys);
PETSC_EXTERN PetscErrorCode PFPhysicsSetUp(PFPhysics phys);
PETSC_EXTERN PetscErrorCode PFPhysicsView(PFPhysics phys, PetscViewer viewer);
PETSC_EXTERN PetscErrorCode PFPhysicsDestroy(PFPhysics *phys);

PETSC_EXTERN PetscErrorCode PFPhysicsGetMesh(PFPhysics phys, PFMesh *mesh);
PETSC_EXTERN PetscErrorCode PFPhysicsGetFields(PFPhysics phys, PetscInt *nfields, const char *const **names, PetscInt *ninputs);
PETSC_EXTERN PetscErrorCode PFPhysicsGetVertexMap(PFPhysics phys, PetscInt *nown, const PetscInt **natural);
/* Lumped vertex masses (integral of each basis function) at the owned vertices */
PETSC_EXTERN PetscErrorCode PFPhysicsGetVertexMass(PFPhysics phys, const PetscScalar **mass);
/* The domain's measure (the sum of the lumped masses); collective */
PETSC_EXTERN PetscErrorCode PFPhysicsGetDomainMeasure(PFPhysics phys, double *measure);

/* Scalar parameters of a sample beside its fields (e.g. Re of a flow):
 * their number and names, and sample index's values (keyed by (seed,
 * index)); none for most physics */
PETSC_EXTERN PetscErrorCode PFPhysicsGetParams(PFPhysics phys, PetscInt *nparams, const char *const **names);
PETSC_EXTERN PetscErrorCode PFPhysicsParams(PFPhysics phys, uint64_t seed, PetscInt index, double values[]);
/* Draw the inputs of sample `index` (keyed by (seed, index), rank-invariant)
 * into the input fields of x (one state) */
PETSC_EXTERN PetscErrorCode PFPhysicsDrawInputs(PFPhysics phys, uint64_t seed, PetscInt index, PetscScalar *x);
/* Solve for the state fields of x given its input fields */
PETSC_EXTERN PetscErrorCode PFPhysicsSolve(PFPhysics phys, PFFidelity fidelity, uint64_t seed, PetscInt index, PetscScalar *x);
/* Entries of one state's residual on this rank: nown for a residual per
 * vertex (Darcy), or the owned dofs of another space (Navier-Stokes: the
 * Taylor-Hood dofs) */
PETSC_EXTERN PetscErrorCode PFPhysicsGetResidualSize(PFPhysics phys, PetscInt *nres);
/* R = residual of each of B states (B arrays of nres values) */
PETSC_EXTERN PetscErrorCode PFPhysicsResidual(PFPhysics phys, PetscInt B, const PetscScalar *x, PetscScalar *R);
/* gx = J(x)^T v for each of B states, for ALL fields (inputs included) */
PETSC_EXTERN PetscErrorCode PFPhysicsResidualVJP(PFPhysics phys, PetscInt B, const PetscScalar *x, const PetscScalar *v, PetscScalar *gx);
/* y = J_p(x)^{-1} r (or J_p^{-T} r) for each of B states: J_p = dR/d(state
 * fields) at x, a linear solve with the solver's boundary conditions (r and
 * y: B arrays of nown values).  J_p^{-1} R(x) is the state's distance to the
 * solution for its inputs (exact for a PDE linear in the state).  Optional
 * (-constraint_norm error needs it); collective. */
PETSC_EXTERN PetscErrorCode PFPhysicsStateJacobianSolve(PFPhysics phys, PetscInt B, const PetscScalar *x, PetscBool transpose, const PetscScalar *r, PetscScalar *y);
/* PFPhysicsStateJacobianSolve of K right-hand sides at ONE state x (r and
 * y: [K][nown]).  A physics that can (Darcy) sets its solver up once for
 * all K (a direct factorisation, -darcy_adjoint_ options); otherwise K
 * single solves.  Collective. */
PETSC_EXTERN PetscErrorCode PFPhysicsStateJacobianSolveMany(PFPhysics phys, const PetscScalar *x, PetscInt K, PetscBool transpose, const PetscScalar *r, PetscScalar *y);
/* For a physics nonlinear in its state (ns): e = the Newton step of each of
 * B states (x: all fields), over the state fields only [B][(nfields -
 * ninputs) nown]: x - e is Newton's update at the state's inputs, so e is
 * the distance to the solution to first order.  gx (optional, [B][nfields
 * nown]): the gradient of |e|_M^2 = sum_i mass_i |e_i|^2 with respect to
 * the state fields at fixed inputs (the inputs' entries are 0).  scale
 * (optional): the squared size of a typical state per unit area (|e|_M^2 /
 * (scale |domain|) is relative).  B = 0 only returns scale.  Optional
 * (-constraint_norm error of a nonlinear physics); collective. */
PETSC_EXTERN PetscErrorCode PFPhysicsNewtonStep(PFPhysics phys, PetscInt B, const PetscScalar *x, PetscScalar *e, PetscScalar *gx, double *scale);
PETSC_EXTERN PetscErrorCode PFPhysicsHasNewtonStep(PFPhysics phys, PetscBool *has);
/* Mesh-independent size of a residual: ||R||_2 / ||F||_2 (F the forcing) and mean |R_i| */
PETSC_EXTERN PetscErrorCode PFPhysicsResidualNorms(PFPhysics phys, const PetscScalar *R, double *relative, double *meanabs);

/* Physics checks of ONE state x beyond the residual, each a dimensionless
 * number that is ~0 for an exact solution (for Darcy: re-solve consistency,
 * i.e. the relative L2 distance of the state to the solver's answer for the
 * same inputs, the flux leaking through no-flux boundaries and the global
 * conservation error, both relative to the injected flow rate).  At most
 * PF_PHYSICS_MAXCHECKS values; names stay valid while phys lives.  Collective. */
#define PF_PHYSICS_MAXCHECKS 8
PETSC_EXTERN PetscErrorCode PFPhysicsValidate(PFPhysics phys, const PetscScalar *x, PetscInt *n, const char *const **names, double values[]);

/* The outflow through the boundary group `group` (a mesh group name or a
 * Face Sets number) of each of B states: Q[b] = int_group u . n ds with the
 * physics' flux u (Darcy: u = -K grad p, the variationally consistent
 * weak flux, see solvers/darcy/operator.h), and, if grad is not NULL,
 * dQ[b]/dx for all fields (B states).  Optional; collective. */
PETSC_EXTERN PetscErrorCode PFPhysicsBoundaryFlux(PFPhysics phys, const char group[], PetscInt B, const PetscScalar *x, double Q[], PetscScalar *grad);

/* The chain rule through the PDE: for a quantity whose derivative with
 * respect to the (single) state field is gp (an owned vertex array), its
 * derivative with respect to the inputs when the state is the PDE solution
 * for them: gx = -(dR/dx)^T J_p^{-T} P^T gp (all fields written; the input
 * fields hold the result).  P: pure Neumann, the projection onto the
 * zero-mean states the solver returns.  One transposed state-Jacobian
 * solve at the inputs of x; collective. */
PETSC_EXTERN PetscErrorCode PFPhysicsStateAdjoint(PFPhysics phys, const PetscScalar *x, const PetscScalar *gp, PetscScalar *gx);

/* PFPhysicsStateAdjoint of K gradients at one state: gp [K][nown], gx
 * [K][nfields nown].  A physics that can (Darcy) sets its solver up once
 * for all K (a direct factorisation, -darcy_adjoint_ options); otherwise K
 * single solves.  Collective. */
PETSC_EXTERN PetscErrorCode PFPhysicsStateAdjointMany(PFPhysics phys, const PetscScalar *x, PetscInt K, const PetscScalar *gp, PetscScalar *gx);

/* The inputs' prior as a map of m standard normal latent variables
 * (Darcy with the KL field: logK = sum_k sqrt(lambda_k) xi_k phi_k): m
 * (0 if the physics has none), the input fields of x from xi[m] (every
 * rank holds all of xi), and the transpose: gxi[m] = (d inputs / d xi)^T
 * gx (gx: a state gradient, its input fields used; reduced over the
 * physics' comm).  For MAP estimates (infer -infer_type map).  Collective:
 * the first PFPhysicsGetLatentSize sets the map up (Darcy: the KL modes). */
PETSC_EXTERN PetscErrorCode PFPhysicsGetLatentSize(PFPhysics phys, PetscInt *m);
PETSC_EXTERN PetscErrorCode PFPhysicsInputsFromLatent(PFPhysics phys, const double xi[], PetscScalar *x);
PETSC_EXTERN PetscErrorCode PFPhysicsLatentVJP(PFPhysics phys, const PetscScalar *gx, double gxi[]);
/* The latent variables xi[m] whose inputs are nearest to the input fields
 * of x in the mass-weighted L2 norm (the projection onto the prior map's
 * range; PFPhysicsInputsFromLatent of the result is x's inputs when they
 * are in it); on every rank; collective. */
PETSC_EXTERN PetscErrorCode PFPhysicsLatentFromInputs(PFPhysics phys, const PetscScalar *x, double xi[]);

/* Gather an owned vertex array into natural order on rank 0 of the physics' comm */
PETSC_EXTERN PetscErrorCode PFPhysicsGatherNatural(PFPhysics phys, const PetscScalar *own, double *natural);
/* Inverse: take natural-order values (on every rank) to the owned array */
PETSC_EXTERN PetscErrorCode PFPhysicsFromNatural(PFPhysics phys, const double *natural, PetscScalar *own);
