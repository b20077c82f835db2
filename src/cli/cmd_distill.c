/* physflow distill -model teacher.h5 -distill_type piddm|reflow -o student.h5
 *
 * Few-step and one-step students of a flow-matching teacher, trained on the
 * teacher's own (noise, sample) pairs:
 *
 *   reflow  rectified flow (Liu, Gong & Liu 2023): retrain on the straight
 *           path from each noise z to the teacher's sample T(z), at random t;
 *           the paths of the coupling do not cross, so the student's ODE is
 *           straighter and few Euler steps suffice.  -reflow_rounds k repeats
 *           it on the previous student's pairs (k-rectified flow).
 *   piddm   physics-informed distillation (Zhang & Zou 2025, arXiv
 *           2505.22391): a one-step student G(z) = z + v(z, 0) fitted to
 *           T(z) plus lambda times the PDE residual of G(z) itself: the
 *           constraint is on the student's clean output, not on an
 *           expectation over noisy states (the Jensen gap the paper points
 *           out).  Its residual term is the PBFM one (-constraint pbfm, one
 *           step from t = 0, so the estimate IS the output), combined by a
 *           weighted sum; default size: the error norm.
 *
 * The pairs are generated in situ by the teacher (physflow sample, groups of
 * ranks, -pair_sampler rk4 with -pair_steps 10 by default) into an HDF5
 * samples file that is reused when it matches (a cache), and the noise of
 * pair i is recomputed from (pair seed, i), so the file holds only samples.
 * Both students start from the teacher's weights and record the sampler
 * they are meant for (euler with -student_steps: 1 for piddm, 2 for
 * reflow), which physflow sample then uses by default. */
#include <string.h>
#include <physflow/h5util.h>
#include <unistd.h>
#include "cli.h"

typedef enum {
  PF_DISTILL_PIDDM  = 0,
  PF_DISTILL_REFLOW = 1
} PFDistillType;
static const char *const PFDistillTypes[] = {"piddm", "reflow", "PFDistillType", "PF_DISTILL_", NULL};

typedef struct {
  PetscInt n, steps, seed, batch;
  char     sampler[16];
} PairSpec;

