#include <physflow/nn.h>

/* Pre-norm residual block (He et al. 2016, "identity mappings"):
 *   Y = X + act(Norm(X)) W + b
 * The skip path keeps the gradient of deep stacks well conditioned. */

PetscInt PFResBlockNumParams(PetscInt C) { return 2 * C + C * C + C; }

void PFResBlockBindParams(PFResBlock *blk, pfreal *params, pfreal *grads)
{
  const PetscInt C = blk->C;
  blk->gamma  = params;
  blk->beta   = params + C;
  blk->W      = params + 2 * C;
  blk->b      = params + 2 * C + C * C;
  blk->dgamma = grads;
  blk->dbeta  = grads + C;
  blk->dW     = grads + 2 * C;
  blk->db     = grads + 2 * C + C * C;
}

PetscInt PFResBlockWorkspaceSize(const PFResBlock *blk, PetscInt B) { return 2 * B * blk->S * blk->C + 2 * B * blk->G; }

void PFResBlockBindWorkspace(PFResBlock *blk, PetscInt B, pfreal *work)
{
  const PetscInt n = B * blk->S * blk->C;
  blk->normed      = work;
  blk->acted       = work + n;
  blk->mean        = work + 2 * n;
  blk->rstd        = work + 2 * n + B * blk->G;
}

void PFResBlockForward(PFResBlock *blk, PetscInt B, const pfreal *X, pfreal *Y)
{
  const PetscInt R = B * blk->S, C = blk->C;
  PFGroupNormForward(B, blk->S, C, blk->G, X, blk->gamma, blk->beta, blk->normed, blk->mean, blk->rstd);
  PFActivationForward(blk->act, R * C, blk->normed, blk->acted);
  PFDenseForward(R, C, C, blk->acted, blk->W, blk->b, Y);
  for (PetscInt i = 0; i < R * C; i++) Y[i] += X[i];
}

/* tmp must hold B*S*C values.  dX (distinct from dY) is overwritten. */
void PFResBlockBackward(PFResBlock *blk, PetscInt B, const pfreal *X, const pfreal *dY, pfreal *tmp, pfreal *dX)
{
  const PetscInt R = B * blk->S, C = blk->C;
  /* branch: dacted = dY W^T (into tmp), then through act in place, then norm */
  PFDenseBackward(R, C, C, blk->acted, blk->W, dY, 0, tmp, blk->dW, blk->db);
  PFActivationBackward(blk->act, R * C, blk->normed, tmp, 0, tmp);
  /* skip path first, then the norm backward accumulates into it */
  for (PetscInt i = 0; i < R * C; i++) dX[i] = dY[i];
  PFGroupNormBackward(B, blk->S, C, blk->G, X, blk->gamma, blk->mean, blk->rstd, tmp, 1, dX, blk->dgamma, blk->dbeta);
}
