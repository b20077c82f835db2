#include <stdlib.h>
#include <string.h>
#include "cli.h"

/* Runs examples/plot_toy.py (Debian's python3 + matplotlib) for the scatter plots. */
static PetscErrorCode PlotToy(const char png[], const char samples[], const char reference[], const char title[], int *status)
{
  char        cmd[4 * PETSC_MAX_PATH_LEN];
  const char *src = getenv("PF_SOURCE_DIR") ? getenv("PF_SOURCE_DIR") : PF_SOURCE_DIR;
  const char *py  = getenv("PF_PYTHON") ? getenv("PF_PYTHON") : PF_PYTHON;

  PetscFunctionBegin;
  PetscCall(PetscSNPrintf(cmd, sizeof(cmd), "'%s' '%s/examples/plot_toy.py' --out '%s' --title '%s' '%s:reference' '%s:samples'", py, src, png, title, reference, samples));
  *status = system(cmd);
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Mesh fields (with -o): PNGs beside the JSON, by examples/plot_fields.py
 * (sample fields) and plot_darcy_eval.py (mean/std against the reference,
 * residual and re-solve histograms).  Failing plots only warn. */
static PetscErrorCode PlotPDE(const char physics[], const char plot[], PetscBool set_plot, const char json[], const char samples[], const char reference[])
{
  char        prefix[PETSC_MAX_PATH_LEN], cmd[6 * PETSC_MAX_PATH_LEN];
  const char *src = getenv("PF_SOURCE_DIR") ? getenv("PF_SOURCE_DIR") : PF_SOURCE_DIR;
  const char *py  = getenv("PF_PYTHON") ? getenv("PF_PYTHON") : PF_PYTHON;
  size_t      len;
  int         st;

  PetscFunctionBegin;
  if (set_plot && !strcmp(plot, "none")) PetscFunctionReturn(PETSC_SUCCESS);
  /* the JSON's path without .json names the eval run (its _residuals.txt, _checks.txt) */
  PetscCall(PetscStrncpy(prefix, json, sizeof(prefix)));
  PetscCall(PetscStrlen(prefix, &len));
  if (len > 5 && !strcmp(prefix + len - 5, ".json")) prefix[len - 5] = 0;
  PetscCall(PetscSNPrintf(cmd, sizeof(cmd), "'%s' '%s/examples/plot_fields.py' '%s' --out '%s_fields.png' --title 'samples: %s' > /dev/null 2>&1", py, src, samples, prefix, samples));
  st = system(cmd);
  if (st == 0 && reference[0]) {
    PetscCall(PetscSNPrintf(cmd, sizeof(cmd), "'%s' '%s/examples/plot_darcy_eval.py' --samples '%s' --reference '%s' --out '%s' --runs 'samples=%s' > /dev/null 2>&1", py, src, samples, reference, prefix, prefix));
    st = system(cmd);
  }
  if (st == 0 && !strcmp(physics, "ns")) {
    /* flows: velocity magnitude, vorticity, drag and lift histograms */
    char ref[PETSC_MAX_PATH_LEN + 16] = "";
    if (reference[0]) PetscCall(PetscSNPrintf(ref, sizeof(ref), "--reference '%s'", reference));
    PetscCall(PetscSNPrintf(cmd, sizeof(cmd), "'%s' '%s/examples/plot_ns_eval.py' --samples '%s' %s --out '%s' --eval '%s' > /dev/null 2>&1", py, src, samples, ref, prefix, prefix));
    st = system(cmd);
  }
  if (st) PetscCall(PetscFPrintf(PETSC_COMM_SELF, stderr, "physflow eval: warning: plotting failed (needs %s with matplotlib and h5py); the JSON is unaffected\n", py));
  else PetscCall(PetscFPrintf(PETSC_COMM_SELF, stderr, "physflow eval: plots %s_fields.png%s%s\n", prefix, reference[0] ? ", _meanstd.png, _residuals.png" : "", !strcmp(physics, "ns") ? ", _flow.png, _forces.png" : ""));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* physflow eval -samples s.h5 -reference ref.h5 [-o report.json] [-plot fig.png]
 * Prints one JSON object: sliced Wasserstein distance, MMD^2, moments, NFE. */
PetscErrorCode PFCommandEval(MPI_Comm comm)
{
  char        samples[PETSC_MAX_PATH_LEN] = "", reference[PETSC_MAX_PATH_LEN] = "", json[PETSC_MAX_PATH_LEN] = "", plot[PETSC_MAX_PATH_LEN] = "", physics[32] = "";
  PetscInt    nproj = 512, mmd_max = 2000;
  PetscInt   seed  = 0;
  PetscBool   help, has_s, has_r, has_physics, set_plot;
  PetscMPIInt rank;

  PetscFunctionBegin;
  PetscOptionsBegin(comm, NULL, "physflow eval: compare samples with reference data", "eval");
  PetscCall(PetscOptionsString("-samples", "Samples file (from sample)", "eval", samples, samples, sizeof(samples), &has_s));
  PetscCall(PetscOptionsString("-reference", "Reference data file (from datagen)", "eval", reference, reference, sizeof(reference), &has_r));
  PetscCall(PetscOptionsString("-physics", "PDE checks of the samples (darcy, ns)", "eval", physics, physics, sizeof(physics), &has_physics));
  PetscCall(PetscOptionsInt("-eval_nproj", "Random directions of the sliced Wasserstein distance", "eval", nproj, &nproj, NULL));
  PetscCall(PetscOptionsInt("-eval_mmd_max", "Points per set used by MMD (O(n^2))", "eval", mmd_max, &mmd_max, NULL));
  PetscCall(PetscOptionsInt("-eval_seed", "Seed of the random projections", "eval", seed, &seed, NULL));
  PetscCall(PetscOptionsString("-o", "Also write the JSON report to this file", "eval", json, json, sizeof(json), NULL));
  PetscCall(PetscOptionsString("-plot", "Scatter plot PNG (default: samples file with .png; 'none' to skip; with -physics and -o: PNGs named after the JSON, 'none' to skip)", "eval", plot, plot, sizeof(plot), &set_plot));
  PetscOptionsEnd();
  if (has_physics) {
    PetscCall(PFEvalPDE(comm, physics, samples, has_r ? reference : "", json, &help));
    PetscCallMPI(MPI_Comm_rank(comm, &rank));
    if (!help && json[0] && rank == 0) PetscCall(PlotPDE(physics, plot, set_plot, json, samples, has_r ? reference : ""));
    PetscFunctionReturn(PETSC_SUCCESS);
  }
  PetscCall(PFCLIOptionsDone(comm, "eval", &help));
  if (help) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCheck(has_s && has_r, comm, PETSC_ERR_ARG_WRONG, "give both -samples s.h5 and -reference ref.h5");
  PetscCheck(nproj > 0 && mmd_max >= 2, comm, PETSC_ERR_ARG_OUTOFRANGE, "-eval_nproj must be > 0 and -eval_mmd_max >= 2");
  if (json[0]) PetscCall(PFCheckWritable(comm, json));
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  /* point clouds of toy size: rank 0 does the work */
  if (rank == 0) {
    PetscInt ns, nr, ds, dr, nfe = -1;
    double  *xs, *xr, swd, mmd2, ms[8] = {0}, mr[8] = {0};
    PetscCall(PFSamplesRead(samples, &ns, &ds, &xs));
    PetscCall(PFSamplesRead(reference, &nr, &dr, &xr));
    PetscCheck(ds == dr, PETSC_COMM_SELF, PETSC_ERR_ARG_INCOMP, "'%s' has samples of size %" PetscInt_FMT " but '%s' of size %" PetscInt_FMT, samples, ds, reference, dr);
    for (PetscInt i = 0; i < ns * ds; i++) PetscCheck(isfinite(xs[i]), PETSC_COMM_SELF, PETSC_ERR_FP, "'%s': sample %" PetscInt_FMT " is NaN/Inf (diverged model or sampler?)", samples, i / ds);
    {
      hid_t     fid;
      PetscBool has;
      PetscCall(PFH5OpenRead(samples, &fid));
      PetscCall(PFH5HasAttr(fid, "nfe", &has));
      if (has) PetscCall(PFH5ReadAttrInt(fid, "nfe", &nfe));
      PetscCall(PFH5Close(&fid));
    }
    PetscCall(PFSlicedWasserstein(ds, ns, xs, nr, xr, nproj, (uint64_t)seed, &swd));
    PetscCall(PFMMD(ds, ns, xs, nr, xr, mmd_max, &mmd2));
    /* first two moments of the first coordinates, for a quick look */
    PetscInt dm = PetscMin(ds, 4);
    for (PetscInt i = 0; i < ns; i++)
      for (PetscInt d = 0; d < dm; d++) {
        ms[d] += xs[i * ds + d] / ns;
        ms[4 + d] += xs[i * ds + d] * xs[i * ds + d] / ns;
      }
    for (PetscInt i = 0; i < nr; i++)
      for (PetscInt d = 0; d < dm; d++) {
        mr[d] += xr[i * dr + d] / nr;
        mr[4 + d] += xr[i * dr + d] * xr[i * dr + d] / nr;
      }
    char report[4096], item[256];
    PetscCall(PetscSNPrintf(report, sizeof(report), "{\"samples\": \"%s\", \"reference\": \"%s\", \"n_samples\": %" PetscInt_FMT ", \"n_reference\": %" PetscInt_FMT ", \"dim\": %" PetscInt_FMT ", \"nfe\": %" PetscInt_FMT ", \"sliced_wasserstein\": %.6g, \"mmd2\": %.6g", samples, reference, ns, nr, ds, nfe, swd, mmd2));
    PetscCall(PetscStrlcat(report, ", \"mean_samples\": [", sizeof(report)));
    for (PetscInt d = 0; d < dm; d++) {
      PetscCall(PetscSNPrintf(item, sizeof(item), "%s%.5g", d ? ", " : "", ms[d]));
      PetscCall(PetscStrlcat(report, item, sizeof(report)));
    }
    PetscCall(PetscStrlcat(report, "], \"mean_reference\": [", sizeof(report)));
    for (PetscInt d = 0; d < dm; d++) {
      PetscCall(PetscSNPrintf(item, sizeof(item), "%s%.5g", d ? ", " : "", mr[d]));
      PetscCall(PetscStrlcat(report, item, sizeof(report)));
    }
    PetscCall(PetscStrlcat(report, "], \"std_samples\": [", sizeof(report)));
    for (PetscInt d = 0; d < dm; d++) {
      PetscCall(PetscSNPrintf(item, sizeof(item), "%s%.5g", d ? ", " : "", sqrt(PetscMax(0, ms[4 + d] - ms[d] * ms[d]))));
      PetscCall(PetscStrlcat(report, item, sizeof(report)));
    }
    PetscCall(PetscStrlcat(report, "], \"std_reference\": [", sizeof(report)));
    for (PetscInt d = 0; d < dm; d++) {
      PetscCall(PetscSNPrintf(item, sizeof(item), "%s%.5g", d ? ", " : "", sqrt(PetscMax(0, mr[4 + d] - mr[d] * mr[d]))));
      PetscCall(PetscStrlcat(report, item, sizeof(report)));
    }
    PetscCall(PetscStrlcat(report, "]", sizeof(report)));
    /* plot */
    PetscBool noplot;
    PetscCall(PetscStrcmp(plot, "none", &noplot));
    if (!set_plot || !plot[0]) {
      size_t len;
      PetscCall(PetscStrncpy(plot, samples, sizeof(plot)));
      PetscCall(PetscStrlen(plot, &len));
      if (len > 3 && !strcmp(plot + len - 3, ".h5")) plot[len - 3] = 0;
      PetscCall(PetscStrlcat(plot, ".png", sizeof(plot)));
    }
    if (!noplot && ds == 2) {
      int  status = 0;
      char title[256];
      PetscCall(PetscSNPrintf(title, sizeof(title), "SWD %.4f  MMD2 %.2e", swd, mmd2));
      PetscCall(PlotToy(plot, samples, reference, title, &status));
      if (status == 0) {
        PetscCall(PetscSNPrintf(item, sizeof(item), ", \"plot\": \"%s\"", plot));
        PetscCall(PetscStrlcat(report, item, sizeof(report)));
      } else PetscCall(PetscFPrintf(PETSC_COMM_SELF, stderr, "physflow eval: warning: plotting failed (needs %s with matplotlib and h5py); the metrics above are unaffected\n", PF_PYTHON));
    }
    PetscCall(PetscStrlcat(report, "}", sizeof(report)));
    PetscCall(PetscPrintf(PETSC_COMM_SELF, "%s\n", report));
    if (json[0]) {
      FILE *f = fopen(json, "w");
      PetscCheck(f, PETSC_COMM_SELF, PETSC_ERR_FILE_OPEN, "cannot write '%s'", json);
      fprintf(f, "%s\n", report);
      fclose(f);
    }
    PetscCall(PetscFree(xs));
    PetscCall(PetscFree(xr));
  }
  PetscCallMPI(MPI_Barrier(comm));
  PetscFunctionReturn(PETSC_SUCCESS);
}
