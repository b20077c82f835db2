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
  return 2 * nb * (size_t)c->ng * (size_t)c->Cin;
}

void PFMeshConvBindWorkspace(PFMeshConv *c, PetscInt B, pfreal *work)
{
  const size_t nb = (size_t)c->g->nown * (size_t)B;
  c->T            = work;
  c->tmp          = work + nb * (size_t)c->ng * (size_t)c->Cin;
}

/* Y = X W_0 + b + T W_1.., T = [A_1 X, A_2 X, ...] per (vertex, sample): two
 * GEMMs over the same rows, reading X and T where they are (no copy into a
 * concatenated [X, T] matrix) */
PetscErrorCode PFMeshConvForward(PFMeshConv *c, PetscInt B, const pfreal *X, pfreal *Y)
{
  const PetscInt M = c->g->nown * B, Cin = c->Cin, Cout = c->Cout, KT = c->ng * Cin;

  PetscFunctionBegin;
  PFDenseForward(M, Cin, Cout, X, c->W, c->b, Y);
  if (!c->ng) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCall(PFMeshGraphApplyBlocked(c->g, c->ng, c->kinds, B * Cin, Cin, X, c->T));
  pf_gemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)M, (int)Cout, (int)KT, 1, c->T, (int)KT, c->W + (size_t)Cin * Cout, (int)Cout, 1, Y, (int)Cout);
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFMeshConvBackward(PFMeshConv *c, PetscInt B, const pfreal *X, const pfreal *dY, pfreal *dX)
{
  const PetscInt M = c->g->nown * B, Cin = c->Cin, Cout = c->Cout, KT = c->ng * Cin;
  const pfreal  *WT = c->W + (size_t)Cin * Cout;

  PetscFunctionBegin;
  /* the weight gradients first: X may share its storage with dX */
  PFDenseBackward(M, Cin, Cout, X, c->W, dY, 0, NULL, c->dW, c->db);
  if (c->ng) pf_gemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)KT, (int)Cout, (int)M, 1, c->T, (int)KT, dY, (int)Cout, 1, c->dW + (size_t)Cin * Cout, (int)Cout);
  if (!dX) PetscFunctionReturn(PETSC_SUCCESS);
  /* dX = dY W_0^T + sum_k A_k^T (dY W_k^T) */
  pf_gemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)M, (int)Cin, (int)Cout, 1, dY, (int)Cout, c->W, (int)Cout, 0, dX, (int)Cin);
  if (!c->ng) PetscFunctionReturn(PETSC_SUCCESS);
  pf_gemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)M, (int)KT, (int)Cout, 1, dY, (int)Cout, WT, (int)Cout, 0, c->tmp, (int)KT);
  PetscCall(PFMeshGraphApplyTransposeBlocked(c->g, c->ng, c->kinds, B * Cin, Cin, c->tmp, 1, dX));
  PetscFunctionReturn(PETSC_SUCCESS);
}
