"""``edgeperf-bench`` (``make bench``): the default leaderboard.

Sweeps every shipped submission on every embedded workload and scores the
sweep (:mod:`edgeperf.scoring.bench`); writes ``<output_dir>/leaderboard.md``
and the figures, and prints the leaderboard.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from typing import Sequence

from absl import flags

from edgeperf.harness import sweep
from edgeperf.harness.cli import flagparse
from edgeperf.scoring import bench

PROG = "edgeperf-bench"


def _define(fv: flags.FlagValues) -> None:
  flags.DEFINE_string("output_dir", "results", "Where leaderboard.md and the "
                      "PNGs go.", flag_values=fv)
  flags.DEFINE_string("sweep_dir", None, "Sweep directory (default: "
                      "<output_dir>/bench_sweep; reused to resume).",
                      flag_values=fv)
  flags.DEFINE_list("workload_max_steps", [
      f"{w}={n}" for w, n in bench.DEFAULT_PLAN.items()], "Workloads and "
                    "their step budgets.", flag_values=fv)
  flags.DEFINE_list("submissions", None, "Submissions (default: all "
                    "shipped).", flag_values=fv)
  flags.DEFINE_integer("num_trials", bench.DEFAULT_NUM_TRIALS,
                       "Trials per study.", flag_values=fv)
  flags.DEFINE_integer("num_studies", bench.DEFAULT_NUM_STUDIES, "Studies.",
                       flag_values=fv)
  flags.DEFINE_integer("seed", 0, "Sweep seed.", flag_values=fv)
  flags.DEFINE_integer("jobs", bench.DEFAULT_JOBS, "Trials run in parallel.",
                       flag_values=fv)
  flags.DEFINE_enum("targets", "bench", ["bench", "stored"], "Bench-horizon "
                    "targets from the constant trials, or the stored ones.",
                    flag_values=fv)
  flags.DEFINE_float("trial_timeout_s", 240.0, "Kill and record a trial "
                     "after this many seconds (0: never).", flag_values=fv)
  flags.DEFINE_bool("fresh", True, "Delete a previous bench sweep first "
                    "(--nofresh resumes an interrupted bench instead; its "
                    "finished trials are reused even if code changed).",
                    flag_values=fv)
  flags.DEFINE_bool("progress", True, "Progress bar.", flag_values=fv)


def main(argv: Sequence[str] | None = None) -> None:
  fv, _ = flagparse.parse(_define, argv, PROG)
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use("Agg")
  sweep_dir = fv.sweep_dir or os.path.join(fv.output_dir, "bench_sweep")
  start = time.perf_counter()
  try:
    plan = dict(sweep.parse_workload_max_steps(fv.workload_max_steps))
    if fv.fresh and os.path.exists(sweep_dir):
      shutil.rmtree(sweep_dir)
    text = bench.run_bench(
        output_dir=fv.output_dir, sweep_dir=sweep_dir, plan=plan,
        submissions=fv.submissions, num_trials=fv.num_trials,
        num_studies=fv.num_studies, seed=fv.seed, jobs=fv.jobs,
        target_source=fv.targets, trial_timeout_s=fv.trial_timeout_s or None,
        progress=fv.progress)
  except sweep.SweepError as e:
    flagparse.fail(PROG, f"{e} (drop --nofresh to start over)")
  print(text)
  print(f"wrote {os.path.join(fv.output_dir, 'leaderboard.md')} in "
        f"{time.perf_counter() - start:.0f} s", file=sys.stderr)


if __name__ == "__main__":
  main(sys.argv)
