#include <physflow/nn.h>

/* A dense layer is one GEMM; the bias is broadcast first and the GEMM adds
 * into it (beta = 1), so no extra pass over Y is needed. */
void PFDenseForward(PetscInt R, PetscInt in, PetscInt out, const pfreal *X, const pfreal *W, const pfreal *b, pfreal *Y)
{
  for (PetscInt r = 0; r < R; r++) {
    pfreal *y = Y + r * out;
    for (PetscInt j = 0; j < out; j++) y[j] = b[j];
  }
  pf_gemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)R, (int)out, (int)in, 1, X, (int)in, W, (int)out, 1, Y, (int)out);
}

void PFDenseBackward(PetscInt R, PetscInt in, PetscInt out, const pfreal *X, const pfreal *W, const pfreal *dY, pfreal beta, pfreal *dX, pfreal *dW, pfreal *db)
{
  /* dW[in,out] += X^T dY ; db += column sums of dY ; dX = beta dX + dY W^T */
  pf_gemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)in, (int)out, (int)R, 1, X, (int)in, dY, (int)out, 1, dW, (int)out);
  for (PetscInt r = 0; r < R; r++) {
    const pfreal *dy = dY + r * out;
    for (PetscInt j = 0; j < out; j++) db[j] += dy[j];
  }
  if (dX) pf_gemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)R, (int)in, (int)out, 1, dY, (int)out, W, (int)out, beta, dX, (int)in);
}
