"""Does amortised CDAT train?  Steps to target and final loss, every k.

For each embedded workload and seed, full-batch CDAT (σ = 2, β = 0, GD
direction; Roulet et al. 2024, Eq. 8) with the curvature refreshed every
step (k = 1, the paper's rule), every 10 and every 100 steps, and with the
free secant estimate only (one refresh at step 0), each for ``--horizon`` ×
the workload's step hint.  Prints, per workload and variant, the steps to
the stored target (the suite's reach rule: running mean of the last 5
objectives) for each seed, the final objective, the largest η, and whether
it diverged or blew up (a non-finite objective, or a final objective no
lower than the first); ``--json`` writes the rows.

    python -m edgeperf.benchmarks.amortised_cdat --seeds=0,1,2
"""

from __future__ import annotations

import dataclasses
import math
import sys
import time
from typing import Any, Sequence

from absl import flags
import numpy as np

from edgeperf import _jsonio
from edgeperf.harness import reach
from edgeperf.harness import runner
from edgeperf.cli import flagparse
from edgeperf.submissions import loader
from edgeperf.workloads import registry

VARIANTS: dict[str, dict[str, Any]] = {
    "k=1": dict(every_k=1),
    "k=10": dict(every_k=10),
    "k=100": dict(every_k=100),
    "secant": dict(estimator="secant"),
}


def measure(name: str, variant: str, seed: int, *, horizon: float,
            sigma: float = 2.0) -> dict[str, Any]:
  """One run; its steps to target, final objective and largest η."""
  workload = registry.get(name)
  steps = int(round(horizon * workload.step_hint))
  target = workload.target_train_loss
  workload = dataclasses.replace(workload, time_budget_s=math.inf)
  hparams = dict(sigma=sigma, **VARIANTS[variant])
  tx = loader.load("cdat").build(hparams)
  start = time.perf_counter()
  result = runner.run(workload, tx, seed=seed, max_steps=steps,
                      stop_at_target=False, progress=False)
  objective = result.steps["objective"].to_numpy()
  lrs = result.steps["learning_rate"].to_numpy()
  hit = reach.first_reach(objective, target, reach.FULL_BATCH_WINDOW)
  finite = np.isfinite(objective)
  return dict(
      workload=name, variant=variant, seed=seed, target=target,
      steps=steps, steps_run=result.steps_run, status=result.status,
      reach=None if hit is None else hit + 1,
      final_objective=float(objective[-1]) if objective.size else math.nan,
      max_learning_rate=float(np.nanmax(lrs)) if lrs.size else math.nan,
      diverged=bool(not finite.all()) or result.status == "diverged",
      # blew up: ended no lower than it started (finite, but lost)
      failed=bool(not finite.all()) or result.status == "diverged" or (
          objective.size > 0 and objective[-1] >= objective[0]),
      wall_s=round(time.perf_counter() - start, 1))


def table(rows: list[dict[str, Any]]) -> str:
  """Markdown: one line per workload and variant, seeds side by side."""
  out = ["| workload | variant | steps to target (per seed) | "
         "final loss (median) | max η | diverged or blew up |",
         "|---|---|---|---|---|---|"]
  keys = dict.fromkeys((r["workload"], r["variant"]) for r in rows)
  for workload, variant in keys:
    group = [r for r in rows
             if r["workload"] == workload and r["variant"] == variant]
    reaches = ", ".join("—" if r["reach"] is None else str(r["reach"])
                        for r in group)
    final = float(np.median([r["final_objective"] for r in group]))
    max_lr = max(r["max_learning_rate"] for r in group)
    diverged = sum(r.get("failed", r["diverged"]) for r in group)
    out.append(f"| {workload} | {variant} | {reaches} | {final:.4g} | "
               f"{max_lr:.3g} | {diverged}/{len(group)} |")
  return "\n".join(out)


GOAL_RATIO = 1.25
"""Issue 10's robustness goal: an amortised variant reaches the target
wherever k = 1 does, in at most this many times k = 1's steps, and never
fails where k = 1 does not."""


def against_reference(rows: list[dict[str, Any]], reference: str = "k=1"
                      ) -> list[dict[str, Any]]:
  """Per workload and variant (other than ``reference``): each seed's steps
  to target ÷ the reference's on the same seed, and whether the goal holds
  (:data:`GOAL_RATIO`) on every seed where the reference reached and did not
  fail."""
  ref = {(r["workload"], r["seed"]): r for r in rows
         if r["variant"] == reference}
  out = []
  keys = dict.fromkeys((r["workload"], r["variant"]) for r in rows
                       if r["variant"] != reference)
  for workload, variant in keys:
    ratios, ok = [], True
    for r in rows:
      if (r["workload"], r["variant"]) != (workload, variant):
        continue
      base = ref.get((workload, r["seed"]))
      if base is None:
        continue
      failed = r.get("failed", r["diverged"])
      if failed and not base.get("failed", base["diverged"]):
        ok = False
      if base["reach"] is None:
        ratios.append(None)
        continue
      ratio = math.inf if r["reach"] is None else r["reach"] / base["reach"]
      ratios.append(ratio)
      ok = ok and ratio <= GOAL_RATIO
    out.append(dict(workload=workload, variant=variant, ratios=ratios,
                    meets_goal=ok))
  return out


def goal_lines(rows: list[dict[str, Any]]) -> str:
  """One line per workload and variant: the per-seed ratios to k = 1's
  steps ("—": k = 1 did not reach; "∞": the variant did not) and the
  verdict against the goal."""
  lines = []
  for g in against_reference(rows):
    shown = ", ".join("—" if x is None else "∞" if math.isinf(x)
                      else f"{x:.2f}" for x in g["ratios"])
    verdict = "meets" if g["meets_goal"] else "misses"
    lines.append(f"- {g['workload']} {g['variant']}: steps ÷ k=1's "
                 f"{shown}: {verdict} the goal (≤ {GOAL_RATIO:g}×, no "
                 "failure k = 1 does not have)")
  return "\n".join(lines)


def _define(fv: flags.FlagValues) -> None:
  flags.DEFINE_list("workloads", list(registry.EMBEDDED), "Workloads.",
                    flag_values=fv)
  flags.DEFINE_list("variants", list(VARIANTS), "Variants.", flag_values=fv)
  flags.DEFINE_list("seeds", ["0", "1", "2"], "Seeds.", flag_values=fv)
  flags.DEFINE_float("horizon", 2.0, "Steps per run, in step hints.",
                     flag_values=fv)
  flags.DEFINE_string("json", "", "Write the rows to this JSON file.",
                      flag_values=fv)


def main(argv: Sequence[str] | None = None) -> None:
  fv, _ = flagparse.parse(_define, argv, "amortised_cdat")
  for variant in fv.variants:
    if variant not in VARIANTS:
      flagparse.fail("amortised_cdat", f"unknown variant {variant!r}: must "
                     f"be one of {', '.join(VARIANTS)}")
  rows = []
  for name in fv.workloads:
    for variant in fv.variants:
      for seed in fv.seeds:
        row = measure(name, variant, int(seed), horizon=fv.horizon)
        rows.append(row)
        print(f"{name} {variant} seed {seed}: reach {row['reach']}, final "
              f"{row['final_objective']:.4g}, max η "
              f"{row['max_learning_rate']:.3g}, {row['status']} "
              f"({row['wall_s']} s)", flush=True)
        if fv.json:
          _jsonio.atomic_write_json(fv.json, rows)
  print(table(rows))
  if "k=1" in fv.variants:
    print(goal_lines(rows))


if __name__ == "__main__":
  main(sys.argv)
