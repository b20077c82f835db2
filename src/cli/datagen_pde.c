/* physflow datagen -physics darcy|ns: in-situ generation of PDE samples.
 *
 * MPI_COMM_WORLD is split into G groups of P ranks (-pf_group_size P); each
 * group distributes the mesh over its ranks and solves its share of the
 * samples (sample i's random inputs are keyed by (seed, i), so the data do
 * not depend on G or P).  Every round, each group solves one sample; group
 * leaders gather it into natural vertex order and all ranks write the
 * buffered rows with one collective HDF5 call.  The file is path.partial
 * until complete; -resume continues an interrupted run without gaps or
 * duplicates; SIGTERM/SIGUSR1 stop it cleanly at the next round. */
#include <physflow/dataset.h>
#include <physflow/physics.h>
#include "cli.h"

PetscErrorCode PFDatagenPDE(MPI_Comm world, const char physics_type[], PetscInt n, PetscInt seed, const char out[], PetscBool resume, PetscInt group_size, PetscInt fidelity, PetscInt write_every, PetscBool *help)
{
  PFPhysics        phys;
  PFDatasetWriter  w = NULL;
  MPI_Comm         gcomm;
  PetscMPIInt      wrank, wsize, grank;
  PetscInt         G, nfields, nown, npending = 0, *pending = NULL, ndone;
  const char *const *names;
  const PetscBool *done;
  PetscScalar     *x;
  double         **buf = NULL, **pbuf = NULL, t_field = 0, t_solve = 0, t_io = 0;
  PetscInt         nparams = 0;
  const char *const *pnames = NULL;
  PetscInt        *bufidx = NULL, nbuf = 0, rounds;
  PetscLogDouble   t0, tlast, ta, tb;
  PetscBool        complete, stopped = PETSC_FALSE;

  PetscFunctionBegin;
  PetscCallMPI(MPI_Comm_rank(world, &wrank));
  PetscCallMPI(MPI_Comm_size(world, &wsize));
  PetscCheck(group_size >= 1 && wsize % group_size == 0, world, PETSC_ERR_ARG_INCOMP, "-pf_group_size %" PetscInt_FMT " must divide the number of ranks (%d)", group_size, wsize);
  G = wsize / (PetscMPIInt)group_size;
  PetscCallMPI(MPI_Comm_split(world, wrank / (PetscMPIInt)group_size, wrank, &gcomm));
  PetscCallMPI(MPI_Comm_rank(gcomm, &grank));
  PetscCall(PFPhysicsCreate(gcomm, &phys));
  PetscCall(PFPhysicsSetType(phys, physics_type));
  PetscCall(PFPhysicsSetFromOptions(phys));
  PetscCall(PFCLIOptionsDone(world, "datagen", help));
  if (*help) goto cleanup;
  PetscCheck(n > 0, world, PETSC_ERR_ARG_OUTOFRANGE, "-n must be positive, got %" PetscInt_FMT, n);
  PetscCheck(write_every > 0, world, PETSC_ERR_ARG_OUTOFRANGE, "-datagen_write_every must be positive");
  PetscCall(PFCheckWritable(world, out));
  PetscCall(PetscTime(&ta));
  PetscCall(PFPhysicsSetUp(phys));
  /* one draw builds the input field generator (e.g. the KL modes), so the
   * per-sample timings below measure the steady state */
  PetscCall(PFPhysicsGetVertexMap(phys, &nown, NULL));
  PetscCall(PFPhysicsGetFields(phys, &nfields, NULL, NULL));
  PetscCall(PetscMalloc1(nfields * nown + 1, &x));
  PetscCall(PFPhysicsDrawInputs(phys, (uint64_t)seed, 0, x));
  /* a low-fidelity solver is set up (and its options checked) at its first solve: do it before the output file exists */
  if (fidelity != PF_FIDELITY_HIGH) PetscCall(PFPhysicsSolve(phys, (PFFidelity)fidelity, (uint64_t)seed, 0, x));
  PetscCall(PetscTime(&tb));
  PetscCall(PFPhysicsGetFields(phys, &nfields, &names, NULL));
  PetscCall(PFPhysicsGetVertexMap(phys, &nown, NULL));
  {
    PFMesh          mesh;
    PFDatasetLayout L;
    PetscCall(PFPhysicsGetMesh(phys, &mesh));
    L.nsamples = n;
    L.nvert    = mesh->nvert;
    L.dim      = 2;
    L.ncells   = mesh->ncells;
    L.nvpc     = mesh->nvpc;
    L.nfields  = nfields;
    L.fields   = names;
    PetscCall(PFPhysicsGetParams(phys, &nparams, &pnames));
    L.nparams  = nparams;
    L.params   = pnames;
    L.kind     = "dataset";
    L.scratch  = PETSC_FALSE; /* a dataset: fsync'd, with its XDMF */
    PetscCall(PetscPrintf(world, "physflow datagen: %s on %s (%" PetscInt_FMT " vertices, %" PetscInt_FMT " cells), %s fidelity, %" PetscInt_FMT " samples, %" PetscInt_FMT " group(s) of %" PetscInt_FMT " rank(s); setup %.2f s\n", physics_type, mesh->source, mesh->nvert, mesh->ncells, PFFidelities[fidelity], n, G, group_size, tb - ta));
    PetscCall(PFDatasetWriterCreate(world, out, &L, mesh->coords, mesh->cells, resume, &w));
    PetscCall(PFDatasetWriterSetAttrString(w, "physics", physics_type));
    PetscCall(PFDatasetWriterSetAttrString(w, "fidelity", PFFidelities[fidelity]));
    PetscCall(PFDatasetWriterSetAttrString(w, "mesh", mesh->source));
    PetscCall(PFDatasetWriterSetAttrReal(w, "seed", (double)seed));
    /* buffers of natural-order rows on the group leader */
    PetscCall(PetscMalloc1(nfields, &buf));
    for (PetscInt f = 0; f < nfields; f++) PetscCall(PetscMalloc1(grank == 0 ? write_every * mesh->nvert : 1, &buf[f]));
    PetscCall(PetscMalloc1(write_every, &bufidx));
    /* and of the samples' scalar parameters (e.g. Re) */
    PetscCall(PetscMalloc1(nparams + 1, &pbuf));
    for (PetscInt q = 0; q < nparams; q++) PetscCall(PetscMalloc1(write_every, &pbuf[q]));
    PetscCall(PFDatasetWriterGetCompleted(w, &done, &ndone));
    PetscCall(PetscMalloc1(n, &pending));
    for (PetscInt i = 0; i < n; i++)
      if (!done[i]) pending[npending++] = i;
    if (ndone) PetscCall(PetscPrintf(world, "physflow datagen: resuming: %" PetscInt_FMT " of %" PetscInt_FMT " samples already done\n", ndone, n));
    rounds = (npending + G - 1) / G;
    PetscCall(PetscTime(&t0));
    tlast = t0;
    for (PetscInt r = 0; r < rounds && !stopped; r++) {
      PetscInt k = r * G + wrank / (PetscMPIInt)group_size;
      int      sig, anysig;
      if (k < npending) {
        PetscInt idx = pending[k];
        PetscCall(PetscTime(&ta));
        PetscCall(PFPhysicsDrawInputs(phys, (uint64_t)seed, idx, x));
        PetscCall(PetscTime(&tb));
        t_field += tb - ta;
        PetscCall(PFPhysicsSolve(phys, (PFFidelity)fidelity, (uint64_t)seed, idx, x));
        PetscCall(PetscTime(&ta));
        t_solve += ta - tb;
        for (PetscInt f = 0; f < nfields; f++) PetscCall(PFPhysicsGatherNatural(phys, x + f * nown, grank == 0 ? buf[f] + nbuf * mesh->nvert : NULL));
        if (nparams) {
          double pv[8];
          PetscCheck(nparams <= 8, PETSC_COMM_SELF, PETSC_ERR_SUP, "more than 8 parameters");
          PetscCall(PFPhysicsParams(phys, (uint64_t)seed, idx, pv));
          for (PetscInt q = 0; q < nparams; q++) pbuf[q][nbuf] = pv[q];
        }
        bufidx[nbuf++] = idx;
        PetscCall(PetscTime(&tb));
        t_io += tb - ta;
      }
      /* a stop request on any rank ends the run for all at this round */
      sig = PFSignalsReceived();
      PetscCallMPI(MPI_Allreduce(&sig, &anysig, 1, MPI_INT, MPI_MAX, world));
      stopped = anysig ? PETSC_TRUE : PETSC_FALSE;
      if ((r + 1) % write_every == 0 || r == rounds - 1 || stopped) {
        PetscCall(PetscTime(&ta));
        PetscCall(PetscLogEventBegin(PF_EVENT_IO, 0, 0, 0, 0));
        PetscCall(PFDatasetWriterWriteRows(w, grank == 0 ? nbuf : 0, bufidx, (const double *const *)buf, nparams ? (const double *const *)pbuf : NULL));
        PetscCall(PetscLogEventEnd(PF_EVENT_IO, 0, 0, 0, 0));
        PetscCall(PetscTime(&tb));
        t_io += tb - ta;
        nbuf = 0;
      }
      PetscCall(PetscTime(&tb));
      if (tb - tlast > 2.0 || r == rounds - 1) {
        PetscInt ndonenow = PetscMin(npending, (r + 1) * G);
        double   rate     = (double)ndonenow / (tb - t0);
        PetscCall(PetscPrintf(world, "  %" PetscInt_FMT "/%" PetscInt_FMT " samples  %.1f samples/s  ETA %.0fs\n", ndone + ndonenow, n, rate, (double)(npending - ndonenow) / rate));
        tlast = tb;
      }
    }
    PetscCall(PetscTime(&tb));
    PetscCall(PetscLogEventBegin(PF_EVENT_IO, 0, 0, 0, 0));
    PetscCall(PFDatasetWriterClose(&w, &complete));
    PetscCall(PetscLogEventEnd(PF_EVENT_IO, 0, 0, 0, 0));
    {
      double tot[3] = {t_field, t_solve, t_io}, mx[3];
      PetscLogDouble tc;
      PetscCall(PetscTime(&tc));
      tot[2] += tc - tb;
      PetscCallMPI(MPI_Allreduce(tot, mx, 3, MPI_DOUBLE, MPI_MAX, world));
      double all = mx[0] + mx[1] + mx[2];
      if (npending > 0)
        PetscCall(PetscPrintf(world, "physflow datagen: %" PetscInt_FMT " samples in %.2f s (%.1f samples/s); time on the busiest rank: field %.0f%%, solve %.0f%%, gather+I/O %.0f%%\n", npending, tc - t0, (double)npending / (tc - t0), 100 * mx[0] / all, 100 * mx[1] / all, 100 * mx[2] / all));
    }
    if (complete) PetscCall(PetscPrintf(world, "physflow datagen: wrote %s (and its .xmf for ParaView)\n", out));
    else PetscCall(PetscPrintf(world, "physflow datagen: stopped by a signal; partial data kept in %s.partial, continue with the same command and -resume\n", out));
    for (PetscInt f = 0; f < nfields; f++) PetscCall(PetscFree(buf[f]));
    PetscCall(PetscFree(buf));
    for (PetscInt q = 0; q < nparams; q++) PetscCall(PetscFree(pbuf[q]));
    PetscCall(PetscFree(pbuf));
    PetscCall(PetscFree(bufidx));
    PetscCall(PetscFree(x));
    PetscCall(PetscFree(pending));
  }
cleanup:
  PetscCall(PFPhysicsDestroy(&phys));
  PetscCallMPI(MPI_Comm_free(&gcomm));
  PetscFunctionReturn(PETSC_SUCCESS);
}
