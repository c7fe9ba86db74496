"""Fixed-seed curves of every shipped submission on every embedded workload:
recorded once, then checked, so that a change meant to keep behaviour (a
refactoring) can show it did.

Each curve: ``STEPS`` full-batch steps from seed ``SEED`` with the
hyperparameters of :data:`HPARAMS`, recording the per-step objective and
learning rate and the held-out objective at each evaluation.

Usage::

    python -m edgeperf.benchmarks.golden_curves --record   # rewrite
    python -m edgeperf.benchmarks.golden_curves            # check all
    python -m edgeperf.benchmarks.golden_curves --workloads=linreg_digits

Exit status 1 when a checked curve differs (the differences are printed).

The curves were recorded on one CPU; another CPU (other vector units, so
other float32 summation orders) gives the same curves up to roundoff, about
1e-7 relative per step.  Checks therefore allow :data:`RTOL`.  Polyak's
rule on ``linreg_digits`` is chaotic (η = f/‖g‖² with f* = 0 on a problem
whose minimum is 0.18: a roundoff difference grows about 2.5× a step from
step 5 on, to 10% by step 20), so :data:`COMPARED_STEPS` limits its check
to the steps before a roundoff difference can reach :data:`RTOL`.
"""

from __future__ import annotations

import os
import sys
from typing import Any, Sequence

from absl import flags
import numpy as np

from edgeperf import _jsonio
from edgeperf.harness import runner
from edgeperf.cli import flagparse
from edgeperf.submissions import loader
from edgeperf.workloads import registry

STEPS = 20
SEED = 3
EVAL_EVERY = 10
GOLDEN_FILE = os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(
        __file__))), "tests", "data", "golden_curves.json")
HPARAMS: dict[str, dict[str, Any]] = {
    "constant": {"learning_rate": 0.05},
    "cdat": {"sigma": 2.0, "beta": 0.0},
    "qg": {},
    "armijo": {"c": 1e-4, "delta": 0.0, "c_plus": 4.0, "c_minus": 0.8},
    "polyak": {"max_learning_rate": 1.0},
    "hypergradient": {"learning_rate": 0.05, "beta": 0.01},
    "exact_sharpness": {"sigma": 2.0, "every_k": 5},
    "warmup_schedule": {"peak_learning_rate": 0.1, "shape": "cosine",
                        "warmup_fraction": 0.1, "horizon_fraction": 1.0},
    "fractal_chebyshev": {"horizon": 16, "min_curvature_ratio": 0.01},
    "schedule_free": {"learning_rate": 0.05},
    "dog": {}, "prodigy": {}, "dadapt": {},
    # Recorded over GD; its search space now declares Adam only (its
    # division), so the recorded direction is named.
    "mechanic": {"base_optimizer": "gd"},
}
COLUMNS = ("objective", "learning_rate", "eval_objective")
RTOL = 1e-4
"""Relative tolerance of a check: float32 roundoff across CPUs (measured:
at most 5e-6 over the 20 steps of every non-chaotic curve)."""
COMPARED_STEPS: dict[str, dict[str, int]] = {
    "linreg_digits": {"polyak": 10}}
"""Curves compared on their first steps only (chaotic after them; see the
module docstring)."""


def compared_steps(workload_name: str, submission_name: str) -> int | None:
  """How many leading steps of a curve a check compares (None: all)."""
  return COMPARED_STEPS.get(workload_name, {}).get(submission_name)


def curve(workload_name: str, submission_name: str) -> dict[str, Any]:
  """One fixed-seed curve (see the module docstring)."""
  workload = registry.get(workload_name)
  sub = loader.load(submission_name)
  hparams = sub.resolve(HPARAMS[submission_name], num_steps=STEPS)
  result = runner.run(workload, sub.build(hparams), seed=SEED,
                      max_steps=STEPS, eval_every=EVAL_EVERY,
                      stop_at_target=False,
                      prepare_for_eval=sub.prepare_for_eval, progress=False)
  return {"hparams": HPARAMS[submission_name], "status": result.status,
          "objective": result.steps["objective"].tolist(),
          "learning_rate": result.steps["learning_rate"].tolist(),
          "eval_objective": result.evals["eval_objective"].tolist()}


def differences(recorded: dict[str, Any], now: dict[str, Any],
                rtol: float = RTOL, steps: int | None = None) -> list[str]:
  """What differs between two curves (empty: the same within ``rtol``),
  on their first ``steps`` steps (None: all)."""
  out = []
  for column in COLUMNS:
    a = np.asarray(recorded[column], np.float64)
    b = np.asarray(now[column], np.float64)
    if steps is not None:
      every = EVAL_EVERY if column == "eval_objective" else 1
      a, b = a[:-(-steps // every)], b[:-(-steps // every)]
    if a.shape != b.shape:
      out.append(f"{column}: {a.shape[0]} values recorded, {b.shape[0]} now")
    elif not np.allclose(a, b, rtol=rtol, atol=0.0, equal_nan=True):
      i = int(np.flatnonzero(~np.isclose(a, b, rtol=rtol, atol=0.0,
                                         equal_nan=True))[0])
      out.append(f"{column}[{i}]: recorded {a[i]!r}, now {b[i]!r}")
  return out


def _define(fv: flags.FlagValues) -> None:
  flags.DEFINE_bool("record", False, "Record the curves (rewrites the "
                    "file) instead of checking them.", flag_values=fv)
  flags.DEFINE_list("workloads", list(registry.EMBEDDED), "Workloads.",
                    flag_values=fv)
  flags.DEFINE_list("submissions", list(HPARAMS), "Submissions.",
                    flag_values=fv)
  flags.DEFINE_float("rtol", RTOL, "Relative tolerance of the check (0: "
                     "identical).", flag_values=fv)
  flags.DEFINE_string("file", GOLDEN_FILE, "The recorded curves.",
                      flag_values=fv)


def main(argv: Sequence[str] | None = None) -> None:
  fv, _ = flagparse.parse(_define, argv, "golden_curves")
  try:
    stored = _jsonio.read_json(fv.file)
  except FileNotFoundError:
    stored = {}
  failed = 0
  for workload_name in fv.workloads:
    for submission_name in fv.submissions:
      key = f"{workload_name}/{submission_name}"
      now = curve(workload_name, submission_name)
      if fv.record:
        stored[key] = now
        print(f"recorded {key}: {now['status']}", flush=True)
        continue
      if key not in stored:
        print(f"{key}: not recorded", flush=True)
        failed += 1
        continue
      diff = differences(stored[key], now, fv.rtol, compared_steps(
          workload_name, submission_name))
      failed += bool(diff)
      print(f"{key}: " + ("; ".join(diff) if diff else "identical"),
            flush=True)
  if fv.record:
    _jsonio.atomic_write_json(fv.file, stored)
  elif failed:
    flagparse.fail("golden_curves", f"{failed} curve(s) differ")


if __name__ == "__main__":
  main(sys.argv)
