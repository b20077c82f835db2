#include <physflow/meshconv.h>

PetscInt PFMeshConvNumParams(const PFMeshConv *c) { return (1 + c->ng) * c->Cin * c->Cout + c->Cout; }

void PFMeshConvBindParams(PFMeshConv *c, pfreal *params, pfreal *grads)
{
  const PetscInt nW = (1 + c->ng) * c->Cin * c->Cout;
  c->W              = params;
  c->b              = params + nW;
  c->dW             = grads;
  c->db             = grads + nW;
}

size_t PFMeshConvWorkspaceSize(const PFMeshConv *c, PetscInt B)
{
  const size_t nb = (size_t)c->g->nown * (size_t)B;
  return nb * (size_t)(1 + c->ng) * (size_t)c->Cin + nb * (size_t)c->ng * (size_t)c->Cin;
}

void PFMeshConvBindWorkspace(PFMeshConv *c, PetscInt B, pfreal *work)
{
  const size_t nb = (size_t)c->g->nown * (size_t)B;
  c->Z            = work;
  c->tmp          = work + nb * (size_t)(1 + c->ng) * (size_t)c->Cin;
}

PetscErrorCode PFMeshConvForward(PFMeshConv *c, PetscInt B, const pfreal *X, pfreal *Y)
{
  const PetscInt nown = c->g->nown, Cin = c->Cin, K = (1 + c->ng) * Cin, F = B * Cin;

  PetscFunctionBegin;
  if (c->ng) PetscCall(PFMeshGraphApply(c->g, c->ng, c->kinds, F, X, c->tmp));
  /* Z[(v,b)] = [X[v][b], (A_1 X)[v][b], ...] */
  for (PetscInt v = 0; v < nown; v++)
    for (PetscInt b = 0; b < B; b++) {
      pfreal *z = c->Z + ((size_t)v * B + b) * K;
      PetscCall(PetscArraycpy(z, X + ((size_t)v * B + b) * Cin, Cin));
      for (PetscInt k = 0; k < c->ng; k++) PetscCall(PetscArraycpy(z + (1 + k) * Cin, c->tmp + ((size_t)v * c->ng + k) * F + (size_t)b * Cin, Cin));
    }
  PFDenseForward(nown * B, K, c->Cout, c->Z, c->W, c->b, Y);
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFMeshConvBackward(PFMeshConv *c, PetscInt B, const pfreal *dY, pfreal *dX)
{
  const PetscInt nown = c->g->nown, Cin = c->Cin, K = (1 + c->ng) * Cin, F = B * Cin;
  pfreal        *dZ = c->Z; /* Z is no longer needed once dW is formed: reuse it */

  PetscFunctionBegin;
  /* dW += Z^T dY and db first (they read Z), then dZ = dY W^T into Z */
  PFDenseBackward(nown * B, K, c->Cout, c->Z, c->W, dY, 0, NULL, c->dW, c->db);
  if (!dX) PetscFunctionReturn(PETSC_SUCCESS);
  pf_gemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)(nown * B), (int)K, (int)c->Cout, 1, dY, (int)c->Cout, c->W, (int)c->Cout, 0, dZ, (int)K);
  /* identity part straight into dX, graph parts gathered for the transpose */
  for (PetscInt v = 0; v < nown; v++)
    for (PetscInt b = 0; b < B; b++) {
      const pfreal *z = dZ + ((size_t)v * B + b) * K;
      PetscCall(PetscArraycpy(dX + ((size_t)v * B + b) * Cin, z, Cin));
      for (PetscInt k = 0; k < c->ng; k++) PetscCall(PetscArraycpy(c->tmp + ((size_t)v * c->ng + k) * F + (size_t)b * Cin, z + (1 + k) * Cin, Cin));
    }
  if (c->ng) PetscCall(PFMeshGraphApplyTranspose(c->g, c->ng, c->kinds, F, c->tmp, 1, dX));
  PetscFunctionReturn(PETSC_SUCCESS);
}
