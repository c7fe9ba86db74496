"""The edge controller against CDAT and the tuned constant (and the tuned
warm-up schedule), steps and time to target, on the embedded workloads.

For each workload: the controller's search space in the chosen division
(``--base``, default ``gd``) is run whole on ``--select_seed`` and its point
with the fewest steps to the stored target is kept (the protocol's
selection rule: ties by time; none reached: lowest final objective).  Then
the controller at that point, CDAT, the constant and the warm-up schedule at
their tuned points (``protocol/tuned_points.json``) run on every seed of
``--seeds``, each for at most ``--horizon`` × the workload's step hint,
stopping at the target.  Printed: per workload and tuner, the steps and the
submission time to target per seed and whether a run diverged; then the
issue-26 goal per division: the controller's time to target ≤ CDAT's and
≤ the constant's on at least 3 of the 4 workloads at every seed, and it
never diverges where CDAT does not.  Times come from a shared CPU: steps
are the comparison to trust.

    python -m edgeperf.benchmarks.edge_controller --seeds=0,1,2
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import sys
from typing import Any, Sequence

from absl import flags
import numpy as np

from edgeperf import _jsonio
from edgeperf.cli import flagparse
from edgeperf.harness import runner
from edgeperf.protocol import tuning
from edgeperf.submissions import loader
from edgeperf.workloads import registry

CONTROLLER = "edge_controller"
BASELINES = ("cdat", "constant", "warmup_schedule")
"""The tuned points the controller is compared with (CDAT and the
constant decide the goal; the schedule is shown beside them)."""
GOAL_WORKLOADS = 3
"""Issue 26: workloads (of the 4 embedded) where the controller must be at
least as fast as CDAT and the tuned constant, at every seed."""


def run_one(name: str, submission: str, hparams: dict[str, Any], seed: int,
            *, horizon: float) -> dict[str, Any]:
  """One run to the target (or ``horizon`` step hints, or divergence)."""
  workload = registry.get(name)
  workload = dataclasses.replace(workload, time_budget_s=math.inf)
  steps = int(round(horizon * workload.step_hint))
  tx = loader.load(submission).build(dict(hparams))
  result = runner.run(workload, tx, seed=seed, max_steps=steps,
                      stop_at_target=True, progress=False)
  objective = result.steps["objective"].to_numpy()
  return dict(
      workload=name, submission=submission, hparams=dict(hparams), seed=seed,
      status=result.status, steps_run=result.steps_run,
      reach=result.target_step, time_s=result.target_time_s,
      submission_time_s=round(result.submission_time_s, 3),
      diverged=result.status == "diverged" or not np.isfinite(
          objective).all(),
      final_objective=float(objective[-1]) if objective.size else math.nan)


def grid(base: str) -> list[dict[str, Any]]:
  """The controller's search-space points in division ``base``."""
  space = loader.load(CONTROLLER).search_space
  names = [h.name for h in space.hyperparameters]
  points = [dict(zip(names, values)) for values in itertools.product(
      *(h.values for h in space.hyperparameters))]
  return [p for p in points if p.get("base_optimizer", "gd") == base]


def _rank(row: dict[str, Any]) -> tuple:
  reached = row["reach"] is not None
  return ((0, row["reach"], row["time_s"]) if reached else
          (1, row["final_objective"] if math.isfinite(
              row["final_objective"]) else math.inf, 0.0))


