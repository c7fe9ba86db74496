"""Numbers read off finished runs (:class:`~.experiments.RunTables`).

The paper's selection score is the mean train objective of the last 5
iterates (Roulet et al. 2024, App. C), ∞ for a run that diverged.
"""

from __future__ import annotations

import math
from typing import Any, Iterable, Mapping, NamedTuple

import numpy as np

from edgeperf.reproduce import experiments

Runs = Mapping[str, experiments.RunTables]


def objective(run: experiments.RunTables) -> np.ndarray:
  """Per-step train objective f(w_t) (full batch: the whole train set)."""
  return run.steps["objective"].to_numpy(float)


def learning_rates(run: experiments.RunTables) -> np.ndarray:
  """η_t per step."""
  return run.steps["learning_rate"].to_numpy(float)


def diverged(run: experiments.RunTables) -> bool:
  """The run stopped on a non-finite objective."""
  obj = objective(run)
  return run.status.get("status") == "diverged" or not np.all(
      np.isfinite(obj))


def last5(run: experiments.RunTables) -> float:
  """Mean train objective of the last 5 iterates; ∞ if the run diverged."""
  obj = objective(run)
  if diverged(run) or len(obj) == 0:
    return math.inf
  return float(np.mean(obj[-5:]))


def initial(run: experiments.RunTables) -> float:
  """f(w_0)."""
  return float(objective(run)[0])


def fails(run: experiments.RunTables) -> bool:
  """Diverged, or ended no lower than it started (no progress)."""
  return diverged(run) or last5(run) >= initial(run)


def loss_at(run: experiments.RunTables, step: int) -> float:
  """f(w_step); ∞ when the run did not get there."""
  obj = objective(run)
  return float(obj[step]) if step < len(obj) else math.inf


def final_train_objective(run: experiments.RunTables) -> float:
  """The full train objective at the last evaluation (the mini-batch
  score); ∞ if the run diverged."""
  ev = run.evals
  if diverged(run) or len(ev) == 0:
    return math.inf
  value = float(ev["train_objective"].to_numpy(float)[-1])
  return value if math.isfinite(value) else math.inf


def diagnostic(run: experiments.RunTables, column: str, *,
               after_start: bool = False) -> tuple[np.ndarray, np.ndarray]:
  """(steps, values) of a diagnostics column; ``after_start`` drops step 0
  (where RMSProp's ν is still ~0 and its preconditioned sharpness means
  nothing)."""
  d = run.diagnostics
  if len(d) == 0 or column not in d:
    return np.array([]), np.array([])
  steps, values = d["step"].to_numpy(float), d[column].to_numpy(float)
  if after_start:
    keep = steps > 0
    steps, values = steps[keep], values[keep]
  return steps, values


def second_half(steps: np.ndarray, values: np.ndarray,
                total: int) -> np.ndarray:
  """The values measured at steps ≥ total/2."""
  return values[steps >= total / 2]


def median(values: Iterable[float]) -> float:
  """Median of the finite values (NaN if none)."""
  v = np.asarray(list(values), float)
  v = v[np.isfinite(v)]
  return float(np.median(v)) if v.size else math.nan


class Tuned(NamedTuple):
  """The best of a grid of constant learning rates."""

  key: str  # its run
  score: float  # its last-5 loss
  interior: bool  # neither the smallest nor the largest rate of the grid


def tuned_constant(runs: Runs, keys: Iterable[str],
                   rates: Mapping[str, float]) -> Tuned:
  """The grid's best rate by last-5 loss, and whether it is interior (a
  best rate on the grid's edge means the grid, not the rate, was tuned)."""
  keys = list(keys)
  scores = {k: last5(runs[k]) for k in keys}
  best = min(keys, key=lambda k: scores[k])
  ordered = sorted(keys, key=lambda k: rates[k])
  return Tuned(best, scores[best], best not in (ordered[0], ordered[-1]))


def fmt(x: Any) -> str:
  """A number for a report: 4 significant digits, ∞ and NaN spelled."""
  if isinstance(x, (bool, np.bool_)):
    return "yes" if x else "no"
  if isinstance(x, (int, np.integer)):
    return str(int(x))
  if isinstance(x, (float, np.floating)):
    x = float(x)
    if math.isnan(x):
      return "n/a"
    if math.isinf(x):
      return "∞" if x > 0 else "−∞"
    return f"{x:.4g}"
  return str(x)