/* path with its .h5 suffix replaced by suffix (or suffix appended) */
static PetscErrorCode Derived(const char path[], const char suffix[], char out[], size_t len)
{
  size_t n;

  PetscFunctionBegin;
  PetscCall(PetscStrncpy(out, path, len));
  n = strlen(out);
  if (n > 3 && !strcmp(out + n - 3, ".h5")) out[n - 3] = 0;
  PetscCall(PetscStrlcat(out, suffix, len));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Does an existing pairs file hold the pairs asked for?  (rank 0 reads, all
 * learn; *exists false when there is no file) */
static PetscErrorCode PairsMatch(MPI_Comm comm, const char path[], const char teacher[], const PairSpec *ps, PetscBool *exists, PetscBool *match, char why[], size_t len)
{
  PetscMPIInt rank;
  int         state[2] = {0, 0};
  char        teacher_hash[17];

  PetscFunctionBegin;
  PetscCall(PFCLIModelParamsHash(comm, teacher, PETSC_TRUE, teacher_hash));
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  why[0] = 0;
  if (rank == 0 && access(path, F_OK) == 0) {
    hid_t fid;
    state[0] = 1;
    fid      = H5Fis_hdf5(path) > 0 ? H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT) : -1;
    if (fid < 0) PetscCall(PetscStrncpy(why, "not an HDF5 file", len));
    else {
      char   model[PETSC_MAX_PATH_LEN] = "", smp[16] = "", hash[32] = "";
      double seed = -1, steps = -1;
      long   nsamples = -1;
      PetscErrorCode ierr = PETSC_SUCCESS;
      /* a failed read is an unreadable record (no early return: the other
       * ranks wait in the broadcast below) */
      if (H5Lexists(fid, "completed", H5P_DEFAULT) > 0) {
        /* the writer renames path.partial to path only once every sample is in */
        hsize_t dims[1];
        if (!(ierr = PFH5GetDims(fid, path, "completed", 1, dims))) nsamples = (long)dims[0];
      }
      if (!ierr && H5Aexists(fid, "model") > 0) ierr = PFH5ReadAttrString(fid, "model", model, sizeof(model));
      if (!ierr && H5Aexists(fid, "model_params_hash") > 0) ierr = PFH5ReadAttrString(fid, "model_params_hash", hash, sizeof(hash));
      if (!ierr && H5Aexists(fid, "sampler") > 0) ierr = PFH5ReadAttrString(fid, "sampler", smp, sizeof(smp));
      if (!ierr && H5Aexists(fid, "seed") > 0) ierr = PFH5ReadAttrReal(fid, "seed", &seed);
      if (!ierr && H5Aexists(fid, "sampler_steps") > 0) ierr = PFH5ReadAttrReal(fid, "sampler_steps", &steps);
      H5Fclose(fid);
      if (ierr) PetscCall(PetscStrncpy(why, "its record cannot be read", len));
      else if (strcmp(model, teacher)) PetscCall(PetscSNPrintf(why, len, "made from model '%s', not '%s'", model, teacher));
      else if (strcmp(hash, teacher_hash)) PetscCall(PetscSNPrintf(why, len, "made from other weights of '%s' (parameter hash %s, now %s)", teacher, hash[0] ? hash : "none", teacher_hash));
      else if (strcmp(smp, ps->sampler) || (PetscInt)steps != ps->steps) PetscCall(PetscSNPrintf(why, len, "made with %s, %g steps, not %s, %" PetscInt_FMT, smp, steps, ps->sampler, ps->steps));
      else if ((PetscInt)seed != ps->seed) PetscCall(PetscSNPrintf(why, len, "noise seed %g, not %" PetscInt_FMT, seed, ps->seed));
      else if (nsamples != (long)ps->n) PetscCall(PetscSNPrintf(why, len, "%ld pairs, not %" PetscInt_FMT, nsamples, ps->n));
      else state[1] = 1;
    }
  }
  PetscCallMPI(MPI_Bcast(state, 2, MPI_INT, 0, comm));
  PetscCallMPI(MPI_Bcast(why, (PetscMPIInt)len, MPI_CHAR, 0, comm));
  *exists = state[0] ? PETSC_TRUE : PETSC_FALSE;
  *match  = state[1] ? PETSC_TRUE : PETSC_FALSE;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* The teacher's pairs: reuse a matching file, refuse to replace another one
 * (it may be somebody's data), else generate them */
static PetscErrorCode EnsurePairs(MPI_Comm comm, const char teacher[], const char path[], const PairSpec *ps)
{
  PetscBool        exists = PETSC_FALSE, match = PETSC_FALSE;
  char             why[PETSC_MAX_PATH_LEN + 64];
  PFCLIMeshContext ctx;
  PFSampler        sampler;

  PetscFunctionBegin;
  PetscCall(PairsMatch(comm, path, teacher, ps, &exists, &match, why, sizeof(why)));
  if (exists && match) {
    PetscCall(PetscPrintf(comm, "physflow distill: reusing the teacher's %" PetscInt_FMT " pairs in %s\n", ps->n, path));
    PetscFunctionReturn(PETSC_SUCCESS);
  }
  PetscCheck(!exists, comm, PETSC_ERR_FILE_UNEXPECTED, "pairs file '%s' exists but is not these pairs (%s): delete it or give -pairs another file", path, why);
  PetscCall(PetscPrintf(comm, "physflow distill: the teacher %s generates %" PetscInt_FMT " pairs (%s, %" PetscInt_FMT " steps, noise seed %" PetscInt_FMT ") -> %s\n", teacher, ps->n, ps->sampler, ps->steps, ps->seed, path));
  PetscCall(PFSamplerCreate(comm, &sampler));
  PetscCall(PFSamplerSetType(sampler, ps->sampler));
  PetscCall(PFSamplerSetSteps(sampler, ps->steps));
  PetscCall(PFCLIMeshSampleOptions(comm, teacher, &ctx));
  PetscCall(PFCLIMeshSample(&ctx, comm, teacher, ps->n, ps->seed, PETSC_TRUE, ps->batch, sampler, path));
  PetscCall(PFCLIMeshContextDestroy(&ctx));
  PetscCall(PFSamplerDestroy(&sampler));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Has the model file run all of its training steps?  (rank 0 reads) */
static PetscErrorCode ModelComplete(MPI_Comm comm, const char path[], PetscBool *done)
{
  PetscMPIInt rank;
  int         ok = 0;

  PetscFunctionBegin;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  if (rank == 0 && access(path, F_OK) == 0 && H5Fis_hdf5(path) > 0) {
    hid_t fid = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (fid >= 0) {
      if (H5Lexists(fid, "step", H5P_DEFAULT) > 0 && H5Lexists(fid, "train", H5P_DEFAULT) > 0) {
        long long step;
        PetscInt  total;
        hid_t     g = H5Gopen2(fid, "train", H5P_DEFAULT);
        if (H5Aexists(g, "train_steps") > 0 && !PFH5ReadAttrInt(g, "train_steps", &total) && !PFH5ReadArray(fid, path, "step", H5T_NATIVE_LLONG, 1, &step)) ok = step == (long long)total;
        H5Gclose(g);
      }
      H5Fclose(fid);
    }
  }
  PetscCallMPI(MPI_Bcast(&ok, 1, MPI_INT, 0, comm));
  *done = ok ? PETSC_TRUE : PETSC_FALSE;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFCommandDistill(MPI_Comm comm)
{
  char          model[PETSC_MAX_PATH_LEN] = "", out[PETSC_MAX_PATH_LEN] = "student.h5", pairs[PETSC_MAX_PATH_LEN] = "", teacher[PETSC_MAX_PATH_LEN];
  PFDistillType type  = PF_DISTILL_PIDDM;
  PairSpec      ps    = {2000, 10, 4242, 16, "rk4"};
  PetscInt      rounds = 1, student_steps = 0;
  double        lambda = 1;
  PetscBool     has_model, has_pairs, help, set, is_mesh = PETSC_FALSE;
  char          val[64];

  PetscFunctionBegin;
  PetscOptionsBegin(comm, NULL, "physflow distill: few-step (reflow) and one-step physics-informed (PIDDM) students of a flow-matching model", "distill");
  PetscCall(PetscOptionsString("-model", "Teacher model (written by train or finetune)", "distill", model, model, sizeof(model), &has_model));
  PetscCall(PetscOptionsEnum("-distill_type", "piddm (one-step student + PDE residual) or reflow (straightened flow)", "distill", PFDistillTypes, (PetscEnum)type, (PetscEnum *)&type, NULL));
  PetscCall(PetscOptionsString("-o", "Student model file", "distill", out, out, sizeof(out), NULL));
  PetscCall(PetscOptionsString("-pairs", "Teacher (noise, sample) pairs: reused if it matches, else generated (default: <o>_pairs.h5)", "distill", pairs, pairs, sizeof(pairs), &has_pairs));
  PetscCall(PetscOptionsInt("-n_pairs", "Number of teacher pairs", "distill", ps.n, &ps.n, NULL));
  PetscCall(PetscOptionsString("-pair_sampler", "Sampler of the teacher's pairs (an accurate one: rk4, dopri5)", "distill", ps.sampler, ps.sampler, sizeof(ps.sampler), NULL));
  PetscCall(PetscOptionsInt("-pair_steps", "Steps of the pair sampler", "distill", ps.steps, &ps.steps, NULL));
  PetscCall(PetscOptionsInt("-pair_seed", "Noise seed of the pairs", "distill", ps.seed, &ps.seed, NULL));
  PetscCall(PetscOptionsInt("-pair_batch", "Samples per network evaluation while generating pairs", "distill", ps.batch, &ps.batch, NULL));
  PetscCall(PetscOptionsReal("-piddm_lambda", "PIDDM: weight of the student's PDE residual (0: plain one-step distillation)", "distill", lambda, &lambda, NULL));
  PetscCall(PetscOptionsInt("-reflow_rounds", "Reflow: rounds k of k-rectified flow (each on the previous student's pairs)", "distill", rounds, &rounds, NULL));
  PetscCall(PetscOptionsInt("-student_steps", "Euler steps the student is meant for, recorded in its file (default: 1 piddm, 2 reflow)", "distill", student_steps, &student_steps, &set));
  PetscOptionsEnd();
  PetscCall(PetscOptionsHasHelp(NULL, &help));
  if (!student_steps) student_steps = type == PF_DISTILL_PIDDM ? 1 : 2;
  if (!help) {
    PetscCheck(has_model, comm, PETSC_ERR_ARG_WRONG, "give the teacher: -model teacher.h5");
    PetscCall(PFCLIIsMeshModel(comm, model, &is_mesh));
    PetscCheck(is_mesh, comm, PETSC_ERR_ARG_WRONG, "distill works on models of PDE fields (mesh networks); '%s' is not one", model);
    PetscCall(PFCLIPeek(comm, model, "flow", "flow_type", NULL, val, sizeof(val)));
    PetscCheck(!strcmp(val, PFFLOWCFM), comm, PETSC_ERR_ARG_WRONG, "distill needs a flow-matching (cfm) teacher; '%s' is a '%s' model", model, val);
    PetscCheck(ps.n > 0 && ps.steps > 0 && ps.batch > 0, comm, PETSC_ERR_ARG_OUTOFRANGE, "-n_pairs, -pair_steps and -pair_batch must be positive");
    PetscCheck(lambda >= 0 && PetscIsNormalReal(lambda + 1), comm, PETSC_ERR_ARG_OUTOFRANGE, "-piddm_lambda must be finite and >= 0");
    PetscCheck(rounds >= 1 && (rounds == 1 || type == PF_DISTILL_REFLOW), comm, PETSC_ERR_ARG_OUTOFRANGE, "-reflow_rounds must be >= 1 (and > 1 only with -distill_type reflow)");
    PetscCheck(student_steps >= 1, comm, PETSC_ERR_ARG_OUTOFRANGE, "-student_steps must be >= 1");
    {
      PetscBool same;
      PetscCall(PetscStrcmp(model, out, &same));
      PetscCheck(!same, comm, PETSC_ERR_ARG_WRONG, "-o must differ from the teacher -model");
    }
    PetscCall(PFCheckWritable(comm, out));
    if (!has_pairs) PetscCall(Derived(out, "_pairs.h5", pairs, sizeof(pairs)));
    /* the problem (source, boundary groups) the teacher was trained on: its
     * file records the options, and the residual must be of those equations */
    PetscCall(PFCLIProblemOptionsFromFile(comm, model));
  }
  /* the student's training: the teacher's weights and architecture, its
   * pairs as data, the PIDDM residual as a PBFM constraint of one step from
   * t = 0 (so the estimate is the output), weighted by -piddm_lambda */
  PetscCall(PFCLIDefaultOption("-lr", "5e-4"));
  PetscCall(PFCLIDefaultOption("-train_steps", "1000"));
  if (type == PF_DISTILL_PIDDM && lambda > 0) {
    PetscCall(PetscSNPrintf(val, sizeof(val), "%.17g", lambda));
    PetscCall(PFCLIDefaultOption("-constraint", "pbfm"));
    PetscCall(PFCLIDefaultOption("-pbfm_unroll", "1"));
    PetscCall(PFCLIDefaultOption("-pbfm_tpow", "0"));
    PetscCall(PFCLIDefaultOption("-constraint_norm", "error"));
    PetscCall(PFCLIDefaultOption("-constraint_combine", "sum"));
    PetscCall(PFCLIDefaultOption("-constraint_weight", val));
  } else PetscCall(PFCLIDefaultOption("-constraint", "none"));
  PetscCall(PetscStrncpy(teacher, model, sizeof(teacher)));
  for (PetscInt r = 1; r <= rounds; r++) {
    char           pr[PETSC_MAX_PATH_LEN], outr[PETSC_MAX_PATH_LEN], sfx[32];
    PFCLITrainSpec spec = {.cmd = "distill", .finetune = PETSC_TRUE, .coupled = PETSC_TRUE, .noise_seed = (uint64_t)ps.seed, .t_fixed = type == PF_DISTILL_PIDDM ? 0.0 : -1.0, .sampler_type = PFSAMPLEREULER, .sampler_steps = student_steps};

    if (help) {
      PetscCall(PetscPrintf(comm, "  (the student's training options follow: those of physflow finetune)\n"));
      PetscCall(PFCLITrainRun(comm, &spec));
      break;
    }
    PetscCall(PetscSNPrintf(sfx, sizeof(sfx), "_round%" PetscInt_FMT ".h5", r));
    if (rounds == 1) PetscCall(PetscStrncpy(pr, pairs, sizeof(pr)));
    else PetscCall(Derived(pairs, sfx, pr, sizeof(pr)));
    if (r == rounds) PetscCall(PetscStrncpy(outr, out, sizeof(outr)));
    else PetscCall(Derived(out, sfx, outr, sizeof(outr)));
    if (r < rounds) {
      PetscBool done = PETSC_FALSE;
      PetscCall(ModelComplete(comm, outr, &done));
      if (done) {
        /* a rerun (e.g. after an interruption in a later round) */
        PetscCall(PetscPrintf(comm, "physflow distill: reflow round %" PetscInt_FMT ": reusing the finished student %s\n", r, outr));
        PetscCall(PetscStrncpy(teacher, outr, sizeof(teacher)));
        continue;
      }
    }
    if (rounds > 1) PetscCall(PetscPrintf(comm, "physflow distill: reflow round %" PetscInt_FMT " of %" PetscInt_FMT ": teacher %s -> %s\n", r, rounds, teacher, outr));
    PetscCall(EnsurePairs(comm, teacher, pr, &ps));
    PetscCall(PetscOptionsSetValue(NULL, "-model", teacher));
    PetscCall(PetscOptionsSetValue(NULL, "-data", pr));
    PetscCall(PetscOptionsSetValue(NULL, "-o", outr));
    PetscCall(PFCLITrainRun(comm, &spec));
    if (spec.interrupted) {
      PetscCall(PetscPrintf(comm, "physflow distill: interrupted in round %" PetscInt_FMT "; its checkpoint is %s (continue with the same command and -resume %s)\n", r, outr, outr));
      break;
    }
    PetscCall(PetscOptionsClearValue(NULL, "-resume"));
    PetscCall(PetscStrncpy(teacher, outr, sizeof(teacher)));
    PetscCall(PetscPrintf(comm, "physflow distill: student %s (sample it with -sampler euler -sampler_steps %" PetscInt_FMT ", its recorded default)\n", outr, student_steps));
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}
