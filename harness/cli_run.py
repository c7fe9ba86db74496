"""``edgeperf-run``: one submission on one workload, recorded in a run folder.

Example::

    edgeperf-run --workload=mlp_mnist --submission=constant \\
        --hparams='{"learning_rate": 0.1}' --seed=0 --output_dir=runs/demo

Exit status: 0 for a recorded outcome (target_reached, budget_exhausted,
completed, diverged), 1 for an error (recorded in status.json when the run
folder could be created), 2 for bad flags.
"""

from __future__ import annotations

import json
import os
import sys
import traceback
from typing import Any

from absl import app
from absl import flags

_WORKLOAD = flags.DEFINE_string("workload", None, "Workload name.")
_SUBMISSION = flags.DEFINE_string(
    "submission", None, "Submission name (e.g. constant) or path to a folder.")
_HPARAMS = flags.DEFINE_string(
    "hparams", "{}", "Hyperparameters: a JSON object, or @path/to/file.json.")
_SEED = flags.DEFINE_integer("seed", 0, "Seed of initialisation and batches.")
_OUTPUT_DIR = flags.DEFINE_string("output_dir", None, "Run folder to write.")
_SIZE = flags.DEFINE_string("size", "small", "Workload preset size.")
_BATCH_SIZE = flags.DEFINE_integer(
    "batch_size", None, "Mini-batch size (default: full batch).")
_DATA_DIR = flags.DEFINE_string("data_dir", None, "TFDS data directory.")
_MAX_STEPS = flags.DEFINE_integer(
    "max_steps", None, "Step budget (default: the workload's).")
_EVAL_EVERY = flags.DEFINE_integer(
    "eval_every", None, "Steps between evaluations (default: workload's).")
_DIAG_EVERY = flags.DEFINE_integer(
    "diag_every", 0, "Curvature diagnostics every N steps (0: off).")
_CHUNK_MODE = flags.DEFINE_enum(
    "chunk_mode", None, ["scan", "scan_unrolled", "loop"],
    "How steps are chained between evaluations (default: workload's).")
_NO_STOP = flags.DEFINE_bool(
    "run_past_target", False, "Keep training after the target is reached.")
_PROGRESS = flags.DEFINE_bool("progress", True, "Show a progress bar.")


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
    raise ValueError(f"{source}: expected a JSON object, got {value!r}")
  return value


def main(argv: list[str]) -> int:
  del argv
  # Imports here so `--help` is fast and nothing runs at import time.
  from edgeperf import workloads  # pylint: disable=g-import-not-at-top
  from edgeperf.harness import runner  # pylint: disable=g-import-not-at-top
  from edgeperf.submissions import loader  # pylint: disable=g-import-not-at-top

  missing = [n for n, f in (("--workload", _WORKLOAD),
                            ("--submission", _SUBMISSION),
                            ("--output_dir", _OUTPUT_DIR)) if f.value is None]
  if missing:
    print(f"edgeperf-run: missing required flag(s) {missing}", file=sys.stderr)
    return 2
  try:
    hparams = parse_hparams(_HPARAMS.value)
    submission = loader.load(_SUBMISSION.value)
    workload = workloads.get(_WORKLOAD.value, size=_SIZE.value,
                             batch_size=_BATCH_SIZE.value,
                             data_dir=_DATA_DIR.value)
    hparams = submission.resolve(
        hparams, num_steps=_MAX_STEPS.value or workload.step_budget)
    tx = submission.build(hparams)
  except Exception as e:  # pylint: disable=broad-except  # user code runs here
    if not isinstance(e, (ValueError, OSError)):
      traceback.print_exc()
    print(f"edgeperf-run: {e}", file=sys.stderr)
    if not os.path.exists(os.path.join(_OUTPUT_DIR.value, "status.json")):
      _record_setup_error(_OUTPUT_DIR.value, e)
    return 1
  try:
    result = runner.run(
        workload, tx, seed=_SEED.value, run_dir=_OUTPUT_DIR.value,
        hparams=hparams,
        submission={"name": submission.name, "path": submission.path},
        max_steps=_MAX_STEPS.value, eval_every=_EVAL_EVERY.value,
        chunk_mode=_CHUNK_MODE.value, diag_every=_DIAG_EVERY.value,
        stop_at_target=not _NO_STOP.value, progress=_PROGRESS.value)
  except Exception as e:  # pylint: disable=broad-except
    print(f"edgeperf-run: run failed: {type(e).__name__}: {e}",
          file=sys.stderr)
    return 1
  summary = result.summary()
  print(json.dumps({k: summary[k] for k in (
      "status", "steps_run", "target_step", "target_time_s",
      "submission_time_s", "compile_time_s", "final_objective")}))
  return 0


def _record_setup_error(run_dir: str, error: Exception) -> None:
  """Writes an ``error`` status for a run that could not even start."""
  from edgeperf.harness import records  # pylint: disable=g-import-not-at-top
  try:
    os.makedirs(run_dir, exist_ok=True)
    records.atomic_write_json(os.path.join(run_dir, "status.json"), {
        "status": "error", "message": f"{type(error).__name__}: {error}",
        "steps_run": 0})
  except OSError:
    pass


def run() -> None:
  """Console-script entry point."""
  app.run(main)


if __name__ == "__main__":
  run()
