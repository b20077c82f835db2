/* Cost of the Darcy residual + VJP for a batch of states, against a network
 * forward + backward for the same batch (issue 4: the physics must cost well
 * under the network in every training step): the mesh network that trains
 * on these fields (-mesh_width 32 -mesh_depth 4 by default) and, for scale,
 * an MLP over whole fields.
 * Usage: bench_residual [-mesh_faces 63] [-batch 64] [-reps 10]
 *                       [-mlp_width 256] [-mlp_depth 4]                       */
#include <physflow.h>
#include <physflow/meshgraph.h>
#include <physflow/physics.h>

int main(int argc, char **argv)
{
  PFPhysics      ph;
  PFNet          net;
  PetscInt       n, B = 64, reps = 10, nin;
  PetscScalar   *x, *R, *v, *gx;
  pfreal        *xn, *tn, *vn;
  PetscLogDouble t0, t1, t2;

  PetscCall(PetscInitialize(&argc, &argv, NULL, NULL));
  PetscCall(PetscOptionsGetInt(NULL, NULL, "-batch", &B, NULL));
  PetscCall(PetscOptionsGetInt(NULL, NULL, "-reps", &reps, NULL));
  PetscCall(PFPhysicsCreate(PETSC_COMM_WORLD, &ph));
  PetscCall(PFPhysicsSetFromOptions(ph));
  PetscCall(PFPhysicsSetUp(ph));
  PetscCall(PFPhysicsGetVertexMap(ph, &n, NULL));
  PetscCall(PetscMalloc4(2 * n * B, &x, n * B, &R, n * B, &v, 2 * n * B, &gx));
  for (PetscInt b = 0; b < B; b++) {
    PetscCall(PFPhysicsDrawInputs(ph, 1, b, x + 2 * n * b));
    PetscCall(PFPhysicsSolve(ph, PF_FIDELITY_HIGH, 1, b, x + 2 * n * b));
  }
  for (PetscInt i = 0; i < n * B; i++) v[i] = 1e-3 * (double)(i % 17);
  PetscCall(PetscTime(&t0));
  for (PetscInt r = 0; r < reps; r++) PetscCall(PFPhysicsResidual(ph, B, x, R));
  PetscCall(PetscTime(&t1));
  for (PetscInt r = 0; r < reps; r++) PetscCall(PFPhysicsResidualVJP(ph, B, x, v, gx));
  PetscCall(PetscTime(&t2));
  double res_ms = (t1 - t0) / reps / B * 1e3, vjp_ms = (t2 - t1) / reps / B * 1e3;

  /* a network on the same states: the MLP over whole fields (2 x vertices) */
  nin = 2 * n;
  PetscCall(PFNetCreate(PETSC_COMM_WORLD, &net));
  PetscCall(PFNetSetType(net, "mlp"));
  PetscCall(PFNetSetFromOptions(net));
  PetscCall(PFNetSetInputSize(net, nin));
  PetscCall(PFNetSetUp(net));
  PetscCall(PFNetInitializeWeights(net, 1));
  PetscCall(PFNetPlan(net, B));
  PetscCall(PetscMalloc3(nin * B, &xn, B, &tn, nin * B, &vn));
  for (PetscInt i = 0; i < nin * B; i++) xn[i] = (pfreal)x[i];
  for (PetscInt b = 0; b < B; b++) tn[b] = (pfreal)0.5;
  PetscCall(PetscTime(&t0));
  for (PetscInt r = 0; r < reps; r++) {
    PetscCall(PFNetForward(net, B, xn, tn, vn));
    PetscCall(PFNetBackward(net, B, vn, NULL));
  }
  PetscCall(PetscTime(&t1));
  double net_ms = (t1 - t0) / reps / B * 1e3;
  double mesh_ms;
  {
    /* the mesh network on the physics' own mesh, batch B */
    PFMesh      mesh;
    PFMeshGraph g;
    PFNet       mnet;
    pfreal     *xm, *vm, *tm;
    PetscInt    bm = PetscMin(B, 16); /* its activations are large: time a smaller batch */
    PetscCall(PFPhysicsGetMesh(ph, &mesh));
    PetscCall(PFMeshGraphCreate(mesh, &g));
    PetscCall(PFNetCreate(PETSC_COMM_WORLD, &mnet));
    PetscCall(PFNetSetType(mnet, PFNETMESH));
    PetscCall(PFNetSetFromOptions(mnet));
    PetscCall(PFNetMeshSetGraph(mnet, g, 2));
    PetscCall(PFNetSetUp(mnet));
    PetscCall(PFNetInitializeWeights(mnet, 1));
    PetscCall(PFNetPlan(mnet, bm));
    PetscCall(PetscMalloc3(2 * n * bm, &xm, 2 * n * bm, &vm, bm, &tm));
    for (PetscInt i = 0; i < 2 * n * bm; i++) xm[i] = (pfreal)x[i];
    for (PetscInt b = 0; b < bm; b++) tm[b] = (pfreal)0.5;
    PetscCall(PFNetForward(mnet, bm, xm, tm, vm)); /* warm-up */
    PetscCall(PetscTime(&t0));
    for (PetscInt r = 0; r < reps; r++) {
      PetscCall(PFNetForward(mnet, bm, xm, tm, vm));
      PetscCall(PFNetBackward(mnet, bm, vm, NULL));
    }
    PetscCall(PetscTime(&t1));
    mesh_ms = (t1 - t0) / reps / bm * 1e3;
    PetscCall(PetscFree3(xm, vm, tm));
    PetscCall(PFNetDestroy(&mnet));
    PetscCall(PFMeshGraphDestroy(&g));
  }
  PetscCall(PetscPrintf(PETSC_COMM_WORLD, "{\"vertices\": %" PetscInt_FMT ", \"batch\": %" PetscInt_FMT ", \"residual_ms_per_sample\": %.4f, \"vjp_ms_per_sample\": %.4f, \"meshnet_fwd_bwd_ms_per_sample\": %.4f, \"physics_over_meshnet\": %.4f, \"mlp_fwd_bwd_ms_per_sample\": %.4f, \"physics_over_mlp\": %.3f}\n", (PetscInt)0 + n, B, res_ms, vjp_ms, mesh_ms, (res_ms + vjp_ms) / mesh_ms, net_ms, (res_ms + vjp_ms) / net_ms));
  PetscCall(PetscFree3(xn, tn, vn));
  PetscCall(PFNetDestroy(&net));
  PetscCall(PetscFree4(x, R, v, gx));
  PetscCall(PFPhysicsDestroy(&ph));
  PetscCall(PetscFinalize());
  return 0;
}
