"""When a run has reached its target: the one rule, for the runner and for
scoring.

A run reaches its target at the first point of its objective trace where the
objective is ≤ the target, every earlier point being finite (a run that
diverged first never reaches it).  The trace is the per-step train
objective f(w_t) in the full-batch regime, and the full train objective at
each evaluation in the mini-batch regime (a mini-batch's objective is only
an estimate).
"""

from __future__ import annotations

import numpy as np


def first_reach(values, target: float) -> int | None:
  """Index of the first entry ≤ ``target`` with every earlier entry finite,
  or None."""
  values = np.asarray(values, dtype=np.float64)
  finite = np.isfinite(values)
  hit = finite & (values <= target)
  if not hit.any():
    return None
  first = int(np.argmax(hit))
  if not finite[:first].all():
    return None  # diverged before reaching the target
  return first


class ReachWatch:
  """:func:`first_reach` over a trace that arrives in pieces (the runner's
  chunks or evaluations).  Sticky: once reached, later values change
  nothing."""

  def __init__(self, target: float | None):
    self.target = target
    self.index: int | None = None  # position in the whole trace
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
    i = first_reach(values, self.target)
    if i is None:
      self._broken = not np.isfinite(values).all()
      return None
    self.index = offset + i
    return self.index
