"""Verdicts: named checks, the rule that turns them into a verdict, and the
shape criteria the checks use on curves (simulated or measured).

A finding's claim is split into checks, each a :class:`Check` holding the
criterion (written, with its threshold, before any run), the number
measured and whether it passed.  :func:`verdict` turns the checks into
``shows`` (every check passes), ``partly`` (every headline check passes, or
at least half of all checks do) or ``does not show at this scale``.  Over
several seeds, :func:`combine` says ``shows`` only if every seed shows.

The shape criteria (:func:`oscillates_around`, :func:`stabilises`, ...)
take a 1-D series and return a bool; their thresholds are keyword
arguments with the defaults the findings use.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple, Sequence

import numpy as np

SHOWS = "shows"
PARTLY = "partly"
NOT_SHOWN = "does not show at this scale"
VERDICTS = (SHOWS, PARTLY, NOT_SHOWN)


class Check(NamedTuple):
  """One clause of a claim, tested on measured numbers."""

  name: str  # short identifier, e.g. "sigma2_beats_sigma1"
  criterion: str  # the test in words, threshold included (fixed a priori)
  measured: Any  # the number(s) the test read
  passed: bool  # whether the criterion holds
  headline: bool = False  # part of the claim's core (see :func:`verdict`)


def check(name: str, criterion: str, measured: Any, passed: Any, *,
          headline: bool = False) -> Check:
  """A :class:`Check`; ``passed`` is coerced to a Python bool (a NaN
  comparison is False, so a missing number fails its check)."""
  return Check(name, criterion, measured, bool(passed), headline)


def verdict(checks: Sequence[Check]) -> str:
  """``shows`` if every check passes; ``partly`` if every headline check
  passes (when there is one) or at least half of all checks pass; else
  ``does not show at this scale``.

  Raises:
    ValueError: no checks.
  """
  if not checks:
    raise ValueError("a verdict needs at least one check")
  passed = [c.passed for c in checks]
  if all(passed):
    return SHOWS
  headline = [c.passed for c in checks if c.headline]
  if (headline and all(headline)) or 2 * sum(passed) >= len(passed):
    return PARTLY
  return NOT_SHOWN


def combine(verdicts: Sequence[str]) -> str:
  """One verdict over seeds: ``shows`` if every seed shows, ``does not
  show`` if none shows or partly, else ``partly``.

  Raises:
    ValueError: no verdicts, or one that is not in :data:`VERDICTS`.
  """
  if not verdicts:
    raise ValueError("combine needs at least one verdict")
  unknown = [v for v in verdicts if v not in VERDICTS]
  if unknown:
    raise ValueError(f"unknown verdict(s) {unknown}; expected {VERDICTS}")
  if all(v == SHOWS for v in verdicts):
    return SHOWS
  if all(v == NOT_SHOWN for v in verdicts):
    return NOT_SHOWN
  return PARTLY


# --------------------------------------------------------------- series --

def series(values: Any, min_len: int = 4) -> np.ndarray:
  """``values`` as a 1-D float array of at least ``min_len`` entries.

  Raises:
    ValueError: not 1-D, or too short.
  """
  s = np.asarray(values, np.float64)
  if s.ndim != 1 or len(s) < min_len:
    raise ValueError(f"expected a 1-D series of >= {min_len} values, got "
                     f"shape {s.shape}")
  return s


def tail(values: Any, frac: float = 0.5) -> np.ndarray:
  """The last ``frac`` of a series (at least 4 values)."""
  s = series(values)
  if not 0 < frac <= 1:
    raise ValueError(f"tail fraction must be in (0, 1], got {frac}")
  return s[len(s) - max(4, int(round(frac * len(s)))):]


def all_finite(values: Any) -> bool:
  """No NaN or infinity anywhere (no blow-up)."""
  return bool(np.all(np.isfinite(series(values))))


def sign_crossings(values: Any, center: float = 0.0) -> int:
  """How many times the series crosses ``center`` (exact hits skipped)."""
  d = series(values) - center
  signs = np.sign(d[(d != 0) & np.isfinite(d)])
  return int(np.sum(signs[1:] != signs[:-1]))


def oscillates_around(values: Any, center: float = 0.0, *,
                      frac: float = 0.5, min_crossings: int = 10,
                      tol: float = 0.05) -> bool:
  """Finite; the tail crosses ``center`` at least ``min_crossings`` times
  and its mean is within ``tol`` of it (y oscillating around the edge)."""
  if not all_finite(values):
    return False
  t = tail(values, frac)
  return (sign_crossings(t, center) >= min_crossings and
          abs(float(np.mean(t)) - center) <= tol)


def stabilises(values: Any, *, frac: float = 0.5, rel_drift: float = 0.02,
               rel_range: float = 0.5) -> bool:
  """Levels off, possibly oscillating: finite; the tail's two halves have
  means within ``rel_drift`` of the tail's mean magnitude, and the tail's
  range is within ``rel_range`` of it.  Fails on a trend (linear, √t,
  geometric) and on blow-up."""
  if not all_finite(values):
    return False
  t = tail(values, frac)
  scale = abs(float(np.mean(t)))
  if scale == 0:
    return bool(np.ptp(t) == 0)
  half = len(t) // 2
  drift = abs(float(np.mean(t[half:]) - np.mean(t[:half])))
  return drift <= rel_drift * scale and float(np.ptp(t)) <= rel_range * scale


def grows_without_bound(values: Any, *, factor: float = 3.0,
                        frac: float = 0.25, min_tail_gain: float = 0.05
                        ) -> bool:
  """Runaway growth: finite, positive start, last ≥ ``factor`` × first,
  the tail never decreases and still gains ≥ ``min_tail_gain`` (relative):
  it is not levelling off (√t gains 15 % over its last quarter)."""
  s = series(values)
  if not all_finite(s) or s[0] <= 0:
    return False
  t = tail(s, frac)
  return bool(s[-1] >= factor * s[0] and np.all(np.diff(t) >= 0) and
              t[-1] - t[0] >= min_tail_gain * abs(t[0]))


def decays(values: Any, *, factor: float = 3.0) -> bool:
  """Positive, ends at most 1/``factor`` of its start, and the second half
  never rises above the start (η falling)."""
  s = series(values)
  if not all_finite(s) or s[0] <= 0:
    return False
  return bool(0 < s[-1] <= s[0] / factor and np.all(s[len(s) // 2:] <= s[0]))


def settles_in(values: Any, low: float, high: float, *,
               frac: float = 0.5) -> bool:
  """Finite, and every value of the tail lies in [``low``, ``high``]."""
  if not all_finite(values):
    return False
  t = tail(values, frac)
  return bool(np.all(t >= low) and np.all(t <= high))


def grows_slowly(values: Any, *, frac: float = 0.5, min_rel: float = 0.01,
                 max_rel: float = 1.0) -> bool:
  """Sustained slow growth: finite; over the tail the value rises by a
  relative amount in [``min_rel``, ``max_rel``] and the tail's second half
  is above its first (neither levelled off nor running away)."""
  if not all_finite(values):
    return False
  t = tail(values, frac)
  if t[0] <= 0:
    return False
  rel = (t[-1] - t[0]) / t[0]
  half = len(t) // 2
  return bool(min_rel <= rel <= max_rel and
              np.mean(t[half:]) > np.mean(t[:half]))


def ratio(a: float, b: float) -> float:
  """a / b, NaN when either is not finite or b is 0 (a failed check)."""
  if not (math.isfinite(a) and math.isfinite(b)) or b == 0:
    return math.inf if (a == math.inf and math.isfinite(b)) else math.nan
  return a / b
