"""The default leaderboard (``make bench``, ``edgeperf-bench``): sweep every
submission on every embedded workload under the external-tuning ruleset,
then score.

Plan (small enough for about 10 minutes on 2 cores; see ``DEFAULT_PLAN``):
1 study × 2 trials per submission (self-tuning ones: 1 run), per-workload
step budgets well below the workloads' own, trials two at a time.

Bench targets.  The stored targets (``workloads/targets.json``) are the best
constant-rate loss at the workload's ``step_hint``; at the bench's reduced
step budgets they are out of reach, so by default the bench scores against
targets set by the same procedure at the bench horizon, from the bench's
own reference trials (:func:`edgeperf.harness.targets.horizon_score`
restricted to the constant trials the sweep drew):

    target_w = min over the finished, non-diverged ``constant`` trials on w
               of the mean train objective of their last 5 steps.

``--targets=stored`` scores against the stored targets instead.  Each call
starts a fresh sweep (``--nofresh`` resumes an interrupted one).  Writes
``<output_dir>/leaderboard.md``, the PNG figures, ``bench_targets.json``,
and prints the leaderboard.
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
from typing import Mapping, Sequence

from edgeperf import _jsonio
from edgeperf.harness import rundir
from edgeperf.harness import sweep
from edgeperf.harness import targets
from edgeperf.scoring import leaderboard
from edgeperf.scoring import report
from edgeperf.submissions import loader

DEFAULT_PLAN = {
    # workload: max_steps (the workload's own step_hint is 200-400)
    "linreg_digits": 200,
    "mlp_mnist": 150,
    "cnn_digits": 60,
    "charlm_prose": 40,
}
DEFAULT_NUM_TRIALS = 2
DEFAULT_NUM_STUDIES = 1
DEFAULT_JOBS = 2
REFERENCE = "constant"


def bench_targets(sweep_dir: str, reference: str = REFERENCE,
                  last: int | None = None) -> dict[str, float]:
  """Targets at the bench horizon from the reference's trials (module doc).

  Returns:
    ``{workload label: target}`` for every workload where the reference has
    at least one finished, non-diverged trial with ``last`` steps (default:
    :data:`edgeperf.harness.targets.LAST_ITERATES`), scored by
    :func:`edgeperf.harness.targets.horizon_score`.
  """
  last = targets.LAST_ITERATES if last is None else last
  plan = _jsonio.read_json(os.path.join(sweep_dir, sweep.SWEEP_FILE))
  best: dict[str, float] = {}
  for trial in plan["trials"]:
    if trial["name"] != reference:
      continue
    folder = rundir.RunDir(os.path.join(sweep_dir, trial["run_dir"]))
    if not folder.is_final():
      continue
    steps = folder.table("steps")
    if folder.status()["status"] in ("error", "diverged") or steps is None:
      continue
    objective = steps["objective"].to_numpy(float)
    if len(objective) < last:
      continue
    value = targets.horizon_score(objective, last)
    if not math.isfinite(value):
      continue
    label = leaderboard.workload_label(folder.meta()["workload"])
    best[label] = min(best.get(label, math.inf), value)
  return best


def run_bench(*, output_dir: str, sweep_dir: str,
              plan: Mapping[str, int] = DEFAULT_PLAN,
              submissions: Sequence[str] | None = None,
              num_trials: int = DEFAULT_NUM_TRIALS,
              num_studies: int = DEFAULT_NUM_STUDIES, seed: int = 0,
              jobs: int = DEFAULT_JOBS, target_source: str = "bench",
              trial_timeout_s: float | None = 240.0,
              progress: bool = True) -> str:
  """Sweeps (resuming a previous bench sweep) and scores; returns markdown."""

  subs = tuple(submissions or loader.available())
  request = sweep.SweepRequest(
      workloads=tuple(plan), submissions=subs, num_trials=num_trials,
      num_studies=num_studies, seed=seed,
      workload_max_steps=tuple(plan.items()))
  start = time.perf_counter()
  outcomes = sweep.run_sweep(sweep_dir, request, jobs=jobs,
                             timeout_s=trial_timeout_s, progress=progress)
  sweep_s = time.perf_counter() - start
  print(sweep.summarize(outcomes), file=sys.stderr)
  target_map = None
  if target_source == "bench":
    target_map = bench_targets(sweep_dir)
    os.makedirs(output_dir, exist_ok=True)
    with open(os.path.join(output_dir, "bench_targets.json"), "w") as f:
      json.dump(target_map, f, indent=2, sort_keys=True)
  description = (
      f"Default bench: {len(subs)} submissions × {len(plan)} workloads, "
      f"external-tuning ruleset with {num_studies} study × {num_trials} "
      "trials (self-tuning: 1 run per study), step budgets "
      + ", ".join(f"{w} {n}" for w, n in plan.items())
      + f", {jobs} trials at a time (concurrent trials share the CPU: "
      "times are noisier than in a sequential sweep). "
      + ("Targets: the tuned constant rate's mean train objective over its "
         "last 5 steps at these budgets (bench_targets.json), not the stored "
         "step_hint targets." if target_source == "bench" else
         "Targets: the stored workload targets.")
      + f" Sweep wall time this call: {sweep_s:.0f} s.")
  return report.score_runs([sweep_dir], output_dir, metric="time",
                              title="edgeperf leaderboard (default bench)",
                              description=description, targets=target_map)
