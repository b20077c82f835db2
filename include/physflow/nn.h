#pragma once
/* Network layers: forward/backward pairs written side by side (llm.c style).
 *
 * Shapes are in the argument names: B samples (rows), S positions per sample
 * (mesh vertices; 1 for plain vectors), C channels.  Activations are row-major
 * [B*S, C].  Parameters and their gradients are pointers into the network's
 * single flat buffers; backward functions ACCUMULATE parameter gradients
 * (+=) so that a step can sum over micro-batches, and write input gradients
 * as dX = beta*dX + (contribution) so residual branches can add in place. */
#include <physflow/compat.h>
#include <physflow/real.h>

/* ---- dense: Y[R,out] = X[R,in] W[in,out] + b[out] -------------------------- */
PETSC_EXTERN void PFDenseForward(PetscInt R, PetscInt in, PetscInt out, const pfreal *X, const pfreal *W, const pfreal *b, pfreal *Y);
PETSC_EXTERN void PFDenseBackward(PetscInt R, PetscInt in, PetscInt out, const pfreal *X, const pfreal *W, const pfreal *dY, pfreal beta, pfreal *dX, pfreal *dW, pfreal *db);

/* ---- pointwise activations ------------------------------------------------- */
typedef enum {
  PF_ACT_SILU = 0,
  PF_ACT_GELU = 1
} PFActivation;
PETSC_EXTERN const char *const PFActivations[];
PETSC_EXTERN void PFActivationForward(PFActivation act, PetscInt n, const pfreal *X, pfreal *Y);
PETSC_EXTERN void PFActivationBackward(PFActivation act, PetscInt n, const pfreal *X, const pfreal *dY, pfreal beta, pfreal *dX);

/* ---- group normalisation over [B, S, C] with G groups of C/G channels ------
 * Statistics per (sample, group) over the S*(C/G) values; affine per channel.
 * LayerNorm of [B, C] is the case S = 1, G = 1.  mean/rstd [B*G] are saved by
 * the forward for the backward. */
#define PF_NORM_EPS 1e-5
PETSC_EXTERN void PFGroupNormForward(PetscInt B, PetscInt S, PetscInt C, PetscInt G, const pfreal *X, const pfreal *gamma, const pfreal *beta, pfreal *Y, pfreal *mean, pfreal *rstd);
PETSC_EXTERN void PFGroupNormBackward(PetscInt B, PetscInt S, PetscInt C, PetscInt G, const pfreal *X, const pfreal *gamma, const pfreal *mean, const pfreal *rstd, const pfreal *dY, pfreal beta, pfreal *dX, pfreal *dgamma, pfreal *dbeta);
PETSC_EXTERN void PFLayerNormForward(PetscInt R, PetscInt C, const pfreal *X, const pfreal *gamma, const pfreal *beta, pfreal *Y, pfreal *mean, pfreal *rstd);
PETSC_EXTERN void PFLayerNormBackward(PetscInt R, PetscInt C, const pfreal *X, const pfreal *gamma, const pfreal *mean, const pfreal *rstd, const pfreal *dY, pfreal beta, pfreal *dX, pfreal *dgamma, pfreal *dbeta);

/* ---- sinusoidal time embedding: E = 2*half features of t ------------------
 * emb[k] = sin(PF_TEMB_SCALE t f_k), emb[half+k] = cos(PF_TEMB_SCALE t f_k),
 * f_k = exp(-ln(10000) k / half) (Vaswani et al. 2017; Ho et al. 2020).
 * The backward gives d(loss)/dt, needed when t itself is differentiated. */
#define PF_TEMB_SCALE 1000.0
PETSC_EXTERN void PFTimeEmbedForward(PetscInt B, PetscInt E, const pfreal *t, PetscInt ldo, pfreal *out);
PETSC_EXTERN void PFTimeEmbedBackward(PetscInt B, PetscInt E, const pfreal *t, PetscInt ldo, const pfreal *dout, pfreal *dt);

/* ---- pre-norm residual block: Y = X + act(Norm(X)) W + b ------------------
 * Params (in this order in the flat buffer): gamma[C], beta[C], W[C,C], b[C]. */
typedef struct {
  PetscInt     S, C, G; /* positions per sample, channels, norm groups */
  PFActivation act;
  pfreal      *gamma, *beta, *W, *b;     /* views into the parameter buffer */
  pfreal      *dgamma, *dbeta, *dW, *db; /* views into the gradient buffer */
  /* forward activations saved for the backward (views into the workspace) */
  pfreal *normed, *acted, *mean, *rstd;
} PFResBlock;
PETSC_EXTERN PetscInt PFResBlockNumParams(PetscInt C);
PETSC_EXTERN void     PFResBlockBindParams(PFResBlock *blk, pfreal *params, pfreal *grads);
PETSC_EXTERN PetscInt PFResBlockWorkspaceSize(const PFResBlock *blk, PetscInt B);
PETSC_EXTERN void     PFResBlockBindWorkspace(PFResBlock *blk, PetscInt B, pfreal *work);
PETSC_EXTERN void     PFResBlockForward(PFResBlock *blk, PetscInt B, const pfreal *X, pfreal *Y);
/* dX = dY + (d branch/dX)^T dY, overwritten; tmp holds B*S*C values; dX != dY */
PETSC_EXTERN void PFResBlockBackward(PFResBlock *blk, PetscInt B, const pfreal *X, const pfreal *dY, pfreal *tmp, pfreal *dX);
