#include <physflow/physics.h>
#include "cli.h"

/* physflow datagen -toy moons -n N -seed S -o ref.h5
 * Sample i is keyed by (seed, i), so any number of ranks writes the same file. */
PetscErrorCode PFCommandDatagen(MPI_Comm comm)
{
  PetscInt    n = 10000, toy = PF_TOY_MOONS;
  PetscInt   seed = 0;
  char        out[PETSC_MAX_PATH_LEN] = "data.h5", physics[32] = "";
  PetscBool   help, has_toy, has_physics, resume = PETSC_FALSE;
  PetscInt    group_size = 1, fidelity = PF_FIDELITY_HIGH, write_every = 16;
  PetscMPIInt rank, size;
  double     *mine, *all = NULL;

  PetscFunctionBegin;
  PetscOptionsBegin(comm, NULL, "physflow datagen: dataset generation", "datagen");
  PetscCall(PetscOptionsEnum("-toy", "Toy 2-D distribution", "datagen", PFToyTypes, (PetscEnum)toy, (PetscEnum *)&toy, &has_toy));
  PetscCall(PetscOptionsString("-physics", "PDE problem to solve in situ (darcy, ns)", "datagen", physics, physics, sizeof(physics), &has_physics));
  PetscCall(PetscOptionsInt("-n", "Number of samples", "datagen", n, &n, NULL));
  PetscCall(PetscOptionsInt("-seed", "Random seed", "datagen", seed, &seed, NULL));
  PetscCall(PetscOptionsString("-o", "Output HDF5 file", "datagen", out, out, sizeof(out), NULL));
  PetscCall(PetscOptionsBool("-resume", "Continue an interrupted generation (out.partial)", "datagen", resume, &resume, NULL));
  PetscCall(PetscOptionsInt("-pf_group_size", "Ranks per group: each group distributes one mesh and solves its share of the samples", "datagen", group_size, &group_size, NULL));
  PetscCall(PetscOptionsEnum("-fidelity", "high: the mesh as given; low: coarse solve interpolated to the mesh", "datagen", PFFidelities, (PetscEnum)fidelity, (PetscEnum *)&fidelity, NULL));
  PetscCall(PetscOptionsInt("-datagen_write_every", "Rounds of samples buffered per collective write", "datagen", write_every, &write_every, NULL));
  PetscOptionsEnd();
  PetscCheck(!(has_toy && has_physics), comm, PETSC_ERR_ARG_WRONG, "give either -toy or -physics, not both");
  if (has_physics) {
    PetscCall(PFDatagenPDE(comm, physics, n, seed, out, resume, group_size, fidelity, write_every, &help));
    PetscFunctionReturn(PETSC_SUCCESS);
  }
  PetscCall(PFCLIOptionsDone(comm, "datagen", &help));
  if (help) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCheck(has_toy, comm, PETSC_ERR_ARG_WRONG, "say what to generate: -physics darcy or -toy moons|8gaussians|checkerboard");
  PetscCheck(n > 0, comm, PETSC_ERR_ARG_OUTOFRANGE, "-n must be positive, got %" PetscInt_FMT, n);
  PetscCall(PFCheckWritable(comm, out));

  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  PetscCallMPI(MPI_Comm_size(comm, &size));
  PetscInt lo = (PetscInt)(((PetscInt64)rank * n) / size), hi = (PetscInt)(((PetscInt64)(rank + 1) * n) / size);
  PetscCall(PetscMalloc1(2 * (hi - lo) + 1, &mine));
  for (PetscInt i = lo; i < hi; i++) PFToySample((PFToyType)toy, (uint64_t)seed, (uint64_t)i, mine + 2 * (i - lo));
  {
    PetscMPIInt *counts = NULL, *displs = NULL, cnt = (PetscMPIInt)(2 * (hi - lo));
    if (rank == 0) PetscCall(PetscMalloc3(2 * n, &all, size, &counts, size, &displs));
    PetscCallMPI(MPI_Gather(&cnt, 1, MPI_INT, counts, 1, MPI_INT, 0, comm));
    if (rank == 0) {
      displs[0] = 0;
      for (PetscMPIInt r = 1; r < size; r++) displs[r] = displs[r - 1] + counts[r - 1];
    }
    PetscCallMPI(MPI_Gatherv(mine, cnt, MPI_DOUBLE, all, counts, displs, MPI_DOUBLE, 0, comm));
    PetscCall(PFSamplesWrite(comm, out, "dataset", n, 2, all, -1));
    if (rank == 0) PetscCall(PetscFree3(all, counts, displs));
  }
  PetscCall(PetscFree(mine));
  PetscCall(PetscPrintf(comm, "physflow datagen: wrote %" PetscInt_FMT " %s samples to %s\n", n, PFToyTypes[toy], out));
  PetscFunctionReturn(PETSC_SUCCESS);
}
