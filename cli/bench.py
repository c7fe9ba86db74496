"""``edgeperf-bench`` (``make bench``): the default leaderboard.

Re-times every shipped submission at its tuned point
(``protocol/tuned_points.json``) on every embedded workload against the
stored targets, in each division (base direction: ``gd`` and ``adam`` by
default) the submission declares, and scores each division apart
(:mod:`edgeperf.protocol.bench`); writes
``<output_dir>/leaderboard.md`` and the figures, and prints the leaderboard.
"""

from __future__ import annotations

import os
import sys
import time
from typing import Sequence

from absl import flags

from edgeperf.harness.sweep import runs as sweep
from edgeperf.cli import flagparse
from edgeperf.protocol import bench
from edgeperf.protocol import divisions
from edgeperf.scoring import leaderboard
from edgeperf.protocol import tuning
from edgeperf.workloads import registry

PROG = "edgeperf-bench"


def _define(fv: flags.FlagValues) -> None:
  flags.DEFINE_string("output_dir", "results", "Where leaderboard.md and the "
                      "PNGs go.", flag_values=fv)
  flags.DEFINE_string("sweep_dir", None, "Sweep directory (default: "
                      "<output_dir>/bench_sweep; reused to resume).",
                      flag_values=fv)
  flags.DEFINE_list("workloads", list(registry.EMBEDDED), "Workloads.",
                    flag_values=fv)
  flags.DEFINE_list("submissions", None, "Submissions (default: all "
                    "shipped).", flag_values=fv)
  flags.DEFINE_list("divisions", list(divisions.DEFAULT), "Divisions (base "
                    f"directions) among {list(divisions.DIRECTIONS)}.",
                    flag_values=fv)
  flags.DEFINE_string("tuned_points", tuning.TUNED_FILE, "The tuned-points "
                      "file (make tune).", flag_values=fv)
  flags.DEFINE_float("budget_factor", bench.DEFAULT_BUDGET_FACTOR, "Step "
                     "budget in step hints (≥ 1).", flag_values=fv)
  flags.DEFINE_integer("top", bench.DEFAULT_TOP, "How many leading "
                       "entries of each division are repeated.",
                       flag_values=fv)
  flags.DEFINE_integer("repeats", bench.DEFAULT_REPEATS, "Runs of each "
                       "leading submission (seeds 0..repeats-1).",
                       flag_values=fv)
  flags.DEFINE_integer("jobs", bench.DEFAULT_JOBS, "Workers, each on its own "
                       "cores.", flag_values=fv)
  flags.DEFINE_float("trial_timeout_s", 300.0, "Kill and record a trial "
                     "after this many seconds (0: never).", flag_values=fv)
  flags.DEFINE_bool("fresh", True, "Delete a previous bench sweep first, "
                    "only one the bench made (a folder marked "
                    f"{bench.BENCH_MARK}; any other existing --sweep_dir is "
                    "refused) "
                    "(--nofresh resumes an interrupted bench instead; its "
                    "finished trials are reused even if code changed).",
                    flag_values=fv)
  flags.DEFINE_bool("progress", True, "Progress bar.", flag_values=fv)


def main(argv: Sequence[str] | None = None) -> None:
  fv, _ = flagparse.parse(_define, argv, PROG)
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use("Agg")
  sweep_dir = fv.sweep_dir or os.path.join(fv.output_dir, "bench_sweep")
  if fv.budget_factor < 1:
    flagparse.fail(PROG, f"--budget_factor must be ≥ 1 (budgets at least the "
                   f"step hint), got {fv.budget_factor}", 2)
  start = time.perf_counter()
  try:
    text = bench.run_bench(
        output_dir=fv.output_dir, sweep_dir=sweep_dir,
        workloads=fv.workloads, submissions=fv.submissions,
        divisions=fv.divisions, tuned_path=fv.tuned_points, budget_factor=fv.budget_factor,
        top=fv.top, repeats=fv.repeats, jobs=fv.jobs,
        trial_timeout_s=fv.trial_timeout_s or None, progress=fv.progress,
        fresh=fv.fresh)
  except sweep.SweepError as e:
    flagparse.fail(PROG, f"{e} (drop --nofresh to start over)")
  except (tuning.TunedPointsError, bench.StaleTargetsError,
          leaderboard.HardwareMismatchError, ValueError) as e:
    flagparse.fail(PROG, str(e))
  print(text)
  print(f"wrote {os.path.join(fv.output_dir, 'leaderboard.md')} in "
        f"{time.perf_counter() - start:.0f} s", file=sys.stderr)


if __name__ == "__main__":
  main(sys.argv)
