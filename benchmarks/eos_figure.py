"""The edge-of-stability figure of ``mlp_mnist``: constant-η GD, full batch.

Runs the constant-learning-rate submission (GD direction) on the embedded
``mlp_mnist`` workload (small preset: 256-256 ReLU MLP, squared loss, 1024
real MNIST digits, full batch) for each step size, with curvature
diagnostics every ``--diag_every`` steps, then draws the four-panel figure
(:mod:`edgeperf.reproduce.curvature_figure`) to ``docs/eos-mlp-mnist.png``.
What it shows (Cohen et al. 2021): progressive
sharpening — λ_max rises while η·λ_max < 2 — until λ_max meets 2/η, after
which η·λ_max hovers around 2 (the edge of stability) while the loss keeps
falling.  The target and the time budget are lifted so that every run goes
the full ``--steps``.

Usage (from the repository root; ~10 min on 2 CPU cores)::

    python -m edgeperf.benchmarks.eos_figure [--etas=0.05,0.08] \
        [--steps=1500]
"""

from __future__ import annotations

import dataclasses
import math
import os
import shutil
import sys
import tempfile
from typing import Sequence

from absl import flags

from edgeperf.reproduce import curvature_figure as figures
from edgeperf.harness import rundir
from edgeperf.harness import runner
from edgeperf.cli import flagparse
from edgeperf.submissions import loader
from edgeperf.workloads import registry

DEFAULT_OUT = os.path.join("docs", "eos-mlp-mnist.png")


def run_one(eta: float, run_dir: str, *, steps: int, diag_every: int,
            seed: int, workload_name: str = "mlp_mnist",
            size: str = "small") -> str:
  """One constant-η GD run with diagnostics into ``run_dir`` (skipped when
  ``run_dir`` already holds a finished run)."""
  if rundir.RunDir(run_dir).is_final():
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


def _define(fv: flags.FlagValues) -> None:
  flags.DEFINE_list("etas", ["0.05", "0.08"], "Constant step sizes.",
                    flag_values=fv)
  flags.DEFINE_integer("steps", 1500, "Steps per run.", flag_values=fv)
  flags.DEFINE_integer("diag_every", 50, "Steps between diagnostics.",
                       flag_values=fv)
  flags.DEFINE_integer("seed", 0, "Seed.", flag_values=fv)
  flags.DEFINE_string("work_dir", None, "Where the runs go (default: a "
                      "temporary folder, deleted after plotting); finished "
                      "runs found there are reused.", flag_values=fv)
  flags.DEFINE_string("out", DEFAULT_OUT, "PNG path.", flag_values=fv)


def main(argv: Sequence[str] | None = None) -> None:
  fv, _ = flagparse.parse(_define, argv, "eos_figure")
  try:
    etas = [float(x) for x in fv.etas]
  except ValueError:
    etas = []
  if not etas or any(not eta > 0 for eta in etas) or fv.steps < 1 or (
      fv.diag_every < 1):
    flagparse.fail("eos_figure", "etas must be numbers > 0, steps and "
                   "diag_every >= 1", 2)
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use("Agg")
  work_dir = fv.work_dir or tempfile.mkdtemp(prefix="eos-mlp-mnist-")
  try:
    run_dirs = [run_one(eta, os.path.join(work_dir, f"gd-eta{eta:g}"),
                        steps=fv.steps, diag_every=fv.diag_every,
                        seed=fv.seed) for eta in etas]
    figures.plot_runs(
        run_dirs, fv.out, labels=[f"GD η={eta:g}" for eta in etas],
        title="mlp_mnist (small), full-batch GD, constant η: progressive "
        "sharpening, then the edge of stability")
  finally:
    if fv.work_dir is None:
      shutil.rmtree(work_dir, ignore_errors=True)
  print(fv.out)


if __name__ == "__main__":
  main(sys.argv)
