"""``edgeperf-sweep``: tune submissions on workloads under a fixed ruleset.

Example::

    edgeperf-sweep --sweep_dir=results/sweep --num_trials=5 --num_studies=3 \\
        --submissions=constant,cdat --workloads=mlp_mnist,cnn_digits

Rerun the same command to resume (see :mod:`edgeperf.harness.sweep.runs`).
"""

from __future__ import annotations

import os
import sys
from typing import Sequence

from absl import flags

from edgeperf.harness.sweep import sampling
from edgeperf.harness.sweep import runs as sweep
from edgeperf.cli import flagparse
from edgeperf.submissions import loader
from edgeperf.workloads import registry

PROG = "edgeperf-sweep"


def _define(fv: flags.FlagValues) -> None:
  flags.DEFINE_string("sweep_dir", None, "Sweep directory (created; rerun "
                      "the same command to resume).", flag_values=fv)
  flags.DEFINE_list("workloads", list(registry.EMBEDDED), "Workload names.",
                    flag_values=fv)
  flags.DEFINE_list("submissions", None, "Submission names or folder paths "
                    "(default: every shipped submission).", flag_values=fv)
  flags.DEFINE_integer("num_trials", 5, "Trials per study (external "
                       "ruleset).", flag_values=fv)
  flags.DEFINE_integer("num_studies", 3, "Studies, each with its own seed.",
                       flag_values=fv)
  flags.DEFINE_integer("seed", 0, "Sweep seed (search points and run "
                       "seeds).", flag_values=fv)
  flags.DEFINE_enum("sampler", "halton", list(sampling.METHODS),
                    "Quasi-random sequence, or grid.", flag_values=fv)
  flags.DEFINE_string("size", None, "Workload size preset.", flag_values=fv)
  flags.DEFINE_integer("batch_size", None, "Mini-batch size (default: the "
                       "workload's regime).", flag_values=fv)
  flags.DEFINE_integer("max_steps", None, "Step budget per trial (default: "
                       "the workload's).", flag_values=fv)
  flags.DEFINE_list("workload_max_steps", [], "Per-workload step budgets "
                    "overriding --max_steps, e.g. mlp_mnist=200,cnn_digits=100"
                    ".", flag_values=fv)
  flags.DEFINE_integer("eval_every", None, "Steps between evaluations, "
                       "≥ 1 (default: the workload's).",
                       flag_values=fv)
  flags.DEFINE_integer("jobs", 1, "Trials run in parallel (workers, each "
                       "on its own cores).", flag_values=fv)
  flagparse.define_executor(fv)
  flags.DEFINE_float("trial_timeout_s", 0.0, "Kill a trial after this many "
                     "seconds of wall time and record it failed (0: never).",
                     flag_values=fv)
  flags.DEFINE_bool("retry_errors", False, "Run again the trials that ended "
                    "in error (their old folders are moved aside to "
                    "<run_dir>.retried-<time>).", flag_values=fv)
  flags.DEFINE_bool("progress", True, "Show a progress bar over trials.",
                    flag_values=fv)


def main(argv: Sequence[str] | None = None) -> None:
  fv, _ = flagparse.parse(_define, argv, PROG)
  if not fv.sweep_dir:
    flagparse.fail(PROG, "--sweep_dir is required", 2)
  try:
    request = sweep.SweepRequest(
        workloads=tuple(fv.workloads),
        submissions=tuple(fv.submissions or loader.available()),
        num_trials=fv.num_trials, num_studies=fv.num_studies, seed=fv.seed,
        sampler=fv.sampler, size=fv.size, batch_size=fv.batch_size,
        max_steps=fv.max_steps, eval_every=fv.eval_every,
        workload_max_steps=sweep.parse_workload_max_steps(
            fv.workload_max_steps))
    outcomes = sweep.run_sweep(fv.sweep_dir, request, jobs=fv.jobs,
                               timeout_s=fv.trial_timeout_s or None,
                               progress=fv.progress,
                               executor=fv.executor,
                               ray_address=fv.ray_address,
                               retry_errors=fv.retry_errors)
  except (sweep.SweepError, ValueError) as e:
    flagparse.fail(PROG, str(e))
  except KeyboardInterrupt:
    flagparse.fail(PROG, "interrupted; run the same command again to resume",
                   130)
  print(sweep.summarize(outcomes))
  print(f"sweep dir: {os.path.abspath(fv.sweep_dir)}")


if __name__ == "__main__":
  main(sys.argv)
