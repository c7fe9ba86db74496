"""Performance profiles, the benchmark score and speed-ups (AlgoPerf's maths).

Given t_{s,w}, the per-workload time (or cost) of submission s on workload w
(:func:`edgeperf.scoring.time_to_target.workload_times`; ∞ = target not
reached), following AlgoPerf (Dahl et al. 2023, §4.5, and its
``scoring/performance_profile.py``):

* τ cutoff: t_{s,w} > τ_max · min_s t_{s,w} counts as ∞ (not within τ_max
  of the fastest).
* Ratio r_{s,w} = t_{s,w} / min_s t_{s,w} ∈ [1, ∞]; a workload that no
  submission reached has r = ∞ for all (it still counts in the denominator).
* Performance profile ``ρ_s(τ) = |{w : r_{s,w} ≤ τ}| / |W|``, τ ∈ [1, τ_max].
* Benchmark score ``B_s = 1/(τ_max − 1) ∫_1^{τ_max} ρ_s(τ) dτ
  = 1/(|W| (τ_max − 1)) Σ_{w : r_{s,w} ≤ τ_max} (τ_max − r_{s,w})``,
  computed exactly here (ρ_s is a step function); AlgoPerf integrates it
  with the trapezoid rule on a grid of τ (:func:`score_trapezoid`, which
  tends to the exact value as the grid is refined).
* Speed-up against a reference submission ref: S_{s,w} = t_{ref,w} / t_{s,w}
  (> 1: s is faster); over workloads, the geometric mean
  exp(mean_w log S_{s,w}) over the workloads both reached (finite t), with
  the counts of workloads reached by only one of them reported beside it.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import pandas as pd

MIN_TAU = 1.0
MAX_TAU = 4.0


def _check(times: pd.DataFrame) -> pd.DataFrame:
  if not isinstance(times, pd.DataFrame):
    raise TypeError("times must be a submissions × workloads DataFrame, got "
                    f"{type(times).__name__}")
  values = times.astype(np.float64)
  if (values.to_numpy() <= 0).any():
    raise ValueError("times must be > 0 (∞ for not reached); got "
                     f"{values[values <= 0].stack().to_dict()}")
  return values


def ratios(times: pd.DataFrame, max_tau: float = MAX_TAU) -> pd.DataFrame:
  """r_{s,w} = t_{s,w} / min_s t_{s,w}, with ∞ beyond the τ_max cutoff.

  Args:
    times: submissions × workloads, ∞ for not reached; NaN (no trial) is
      treated as ∞.
    max_tau: the cutoff τ_max (4 in AlgoPerf).

  Returns:
    Same shape, values in [1, max_tau] ∪ {∞}.
  """
  values = _check(times).fillna(math.inf)
  best = values.min(axis=0)
  with np.errstate(invalid="ignore"):
    r = values / best  # ∞/∞ = NaN: nobody reached that workload
  r = r.fillna(math.inf)
  r = r.where(r <= max_tau, math.inf)
  return r


def profile(times: pd.DataFrame, taus: Sequence[float] | None = None, *,
            max_tau: float = MAX_TAU, num_points: int = 301) -> pd.DataFrame:
  """ρ_s(τ) on a grid of τ (rows: submissions, columns: τ).

  Args:
    times: submissions × workloads (see :func:`ratios`).
    taus: the grid; default ``linspace(1, max_tau, num_points)``.
  """
  r = ratios(times, max_tau)
  if taus is None:
    taus = np.linspace(MIN_TAU, max_tau, num_points)
  taus = np.asarray(taus, dtype=np.float64)
  values = r.to_numpy(dtype=np.float64)
  rho = (values[:, :, None] <= taus[None, None, :]).sum(axis=1) / max(
      values.shape[1], 1)
  out = pd.DataFrame(rho, index=r.index, columns=pd.Index(taus, name="tau"))
  return out


def score(times: pd.DataFrame, max_tau: float = MAX_TAU) -> pd.Series:
  """B_s, the exact area under ρ_s over [1, τ_max] divided by τ_max − 1."""
  r = ratios(times, max_tau).to_numpy()
  n = r.shape[1]
  if n == 0:
    raise ValueError("no workloads to score")
  contrib = np.where(np.isfinite(r), max_tau - r, 0.0)
  return pd.Series(contrib.sum(axis=1) / (n * (max_tau - MIN_TAU)),
                   index=times.index, name="score")


def score_trapezoid(times: pd.DataFrame, max_tau: float = MAX_TAU,
                    num_points: int = 100) -> pd.Series:
  """AlgoPerf's score: trapezoid rule over ρ_s on ``num_points`` τ values."""
  prof = profile(times, max_tau=max_tau, num_points=num_points)
  taus = prof.columns.to_numpy(dtype=np.float64)
  area = np.trapezoid(prof.to_numpy(), x=taus, axis=1)
  return pd.Series(area / (taus.max() - taus.min()), index=times.index,
                   name="score")


def speedups(times: pd.DataFrame, reference: str) -> pd.DataFrame:
  """S_{s,w} = t_{ref,w} / t_{s,w} per submission and workload.

  ∞/∞ is NaN (neither reached), t_ref finite with t_s = ∞ gives 0, t_ref = ∞
  with t_s finite gives ∞.

  Raises:
    KeyError: ``reference`` is not a row of ``times``.
  """
  values = _check(times)
  if reference not in values.index:
    raise KeyError(f"reference {reference!r} has no results; submissions "
                   f"present: {list(values.index)}")
  with np.errstate(invalid="ignore", divide="ignore"):
    return values.loc[reference] / values


def geomean_speedup(times: pd.DataFrame, reference: str) -> pd.DataFrame:
  """Geometric mean over workloads of :func:`speedups` (module docstring).

  Returns:
    Columns ``speedup`` (geometric mean over workloads both reached; NaN if
    none), ``both`` (that count), ``only_submission`` and ``only_reference``
    (workloads reached by only one of the two).
  """
  values = _check(times)
  s = speedups(values, reference)
  ref = values.loc[reference]
  rows = {}
  for name in values.index:
    t = values.loc[name]
    both = np.isfinite(t) & np.isfinite(ref)
    logs = np.log(s.loc[name][both].to_numpy(dtype=np.float64))
    rows[name] = dict(
        speedup=float(np.exp(logs.mean())) if logs.size else math.nan,
        both=int(both.sum()),
        only_submission=int((np.isfinite(t) & ~np.isfinite(ref)).sum()),
        only_reference=int((~np.isfinite(t) & np.isfinite(ref)).sum()))
  return pd.DataFrame.from_dict(rows, orient="index")
