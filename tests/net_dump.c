/* net_dump MODEL IN OUT: evaluates a model file's network on the inputs of IN
 * (/x [B,n], /t [B], /dv [B,n]) and writes OUT with /v = v(x,t), /grad_params
 * = d(sum v*dv)/dtheta (flat buffer order) and /grad_x.  The same quantities
 * from bench/torch_mlp.py reference check the C network against PyTorch. */
#include <physflow.h>

int main(int argc, char **argv)
{
  PFNet    net;
  hid_t    fid;
  hsize_t  dims[2];
  PetscInt B, n;
  size_t   np;
  pfreal  *params, *grads, *x, *t, *dv, *v, *dx;
  double  *buf;

  PetscCall(PetscInitialize(&argc, &argv, NULL, NULL));
  PetscCheck(argc == 4, PETSC_COMM_WORLD, PETSC_ERR_ARG_WRONG, "usage: net_dump MODEL IN OUT");
  PetscCall(PFInitializePackage());
  PetscCall(PFH5OpenRead(argv[1], &fid));
  PetscCall(PFNetCreateFromH5(PETSC_COMM_SELF, fid, argv[1], "params", &net));
  PetscCall(PFH5Close(&fid));
  PetscCall(PFH5OpenRead(argv[2], &fid));
  PetscCall(PFH5GetDims(fid, argv[2], "x", 2, dims));
  B = (PetscInt)dims[0];
  n = (PetscInt)dims[1];
  PetscCall(PetscMalloc6(B * n, &x, B, &t, B * n, &dv, B * n, &v, B * n, &dx, B * n, &buf));
  PetscCall(PFH5ReadArray(fid, argv[2], "x", H5T_NATIVE_PFREAL, B * n, x));
  PetscCall(PFH5ReadArray(fid, argv[2], "t", H5T_NATIVE_PFREAL, B, t));
  PetscCall(PFH5ReadArray(fid, argv[2], "dv", H5T_NATIVE_PFREAL, B * n, dv));
  PetscCall(PFH5Close(&fid));
  PetscCall(PFNetPlan(net, B));
  PetscCall(PFNetZeroGradient(net));
  PetscCall(PFNetForward(net, B, x, t, v));
  PetscCall(PFNetBackward(net, B, dv, dx));
  PetscCall(PFNetGetParameters(net, &np, &params, &grads));
  {
    PFH5Temp tmp;
    hsize_t  d2[2] = {(hsize_t)B, (hsize_t)n}, d1[1] = {np};
    PetscCall(PFH5CreateTemp(argv[3], &tmp));
    PetscCall(PFH5WriteArray(tmp.fid, "v", H5T_NATIVE_PFREAL, H5T_IEEE_F64LE, 2, d2, v));
    PetscCall(PFH5WriteArray(tmp.fid, "grad_x", H5T_NATIVE_PFREAL, H5T_IEEE_F64LE, 2, d2, dx));
    PetscCall(PFH5WriteArray(tmp.fid, "grad_params", H5T_NATIVE_PFREAL, H5T_IEEE_F64LE, 1, d1, grads));
    PetscCall(PFH5CommitTemp(&tmp));
  }
  PetscCall(PetscFree6(x, t, dv, v, dx, buf));
  PetscCall(PFNetDestroy(&net));
  PetscCall(PetscFinalize());
  return 0;
}
