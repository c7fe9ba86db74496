"""The edge-of-stability figure of ``mlp_mnist``: constant-η GD, full batch.

Runs the constant-learning-rate submission (GD direction) on the embedded
``mlp_mnist`` workload (small preset: 256-256 ReLU MLP, squared loss, 1024
real MNIST digits, full batch) for each step size, with curvature
diagnostics every ``--diag_every`` steps, then draws the four-panel figure
(:mod:`edgeperf.harness.plot_curvature`) to ``docs/eos-mlp-mnist.png``.
What it shows (Cohen et al. 2021; PAPER.md "Vocabulary"): progressive
sharpening — λ_max rises while η·λ_max < 2 — until λ_max meets 2/η, after
which η·λ_max hovers around 2 (the edge of stability) while the loss keeps
falling.  The target and the time budget are lifted so that every run goes
the full ``--steps``.

Usage (from the repository root; ~10 min on 2 CPU cores)::

    python -m edgeperf.harness.eos_figure [--etas 0.05,0.08] [--steps 1500]
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
import shutil
import tempfile
from typing import Sequence

from edgeperf.harness import plot_curvature
from edgeperf.harness import records
from edgeperf.harness import runner
from edgeperf.submissions import loader
from edgeperf.workloads import registry

DEFAULT_OUT = os.path.join("docs", "eos-mlp-mnist.png")


def run_one(eta: float, run_dir: str, *, steps: int, diag_every: int,
            seed: int, workload_name: str = "mlp_mnist",
            size: str = "small") -> str:
  """One constant-η GD run with diagnostics into ``run_dir`` (skipped when
  ``run_dir`` already holds a finished run)."""
  if records.is_final(run_dir):
    print(f"reusing finished run {run_dir}")
    return run_dir
  if os.path.isdir(run_dir):
    shutil.rmtree(run_dir)  # an unfinished run: start it again
  workload = registry.get(workload_name, size=size)
  workload = dataclasses.replace(workload, target_train_loss=None,
                                 time_budget_s=math.inf,
                                 step_budget=max(steps, workload.step_budget))
  hparams = {"learning_rate": eta, "base_optimizer": "gd"}
  tx = loader.load("constant").build(hparams)
  result = runner.run(workload, tx, seed=seed, run_dir=run_dir,
                      hparams=hparams,
                      submission={"name": "constant", "path": "constant"},
                      max_steps=steps, eval_every=diag_every,
                      diag_every=diag_every, stop_at_target=False)
  diag = result.diagnostics
  print(f"η={eta:g}: {result.status}, λ_max {diag['sharpness'].iloc[0]:.3g} "
        f"→ {diag['sharpness'].iloc[-1]:.3g} (2/η = {2 / eta:.3g}), "
        f"max η·λ_max {diag['eta_sharpness'].max():.3f}, final loss "
        f"{result.steps['objective'].iloc[-1]:.4g}")
  return run_dir


def main(argv: Sequence[str] | None = None) -> None:
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--etas", default="0.05,0.08",
                      help="comma-separated constant step sizes")
  parser.add_argument("--steps", type=int, default=1500)
  parser.add_argument("--diag_every", type=int, default=50)
  parser.add_argument("--seed", type=int, default=0)
  parser.add_argument("--work_dir", default=None,
                      help="where the runs go (default: a temporary folder, "
                      "deleted after plotting); finished runs found there "
                      "are reused")
  parser.add_argument("--out", default=DEFAULT_OUT, help="PNG path")
  args = parser.parse_args(argv)
  etas = [float(x) for x in args.etas.split(",")]
  if any(not eta > 0 for eta in etas) or args.steps < 1 or (
      args.diag_every < 1):
    parser.error("etas must be > 0, steps and diag_every >= 1")
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use("Agg")
  work_dir = args.work_dir or tempfile.mkdtemp(prefix="eos-mlp-mnist-")
  try:
    run_dirs = [run_one(eta, os.path.join(work_dir, f"gd-eta{eta:g}"),
                        steps=args.steps, diag_every=args.diag_every,
                        seed=args.seed) for eta in etas]
    plot_curvature.plot_runs(
        run_dirs, args.out, labels=[f"GD η={eta:g}" for eta in etas],
        title="mlp_mnist (small), full-batch GD, constant η: progressive "
        "sharpening, then the edge of stability")
  finally:
    if args.work_dir is None:
      shutil.rmtree(work_dir, ignore_errors=True)
  print(args.out)


if __name__ == "__main__":
  main()
