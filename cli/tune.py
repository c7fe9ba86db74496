"""``edgeperf-tune`` (``make tune``): the external-tuning protocol for every
shipped submission in every division (base direction) it declares, on every
embedded workload, against that division's stored targets; writes each
entry's tuned point per workload, with its provenance, to
``protocol/tuned_points.json`` (:mod:`edgeperf.protocol.tuning`; the pairs
tuned replace their old points, the others are kept).  Long at the full
protocol: hours on 2 CPU cores.  Re-running the same command resumes the
tuning sweep.
"""

from __future__ import annotations

import os
import sys
from typing import Sequence

from absl import flags

from edgeperf.harness.sweep import runs as sweep
from edgeperf.cli import flagparse
from edgeperf.protocol import divisions
from edgeperf.protocol import tuning
from edgeperf.submissions import loader
from edgeperf.workloads import registry

PROG = "edgeperf-tune"


def _define(fv: flags.FlagValues) -> None:
  flags.DEFINE_string("sweep_dir", os.path.join("results", "tune_sweep"),
                      "The tuning sweep's folder (reused to resume).",
                      flag_values=fv)
  flags.DEFINE_list("workloads", list(registry.EMBEDDED), "Workloads.",
                    flag_values=fv)
  flags.DEFINE_list("submissions", None, "Submissions (default: all "
                    "shipped).", flag_values=fv)
  flags.DEFINE_integer("num_trials", 5, "Trials per study.", flag_values=fv)
  flags.DEFINE_integer("num_studies", 3, "Studies.", flag_values=fv)
  flags.DEFINE_integer("seed", 0, "Sweep seed.", flag_values=fv)
  flags.DEFINE_integer("grid_limit", 0, "A search space with at most this "
                       "many grid points runs its whole grid in each study "
                       "(0: num_trials × num_studies, AlgoPerf's budget).",
                       flag_values=fv)
  flags.DEFINE_list("divisions", list(divisions.DEFAULT), "Divisions (base "
                    f"directions) among {list(divisions.DIRECTIONS)}.",
                    flag_values=fv)
  flags.DEFINE_float("budget_factor", 0.0, "Step budgets of budget_factor × "
                     "each workload's step hint (the bench's: 2); 0: each "
                     "workload's full step budget.", flag_values=fv)
  flags.DEFINE_list("workload_max_steps", [], "workload=steps budgets "
                    "(win over --budget_factor).", flag_values=fv)
  flags.DEFINE_list("search_spaces", [], "submission=path replacements of "
                    "a submission's search_space.json (an opt-in space, "
                    "e.g. warmup_schedule=submissions/warmup_schedule/"
                    "search_space_shapes.json).", flag_values=fv)
  flags.DEFINE_integer("jobs", 2, "Workers, each on its own cores.",
                       flag_values=fv)
  flags.DEFINE_float("trial_timeout_s", 0.0, "Kill and record a trial after "
                     "this many seconds (0: never).", flag_values=fv)
  flags.DEFINE_string("output", tuning.TUNED_FILE, "The tuned-points file to "
                      "write.", flag_values=fv)
  flags.DEFINE_bool("progress", True, "Progress bar.", flag_values=fv)
  flagparse.define_executor(fv)


def main(argv: Sequence[str] | None = None) -> None:
  fv, _ = flagparse.parse(_define, argv, PROG)
  try:
    max_steps = dict(sweep.parse_workload_max_steps(fv.workload_max_steps))
    spaces = {}
    for item in fv.search_spaces:
      name, _, path = item.partition("=")
      if not name or not path:
        raise ValueError(f"--search_spaces entry {item!r}: expected "
                         "submission=path")
      spaces[name.strip()] = path.strip()
    result = tuning.run_tuning(
        fv.sweep_dir, workloads=fv.workloads,
        submissions=fv.submissions or loader.available(),
        divisions=fv.divisions, budget_factor=fv.budget_factor or None,
        search_spaces=spaces,
        num_trials=fv.num_trials, num_studies=fv.num_studies, seed=fv.seed,
        jobs=fv.jobs, workload_max_steps=max_steps,
        grid_limit=fv.grid_limit or None,
        timeout_s=fv.trial_timeout_s or None, path=fv.output,
        executor=fv.executor, ray_address=fv.ray_address,
        progress=fv.progress)
  except (sweep.SweepError, ValueError) as e:
    flagparse.fail(PROG, str(e))
  for division, tuned in result.items():
    for workload, subs in sorted(tuned["points"].items()):
      for sub, p in sorted(subs.items()):
        steps = p["steps_to_target"]
        print(f"{division} {workload} {sub}: {p['hparams']} — "
              + (f"target in {steps:.0f} steps" if p["reached"] else
                 f"not reached (final {p['final_objective']:.4g})"))
  print(f"wrote {fv.output}", file=sys.stderr)


if __name__ == "__main__":
  main(sys.argv)
