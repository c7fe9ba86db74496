"""The default leaderboard (``make bench``): sweep every submission on every
embedded workload under the external-tuning ruleset, then score.

Plan (small enough for about 10 minutes on 2 cores; see ``DEFAULT_PLAN``):
1 study × 2 trials per submission (self-tuning ones: 1 run), per-workload
step budgets well below the workloads' own, trials two at a time.

Bench targets.  The stored targets (``workloads/targets.json``) are the best
constant-rate loss at the workload's ``step_hint``; at the bench's reduced
step budgets they are out of reach, so by default the bench scores against
targets set by the same procedure at the bench horizon, from the bench's
own reference trials (``harness/targets.py``'s rule restricted to the
constant trials the sweep drew):

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
import shutil
import sys
import time
from typing import Mapping, Sequence

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
  import pandas as pd  # pylint: disable=g-import-not-at-top

  from edgeperf.harness import records  # pylint: disable=g-import-not-at-top
  from edgeperf.harness import targets  # pylint: disable=g-import-not-at-top
  from edgeperf.scoring import leaderboard  # pylint: disable=g-import-not-at-top

  last = targets.LAST_ITERATES if last is None else last
  plan = records.read_json(os.path.join(sweep_dir, "sweep.json"))
  best: dict[str, float] = {}
  for trial in plan["trials"]:
    if trial["name"] != reference:
      continue
    run_dir = os.path.join(sweep_dir, trial["run_dir"])
    if not records.is_final(run_dir):
      continue
    status = records.read_json(os.path.join(run_dir, "status.json"))
    steps_path = os.path.join(run_dir, "steps.csv")
    if status["status"] in ("error", "diverged") or not os.path.exists(
        steps_path):
      continue
    objective = pd.read_csv(steps_path)["objective"].to_numpy(float)
    if len(objective) < last:
      continue
    value = targets.horizon_score(objective, last)
    if not math.isfinite(value):
      continue
    meta = records.read_json(os.path.join(run_dir, "meta.json"))
    label = leaderboard._workload_label(meta["workload"])  # pylint: disable=protected-access
    best[label] = min(best.get(label, math.inf), value)
  return best


def run_bench(*, output_dir: str, sweep_dir: str,
              plan: Mapping[str, int] = DEFAULT_PLAN,
              submissions: Sequence[str] | None = None,
              num_trials: int = DEFAULT_NUM_TRIALS,
              num_studies: int = DEFAULT_NUM_STUDIES, seed: int = 0,
              jobs: int = DEFAULT_JOBS, targets: str = "bench",
              trial_timeout_s: float | None = 240.0,
              progress: bool = True) -> str:
  """Sweeps (resuming a previous bench sweep) and scores; returns markdown."""
  from edgeperf.harness import sweep  # pylint: disable=g-import-not-at-top
  from edgeperf.scoring import cli_score  # pylint: disable=g-import-not-at-top
  from edgeperf.submissions import loader  # pylint: disable=g-import-not-at-top

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
  if targets == "bench":
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
         "step_hint targets." if targets == "bench" else
         "Targets: the stored workload targets.")
      + f" Sweep wall time this call: {sweep_s:.0f} s.")
  return cli_score.score_runs([sweep_dir], output_dir, metric="time",
                              title="edgeperf leaderboard (default bench)",
                              description=description, targets=target_map)


def main(argv: Sequence[str] | None = None) -> None:
  """Entry point (``make bench``); absl flags read only here."""
  from absl import flags  # pylint: disable=g-import-not-at-top
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use("Agg")

  from edgeperf.harness import cli_flags  # pylint: disable=g-import-not-at-top
  from edgeperf.harness import sweep  # pylint: disable=g-import-not-at-top

  fv = flags.FlagValues()
  flags.DEFINE_string("output_dir", "results", "Where leaderboard.md and the "
                      "PNGs go.", flag_values=fv)
  flags.DEFINE_string("sweep_dir", None, "Sweep directory (default: "
                      "<output_dir>/bench_sweep; reused to resume).",
                      flag_values=fv)
  flags.DEFINE_list("workload_max_steps", [
      f"{w}={n}" for w, n in DEFAULT_PLAN.items()], "Workloads and their step "
                    "budgets.", flag_values=fv)
  flags.DEFINE_list("submissions", None, "Submissions (default: all "
                    "shipped).", flag_values=fv)
  flags.DEFINE_integer("num_trials", DEFAULT_NUM_TRIALS, "Trials per study.",
                       flag_values=fv)
  flags.DEFINE_integer("num_studies", DEFAULT_NUM_STUDIES, "Studies.",
                       flag_values=fv)
  flags.DEFINE_integer("seed", 0, "Sweep seed.", flag_values=fv)
  flags.DEFINE_integer("jobs", DEFAULT_JOBS, "Trials run in parallel.",
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
  cli_flags.parse(fv, argv, "edgeperf-bench")
  try:
    plan = dict(sweep.parse_workload_max_steps(fv.workload_max_steps))
  except sweep.SweepError as e:
    sys.exit(f"leaderboard_bench: {e}")
  sweep_dir = fv.sweep_dir or os.path.join(fv.output_dir, "bench_sweep")
  if fv.fresh and os.path.exists(sweep_dir):
    shutil.rmtree(sweep_dir)
  start = time.perf_counter()
  try:
    text = run_bench(output_dir=fv.output_dir, sweep_dir=sweep_dir,
                     plan=plan, submissions=fv.submissions,
                     num_trials=fv.num_trials, num_studies=fv.num_studies,
                     seed=fv.seed, jobs=fv.jobs, targets=fv.targets,
                     trial_timeout_s=fv.trial_timeout_s or None,
                     progress=fv.progress)
  except sweep.SweepError as e:
    sys.exit(f"leaderboard_bench: {e} (drop --nofresh to start over)")
  print(text)
  print(f"wrote {os.path.join(fv.output_dir, 'leaderboard.md')} in "
        f"{time.perf_counter() - start:.0f} s", file=sys.stderr)


if __name__ == "__main__":
  main()