def select(name: str, base: str, seed: int, *, horizon: float
           ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
  """The controller's best point on ``name`` (whole grid, one seed)."""
  rows = [run_one(name, CONTROLLER, p, seed, horizon=horizon)
          for p in grid(base)]
  for row in rows:
    print(f"  select {name} {row['hparams']}: reach {row['reach']}, "
          f"{row['status']}", flush=True)
  return min(rows, key=_rank)["hparams"], rows


def tuned(points: dict[str, Any], name: str, submission: str
          ) -> dict[str, Any] | None:
  entry = points.get(name, {}).get(submission)
  return None if entry is None else dict(entry["hparams"])


def _fmt(x: Any, digits: int = 3) -> str:
  return "—" if x is None else f"{x:.{digits}g}" if isinstance(
      x, float) else str(x)


def table(rows: list[dict[str, Any]]) -> str:
  """Markdown: per workload and tuner, steps and time to target per seed."""
  out = ["| workload | tuner | point | steps to target (per seed) | "
         "time to target s (per seed) | diverged |",
         "|---|---|---|---|---|---|"]
  keys = dict.fromkeys((r["workload"], r["submission"]) for r in rows)
  for workload, sub in keys:
    group = [r for r in rows if (r["workload"], r["submission"]) ==
             (workload, sub)]
    point = ", ".join(f"{k}={v}" for k, v in group[0]["hparams"].items()
                      if k not in ("eps", "estimator"))
    out.append(
        f"| {workload} | {sub} | {point} | "
        f"{', '.join(_fmt(r['reach']) for r in group)} | "
        f"{', '.join(_fmt(r['time_s']) for r in group)} | "
        f"{sum(r['diverged'] for r in group)}/{len(group)} |")
  return "\n".join(out)


def _no_worse(mine: dict[str, Any], other: dict[str, Any] | None,
              key: str) -> bool:
  if other is None or other[key] is None:
    return mine[key] is not None or other is None
  return mine[key] is not None and mine[key] <= other[key]


def goal(rows: list[dict[str, Any]], key: str = "time_s"
         ) -> dict[str, Any]:
  """Issue 26's goal on ``key`` (``time_s`` or ``reach``): per workload,
  whether the controller is no worse than CDAT and the constant at every
  seed, and whether it diverged where CDAT did not."""
  by = {(r["workload"], r["submission"], r["seed"]): r for r in rows}
  per_workload, diverged_alone = {}, []
  for workload in dict.fromkeys(r["workload"] for r in rows):
    ok = True
    for (w, sub, seed), mine in by.items():
      if (w, sub) != (workload, CONTROLLER):
        continue
      cdat = by.get((w, "cdat", seed))
      const = by.get((w, "constant", seed))
      ok = ok and _no_worse(mine, cdat, key) and _no_worse(mine, const, key)
      if mine["diverged"] and not (cdat and cdat["diverged"]):
        diverged_alone.append((w, seed))
    per_workload[workload] = ok
  wins = sum(per_workload.values())
  return dict(key=key, per_workload=per_workload, wins=wins,
              diverged_alone=diverged_alone,
              met=wins >= GOAL_WORKLOADS and not diverged_alone)


def goal_line(g: dict[str, Any]) -> str:
  what = "time" if g["key"] == "time_s" else "steps"
  per = ", ".join(f"{w} {'yes' if ok else 'no'}"
                  for w, ok in g["per_workload"].items())
  return (f"- {what} to target ≤ CDAT's and ≤ the constant's at every "
          f"seed: {per} ({g['wins']}/{len(g['per_workload'])}; goal ≥ "
          f"{GOAL_WORKLOADS}); diverged where CDAT did not: "
          f"{g['diverged_alone'] or 'never'} → goal "
          f"{'met' if g['met'] else 'not met'}")


def _define(fv: flags.FlagValues) -> None:
  flags.DEFINE_list("workloads", list(registry.EMBEDDED), "Workloads.",
                    flag_values=fv)
  flags.DEFINE_list("seeds", ["0", "1", "2"], "Seeds.", flag_values=fv)
  flags.DEFINE_integer("select_seed", 0, "Seed of the controller's grid.",
                       flag_values=fv)
  flags.DEFINE_string("base", "gd", "Division (base direction).",
                      flag_values=fv)
  flags.DEFINE_float("horizon", 2.0, "Steps per run, in step hints.",
                     flag_values=fv)
  flags.DEFINE_string("tuned_points", tuning.TUNED_FILE,
                      "Tuned points of the baselines.", flag_values=fv)
  flags.DEFINE_string("json", "", "Write the rows to this JSON file.",
                      flag_values=fv)


def main(argv: Sequence[str] | None = None) -> None:
  fv, _ = flagparse.parse(_define, argv, "edge_controller")
  if not grid(fv.base):
    flagparse.fail("edge_controller", f"the controller's search space has "
                   f"no point with base_optimizer {fv.base!r}")
  points = tuning.points_of(tuning.read(fv.tuned_points), fv.base)
  rows, selection = [], []
  for name in fv.workloads:
    best, tried = select(name, fv.base, fv.select_seed, horizon=fv.horizon)
    selection += tried
    entries = [(CONTROLLER, best)] + [
        (sub, tuned(points, name, sub)) for sub in BASELINES]
    for sub, hparams in entries:
      if hparams is None:
        print(f"  {name} {sub}: no tuned point, skipped", flush=True)
        continue
      if hparams.get("base_optimizer", "gd") != fv.base:
        continue
      for seed in fv.seeds:
        row = run_one(name, sub, hparams, int(seed), horizon=fv.horizon)
        rows.append(row)
        print(f"{name} {sub} seed {seed}: reach {row['reach']} "
              f"({_fmt(row['time_s'])} s), {row['status']}", flush=True)
      if fv.json:
        _jsonio.atomic_write_json(fv.json, dict(rows=rows,
                                                selection=selection))
  print(table(rows))
  for key in ("reach", "time_s"):
    print(goal_line(goal(rows, key)))


if __name__ == "__main__":
  main(sys.argv)
