"""``edgeperf-run``: one submission on one workload, recorded in a run folder.

Example::

    edgeperf-run --workload=mlp_mnist --submission=constant \\
        --hparams='{"learning_rate": 0.1}' --seed=0 --output_dir=runs/demo

Exit status: 0 for a recorded outcome (target_reached, budget_exhausted,
completed, diverged), 1 for an error (recorded in status.json when the run
folder could be created), 2 for bad flags, 128 + the signal's number when
SIGINT (130) or SIGTERM (143) stopped the run (recorded as ``interrupted``).

A mistake in the command (hyperparameters, workload, size, data) is one
line on stderr, no traceback; it is recorded as an ``error`` with 0 steps,
which the corrected command replaces.  A folder whose run cannot be read is
moved aside, untouched, with a line saying where.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import traceback
from typing import Any, Sequence

from absl import flags

from edgeperf import _checks
from edgeperf.cli import flagparse

PROG = "edgeperf-run"


def _define(fv: flags.FlagValues) -> None:
  flags.DEFINE_string("workload", None, "Workload name.", flag_values=fv)
  flags.DEFINE_string("submission", None, "Submission name (e.g. constant) "
                      "or path to a folder.", flag_values=fv)
  flags.DEFINE_string("hparams", "{}", "Hyperparameters: a JSON object, or "
                      "@path/to/file.json.", flag_values=fv)
  flags.DEFINE_integer("seed", 0, "Seed of initialisation and batches.",
                       flag_values=fv)
  flags.DEFINE_string("output_dir", None, "Run folder to write.",
                      flag_values=fv)
  flags.DEFINE_string("size", "small", "Workload preset size.",
                      flag_values=fv)
  flags.DEFINE_integer("batch_size", None, "Mini-batch size (default: full "
                       "batch).", flag_values=fv)
  flags.DEFINE_string("data_dir", None, "TFDS data directory.",
                      flag_values=fv)
  flags.DEFINE_integer("max_steps", None, "Step budget (default: the "
                       "workload's).", flag_values=fv)
  flags.DEFINE_integer("eval_every", None, "Steps between evaluations, "
                       "≥ 1 (default: the workload's; evaluations decide "
                       "time to target, so 0 is refused).", flag_values=fv)
  flags.DEFINE_integer("diag_every", 0, "Curvature diagnostics every N steps "
                       "(0: off).", flag_values=fv)
  flags.DEFINE_enum("chunk_mode", None, ["scan", "scan_unrolled", "loop"],
                    "How steps are chained between evaluations (default: "
                    "the workload's).", flag_values=fv)
  flags.DEFINE_bool("run_past_target", False, "Keep training after the "
                    "target is reached.", flag_values=fv)
  flags.DEFINE_bool("progress", True, "Show a progress bar.", flag_values=fv)
  flags.DEFINE_float("device_memory_gb", None, "Memory per device the run "
                     "may plan on, GiB (default: what the device has free); "
                     "a run that needs more is refused before it starts.",
                     lower_bound=0.0, flag_values=fv)


def parse_hparams(text: str) -> dict[str, Any]:
  """Parses ``--hparams``: a JSON object or ``@file.json``."""
  source = "--hparams"
  if text.startswith("@"):
    source = text[1:]
    with open(source) as f:
      text = f.read()
  try:
    value = json.loads(text)
  except json.JSONDecodeError as e:
    raise ValueError(f"{source}: not valid JSON ({e}); expected an object "
                     'such as {"learning_rate": 0.1}') from e
  if not isinstance(value, dict):
    raise ValueError(f"{source}: expected a JSON object, got {_checks.shown(value)}")
  return value


def main(argv: Sequence[str] | None = None) -> int:
  """Runs the command; returns the exit status."""
  fv, _ = flagparse.parse(_define, argv, PROG)
  missing = [f"--{n}" for n in ("workload", "submission", "output_dir")
             if fv[n].value is None]
  if missing:
    print(f"{PROG}: missing required flag(s) {missing}", file=sys.stderr)
    return 2
  if fv.eval_every is not None and fv.eval_every < 1:
    print(f"{PROG}: --eval_every must be an int >= 1 (steps between "
          f"evaluations; omit it for the workload's), got {fv.eval_every}",
          file=sys.stderr)
    return 2
  if os.path.exists(fv.output_dir) and not os.path.isdir(fv.output_dir):
    print(f"{PROG}: --output_dir {fv.output_dir}: a file, not a folder; give "
          "a folder for the run", file=sys.stderr)
    return 1
  # Imported here so that --help is fast.
  from edgeperf import workloads  # pylint: disable=g-import-not-at-top
  from edgeperf.harness import owned_steps  # pylint: disable=g-import-not-at-top
  from edgeperf.harness import rundir  # pylint: disable=g-import-not-at-top
  from edgeperf.harness import runner  # pylint: disable=g-import-not-at-top
  from edgeperf.submissions import loader  # pylint: disable=g-import-not-at-top
  from edgeperf.workloads import datasets  # pylint: disable=g-import-not-at-top

  flagparse.report_warnings(PROG)
  try:
    hparams = parse_hparams(fv.hparams)
    submission = loader.load(fv.submission)
    workload = workloads.get(fv.workload, size=fv.size,
                             batch_size=fv.batch_size, data_dir=fv.data_dir)
    hparams = submission.resolve(
        hparams, num_steps=fv.max_steps or workload.step_budget,
        unroll_loops=workload.unroll_inner_loops)
    spec = submission.spec(hparams)
    spec.build()  # a factory that fails does so here, as a setup error
  except Exception as e:  # pylint: disable=broad-except  # user code runs here
    if not isinstance(e, (ValueError, OSError,
                          datasets.DataUnavailableError)):
      traceback.print_exc()  # a bug in the submission: show where
    print(f"{PROG}: {e}", file=sys.stderr)
    _record_setup_error(rundir.RunDir(fv.output_dir), e)
    return 1
  try:
    result = owned_steps.run(
        workload, spec, seed=fv.seed, run_dir=fv.output_dir, hparams=hparams,
        submission={"name": submission.name, "path": submission.path},
        max_steps=fv.max_steps, eval_every=fv.eval_every,
        chunk_mode=fv.chunk_mode, diag_every=fv.diag_every,
        prepare_for_eval=submission.prepare_for_eval,
        stop_at_target=not fv.run_past_target, progress=fv.progress,
        exit_on_second_signal=True,
        memory_limit_bytes=(None if fv.device_memory_gb is None else
                            int(fv.device_memory_gb * 2**30)))
  except runner.RunInterrupted as e:
    print(f"{PROG}: {e}; recorded as 'interrupted' in "
          f"{rundir.RunDir(fv.output_dir).file(rundir.STATUS)}",
          file=sys.stderr)
    return 128 + e.signum
  except Exception as e:  # pylint: disable=broad-except
    print(f"{PROG}: run failed: {type(e).__name__}: {e}", file=sys.stderr)
    return 1
  summary = result.summary()
  print(json.dumps({k: summary[k] for k in (
      "status", "steps_run", "target_step", "target_time_s",
      "submission_time_s", "compile_time_s", "final_objective")}))
  return 0


def _record_setup_error(folder, error: Exception) -> None:
  """Writes an ``error`` status with 0 steps for a run that could not start.

  Only into a folder with no status yet or one holding such an error (the
  newest replaces it); never over a run, finished or not.  A sweep reads
  why its trial failed there.
  """
  from edgeperf.harness import rundir  # pylint: disable=g-import-not-at-top
  empty = (not os.path.exists(folder.file(rundir.STATUS))
           and folder.unreadable() is None)
  if not (empty or folder.is_replaceable()):
    return
  try:
    with folder.owned():
      folder.write_status({
          "status": rundir.ERROR, "steps_run": 0,
          "message": (f"{type(error).__name__}: {error} "
                      f"({rundir.REPLACEABLE_NOTE})")})
  except (OSError, rundir.RunDirError):
    pass


def run() -> None:
  """Console-script entry point."""
  try:
    sys.exit(main())
  except KeyboardInterrupt:
    print(f"{PROG}: interrupted by SIGINT", file=sys.stderr)
    sys.exit(128 + signal.SIGINT)


if __name__ == "__main__":
  run()
