"""When a run has reached its target: the one rule, for the runner and for
scoring.

Targets are set as the mean train objective of the last 5 iterates of the
best constant learning rate (:mod:`edgeperf.protocol.targets`), so a run
reaches its target by the same measure: in the full-batch regime, at the
first step t where the running mean of the last 5 per-step objectives
f(w_{t−4}), …, f(w_t) (fewer at the start) is ≤ the target, every objective
up to t being finite (a run that diverged first never reaches it).  A run
that dips under the target on one spike is not there yet.  In the
mini-batch regime the per-step objective is only an estimate: the target is
read from the full train objective at each evaluation (window 1).
"""

from __future__ import annotations

import numpy as np

FULL_BATCH_WINDOW = 5
"""Objectives averaged by the full-batch reach rule."""


def running_mean(values, window: int) -> np.ndarray:
  """Mean of the last ``window`` values at each position (fewer at the
  start)."""
  values = np.asarray(values, dtype=np.float64)
  sums = np.cumsum(np.concatenate([[0.0], values]))
  idx = np.arange(1, len(values) + 1)
  lo = np.maximum(idx - window, 0)
  return (sums[idx] - sums[lo]) / (idx - lo)


def first_reach(values, target: float, window: int = 1, *,
                start: int = 0) -> int | None:
  """The first index ≥ ``start`` where the mean of the last ``window``
  values is ≤ ``target`` and every value so far is finite, or None."""
  values = np.asarray(values, dtype=np.float64)
  finite = np.isfinite(values)
  if not finite.all():
    values = values[:int(np.argmin(finite))]  # up to the first non-finite
  hit = running_mean(values, window) <= target
  hit[:start] = False
  return int(np.argmax(hit)) if hit.any() else None


class ReachWatch:
  """:func:`first_reach` over a trace that arrives in pieces (the runner's
  chunks or evaluations).  Sticky: once reached, later values change
  nothing."""

  def __init__(self, target: float | None, window: int = 1):
    self.target, self.window = target, window
    self.index: int | None = None  # position in the whole trace
    self._tail = np.zeros(0)  # the last window − 1 values seen
    self._seen = 0
    self._broken = False  # a non-finite value came first

  @property
  def reached(self) -> bool:
    return self.index is not None

  def extend(self, values) -> int | None:
    """Adds the next values; returns the index of the reach if it is in
    them."""
    values = np.asarray(values, dtype=np.float64)
    offset, self._seen = self._seen, self._seen + len(values)
    if self.target is None or self.reached or self._broken:
      return None
    trace = np.concatenate([self._tail, values])
    carried = len(self._tail)
    self._tail = trace[max(len(trace) - (self.window - 1), 0):] if (
        self.window > 1) else np.zeros(0)
    i = first_reach(trace, self.target, self.window, start=carried)
    if i is not None:
      self.index = offset + i - carried
      return self.index
    self._broken = not np.isfinite(values).all()
    return None
