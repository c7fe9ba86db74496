"""The same small sweep on the local and the Ray executor: per-trial results
(status, step the target was reached, final objective) must match; prints each executor's fixed cost per trial
(wall − submission − evaluation, median) and the sweep's wall time.

    python -m edgeperf.benchmarks.executors --workloads=linreg_digits \\
        --submissions=constant,cdat --num_trials=4 --max_steps=200
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time

from absl import flags

from edgeperf.harness.sweep import runs as sweep
from edgeperf.cli import flagparse
from edgeperf.harness import rundir

PROG = "executors"


def _define(fv: flags.FlagValues) -> None:
  flags.DEFINE_list("workloads", ["linreg_digits"], "Workloads.",
                    flag_values=fv)
  flags.DEFINE_list("submissions", ["constant", "cdat"], "Submissions.",
                    flag_values=fv)
  flags.DEFINE_integer("num_trials", 4, "Trials per study.", flag_values=fv)
  flags.DEFINE_integer("max_steps", 200, "Step budget per trial.",
                       flag_values=fv)
  flags.DEFINE_integer("jobs", 2, "Workers.", flag_values=fv)
  flags.DEFINE_string("ray_address", None, "Ray cluster (unset: local Ray).",
                      flag_values=fv)
  flags.DEFINE_string("work_dir", None, "Where the two sweeps go (default: "
                      "a temporary folder).", flag_values=fv)


def _result(run_dir: str) -> tuple:
  status = rundir.RunDir(run_dir).status() or {}
  return (status.get("status"), status.get("target_step"),
          status.get("final_objective"))


def main(argv=None) -> None:
  fv, _ = flagparse.parse(_define, argv, PROG)
  request = sweep.SweepRequest(
      workloads=tuple(fv.workloads), submissions=tuple(fv.submissions),
      num_trials=fv.num_trials, num_studies=1, seed=0,
      max_steps=fv.max_steps)
  work = fv.work_dir or tempfile.mkdtemp(prefix="executors-")
  steps, rows = {}, []
  for name in ("local", "ray"):
    sweep_dir = os.path.join(work, name)
    start = time.perf_counter()
    outcomes = sweep.run_sweep(sweep_dir, request, jobs=fv.jobs,
                               executor=name, ray_address=fv.ray_address,
                               progress=False)
    wall = time.perf_counter() - start
    costs = sweep.fixed_costs(outcomes)
    steps[name] = {o["id"]: _result(os.path.join(sweep_dir, o["run_dir"]))
                   for o in outcomes}
    rows.append((name, len(outcomes), statistics.median(costs), wall))
  print(f"{'executor':8} {'trials':>6} {'fixed cost/trial (median)':>26} "
        f"{'sweep wall':>11}")
  for name, n, cost, wall in rows:
    print(f"{name:8} {n:6d} {cost:25.2f}s {wall:10.1f}s")
  differ = [k for k in steps["local"] if steps["local"][k] != steps["ray"][k]]
  print(f"per trial (status, step the target was reached, final objective) "
        f"identical: {not differ} ({len(steps['local'])} trials)")
  print(f"sweeps in {work}")
  if differ:
    for k in differ:
      print(f"{PROG}: {k}: local {steps['local'][k]}, ray {steps['ray'][k]}",
            file=sys.stderr)
    sys.exit(1)


if __name__ == "__main__":
  main(sys.argv)
