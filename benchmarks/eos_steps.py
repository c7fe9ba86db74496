"""Where each workload reaches the edge of stability: the step hint's floor.

For each embedded workload, full-batch GD at the best constant rate of the
stored targets (``workloads/targets.json``), with the sharpness λ_max
measured every ``--diag_every`` steps (Lanczos), prints the first
measured step where η·λ_max ≥ ``--edge`` (default 1.9, i.e. ≈ 2).  A
workload's step hint should be at least that step (WORKSPACE.md, "Step
hints"); "never" means the run did not reach the edge within ``--steps``.

    python -m edgeperf.benchmarks.eos_steps --workloads=mlp_mnist
"""

from __future__ import annotations

import dataclasses
import math
import sys
from typing import Sequence

from absl import flags
import numpy as np

from edgeperf.harness import runner
from edgeperf.cli import flagparse
from edgeperf.submissions import loader
from edgeperf.workloads import registry


def edge_step(name: str, *, steps: int, diag_every: int, edge: float,
              learning_rate: float | None = None, size: str = "small"
              ) -> dict[str, float]:
  """The first diagnostic step with η·λ_max ≥ ``edge`` (NaN if never)."""
  workload = registry.get(name, size=size)
  lr = learning_rate or workload.target_info["best_learning_rate"]
  workload = dataclasses.replace(workload, target_train_loss=None,
                                 time_budget_s=math.inf)
  tx = loader.load("constant").build({"learning_rate": lr})
  result = runner.run(workload, tx, max_steps=steps, eval_every=diag_every,
                      diag_every=diag_every, stop_at_target=False,
                      progress=False)
  diag = result.diagnostics
  hit = np.flatnonzero(diag["eta_sharpness"].to_numpy() >= edge)
  return {"learning_rate": lr,
          "edge_step": float(diag["step"].iloc[hit[0]]) if hit.size else
                       math.nan,
          "first_eta_lambda": float(diag["eta_sharpness"].iloc[0]),
          "max_eta_lambda": float(diag["eta_sharpness"].max()),
          "steps_run": result.steps_run}


def _define(fv: flags.FlagValues) -> None:
  flags.DEFINE_list("workloads", list(registry.EMBEDDED), "Workloads.",
                    flag_values=fv)
  flags.DEFINE_integer("steps", 1500, "Most steps per run.", flag_values=fv)
  flags.DEFINE_integer("diag_every", 25, "Steps between sharpness "
                       "measurements.", flag_values=fv)
  flags.DEFINE_float("edge", 1.9, "η·λ_max that counts as the edge.",
                     flag_values=fv)


def main(argv: Sequence[str] | None = None) -> None:
  fv, _ = flagparse.parse(_define, argv, "eos_steps")
  print("| workload | best constant η | η·λ_max at step 0 | first step with "
        f"η·λ_max ≥ {fv.edge:g} | max η·λ_max | steps run |")
  print("|---|---|---|---|---|---|")
  for name in fv.workloads:
    r = edge_step(name, steps=fv.steps, diag_every=fv.diag_every,
                  edge=fv.edge)
    at = "never" if math.isnan(r["edge_step"]) else f"{r['edge_step']:.0f}"
    print(f"| {name} | {r['learning_rate']:g} | "
          f"{r['first_eta_lambda']:.2f} | {at} | {r['max_eta_lambda']:.2f} | "
          f"{r['steps_run']} |", flush=True)


if __name__ == "__main__":
  main(sys.argv)
