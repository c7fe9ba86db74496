"""Time-, steps- and cost-to-target of one trial, and the per-workload times.

Definitions (AlgoPerf's, with the train objective as the target metric):

* A trial reaches the target at the first row ``i`` of its steps table where
  the mean of the last 5 objectives is ≤ the target (the workload's
  ``target_train_loss``, itself a mean of 5 iterates) and every objective so
  far is finite — the runner's rule, :mod:`edgeperf.harness.reach`.  Its time-to-target is
  ``time_s_i``, the cumulative submission time at the end of that step; its
  steps-to-target is ``i + 1`` (steps executed up to and including it).  A
  trial that never reaches it, that diverges first (a non-finite objective
  earlier), or that ended in ``error`` or ``interrupted`` has time-, steps-
  and cost-to-target ∞.
* Mini-batch regimes: the per-step objective is a mini-batch estimate, so the
  target is read from the evaluations table's full ``train_objective``
  instead (the first evaluation ≤ target, at its ``time_s``; an evaluation
  at ``step`` k follows k executed steps, its steps-to-target), as the
  runner does.
* Cost-to-target (hardware independent): ``flops_to_target = n · F`` with
  ``F`` the compiled step's FLOPs from XLA's cost analysis (``step_flops``
  in meta.json; NaN when not static) and ``n`` the steps-to-target, and
  ``evals_to_target = n + Σ_{j<n} (value + grad + jvp + hvp extra evals)_j``
  — the harness's one value_and_grad per step plus what the tuner reported
  spending beyond it (:class:`edgeperf.submissions.api.TunerStats`: counters
  are per step).

Per workload (AlgoPerf's external-tuning ruleset): in each study the best
(smallest) trial time; the workload time is the median over studies, ∞
counting as larger than every finite time (``numpy.median`` semantics: an
even count averages the two middle values, so a pair with one ∞ is ∞).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from edgeperf.harness import reach
from edgeperf.harness import rundir

INF = math.inf


def trial_to_target(steps: pd.DataFrame | None, target: float | None, *,
                    status: str = "completed",
                    evals: pd.DataFrame | None = None,
                    mini_batch: bool = False,
                    step_flops: float | None = None,
                    window: int = reach.FULL_BATCH_WINDOW) -> dict[str, Any]:
  """Time, steps and cost to target of one trial (module docstring).

  Args:
    steps: the run's ``steps.csv`` (columns step, objective, time_s and the
      eval counters); None or empty when the run produced none.
    target: the workload's target train objective; None gives NaN results
      (no target to reach, the trial cannot be scored).
    status: the run's final status; ``error`` and ``interrupted`` give ∞.
    evals: the run's ``evals.csv`` (used for mini-batch regimes).
    mini_batch: read the target from ``evals.train_objective``.
    step_flops: FLOPs of one compiled step, or None.
    window: objectives averaged by the full-batch reach rule (the run's
      ``reach_window`` in meta.json; 1 for runs recorded before it).

  Returns:
    ``{"reached", "time_to_target", "steps_to_target", "flops_to_target",
    "evals_to_target"}`` (floats, ∞ when not reached).
  """
  nan = math.nan
  if target is None or (isinstance(target, float) and math.isnan(target)):
    return dict(reached=False, time_to_target=nan, steps_to_target=nan,
                flops_to_target=nan, evals_to_target=nan)
  never = dict(reached=False, time_to_target=INF, steps_to_target=INF,
               flops_to_target=INF, evals_to_target=INF)
  if status in rundir.STOPPED_STATUSES:
    return never
  trace, column = ((evals, "train_objective") if mini_batch else
                   (steps, "objective"))
  if trace is None or len(trace) == 0:
    return never
  i = reach.first_reach(trace[column].to_numpy(), float(target),
                        1 if mini_batch else window)
  if i is None:
    return never
  time_s = float(trace["time_s"].iloc[i])
  if mini_batch:
    # An evaluation at ``step`` k follows k executed steps (0 … k−1).
    done = int(evals["step"].iloc[i])
    rows = None if steps is None or len(steps) == 0 else steps[
        steps["step"] < done]
    n = done if rows is None else len(rows)
  else:
    n = i + 1
    rows = steps.iloc[:n]
  extra = 0.0
  if rows is not None:
    for col in ("value_evals", "grad_evals", "jvp_evals", "hvp_evals"):
      if col in rows:
        extra += float(np.nansum(rows[col].to_numpy(dtype=np.float64)))
  flops = (float(step_flops) * n if step_flops is not None
           and np.isfinite(float(step_flops)) else nan)
  return dict(reached=True, time_to_target=time_s, steps_to_target=float(n),
              flops_to_target=flops, evals_to_target=float(n) + extra)


def median_with_inf(values: Any) -> float:
  """``numpy.median`` with ∞ allowed (∞ sorts last; NaN values ignored).

  An empty input (or all NaN) gives NaN.
  """
  arr = np.asarray(list(values), dtype=np.float64)
  arr = arr[~np.isnan(arr)]
  if arr.size == 0:
    return math.nan
  return float(np.median(arr))


def best_per_study(trials: pd.DataFrame,
                   metric: str = "time_to_target") -> pd.DataFrame:
  """The best (smallest) ``metric`` per (workload, submission, study).

  Args:
    trials: one row per trial with columns workload, submission, study and
      ``metric`` (∞ for trials that did not reach the target).

  Returns:
    Columns workload, submission, study, ``metric`` and ``trial`` (the index
    label of the best row within ``trials``; ties go to the first trial in
    table order).
  """
  _require(trials, ("workload", "submission", "study", metric))
  rows = []
  for key, group in trials.groupby(["workload", "submission", "study"],
                                   sort=True):
    values = group[metric].to_numpy(dtype=np.float64)
    valid = ~np.isnan(values)
    if not valid.any():
      best, label = math.nan, None
    else:
      pos = int(np.argmin(np.where(valid, values, INF)))
      best, label = float(values[pos]), group.index[pos]
    rows.append(dict(workload=key[0], submission=key[1], study=key[2],
                     **{metric: best}, best_row=label))
  return pd.DataFrame(rows, columns=["workload", "submission", "study",
                                     metric, "best_row"])


def workload_times(trials: pd.DataFrame,
                   metric: str = "time_to_target") -> pd.DataFrame:
  """t_{s,w}: the median over studies of each study's best trial.

  Returns:
    A submissions × workloads DataFrame (index ``submission``, columns
    ``workload``), ∞ where the median study never reached the target, NaN
    where a submission has no trial on a workload.
  """
  best = best_per_study(trials, metric)
  medians = best.groupby(["submission", "workload"])[metric].apply(
      median_with_inf)
  table = medians.unstack("workload")
  table.columns.name = "workload"
  table.index.name = "submission"
  return table.astype(np.float64)


def _require(df: pd.DataFrame, columns: tuple[str, ...]) -> None:
  missing = [c for c in columns if c not in df.columns]
  if missing:
    raise ValueError(f"trials table lacks column(s) {missing}; has "
                     f"{list(df.columns)}")
