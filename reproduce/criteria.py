"""Verdicts: named checks, the rule that turns them into a verdict, and the
shape criteria the checks use on curves (simulated or measured).

A finding's claim is split into checks, each a :class:`Check` holding the
criterion (written, with its threshold, before any run), the number
measured and whether it passed.  :func:`verdict` turns the checks into
``shows`` (every check passes), ``partly`` (every headline check passes, or
at least half of all checks do) or ``does not show at this scale``.

Over seeds, each check carries its own rule, written next to it with a
one-line reason (:data:`EVERY_SEED` or :data:`MOST_SEEDS`):
:func:`over_seeds` applies it to the check's per-seed outcomes, and
:func:`judge_over_seeds` computes the verdict from the aggregated checks.
A roundoff replicate (the same seed, initial parameters perturbed by a
relative 1e-7) stands for another machine: a check whose outcome differs
between a seed and its replicate is *unstable*, and a finding with an
unstable check cannot be ``shows``.

The shape criteria (:func:`oscillates_around`, :func:`stabilises`, ...)
take a 1-D series and return a bool; their thresholds are keyword
arguments with the defaults the findings use.
"""

from __future__ import annotations

import math
from typing import Any, Mapping, NamedTuple, Sequence

import numpy as np

SHOWS = "shows"
PARTLY = "partly"
NOT_SHOWN = "does not show at this scale"
VERDICTS = (SHOWS, PARTLY, NOT_SHOWN)


EVERY_SEED = "every seed"
"""Rule over seeds: the check passes on every seed (a bound, an "always" or
"at every step", a divergence, a grid that must fit every seed)."""
MOST_SEEDS = "most seeds"
"""Rule over seeds: the check passes on more than half of the seeds — for a
threshold on one number, the criterion applied to the median seed (a claim
about the typical run: "on par", "better", "falls")."""
RULES = (EVERY_SEED, MOST_SEEDS)


class Check(NamedTuple):
  """One clause of a claim, tested on measured numbers."""

  name: str  # short identifier, e.g. "sigma2_beats_sigma1"
  criterion: str  # the test in words, threshold included (fixed a priori)
  measured: Any  # the number(s) the test read
  passed: bool  # whether the criterion holds
  headline: bool = False  # part of the claim's core (see :func:`verdict`)
  over_seeds: str = EVERY_SEED  # the rule over seeds (:data:`RULES`)
  why: str = ""  # one line: why that rule fits the claim


def check(name: str, criterion: str, measured: Any, passed: Any, *,
          headline: bool = False, over_seeds: str, why: str) -> Check:
  """A :class:`Check`; ``passed`` is coerced to a Python bool (a NaN
  comparison is False, so a missing number fails its check).

  Raises:
    ValueError: ``over_seeds`` is not one of :data:`RULES`, or ``why`` is
      empty (every rule is justified where it is chosen).
  """
  if over_seeds not in RULES:
    raise ValueError(f"check {name!r}: over_seeds must be one of {RULES}, "
                     f"got {over_seeds!r}")
  if not why.strip():
    raise ValueError(f"check {name!r}: say in one line why "
                     f"{over_seeds!r} fits the claim (why=...)")
  return Check(name, criterion, measured, bool(passed), headline,
               over_seeds, why)


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


class SeedsCheck(NamedTuple):
  """One check over seeds (and their roundoff replicates)."""

  name: str  # the check's name
  criterion: str  # its criterion (the same on every seed)
  headline: bool  # part of the claim's core
  over_seeds: str  # its rule over seeds (:data:`RULES`)
  why: str  # why that rule fits the claim
  by_seed: Mapping[Any, Check]  # seed -> the check on that seed's runs
  by_replicate: Mapping[Any, Check]  # seed -> on its replicate's runs
  passed: bool  # the rule applied to the seeds' outcomes
  unstable: tuple[Any, ...]  # seeds whose replicate's outcome differs


def apply_rule(rule: str, outcomes: Sequence[bool]) -> bool:
  """A rule of :data:`RULES` applied to per-seed outcomes.

  Raises:
    ValueError: no outcomes, or an unknown rule.
  """
  if not outcomes:
    raise ValueError("a rule over seeds needs at least one outcome")
  if rule == EVERY_SEED:
    return all(outcomes)
  if rule == MOST_SEEDS:
    return 2 * sum(bool(o) for o in outcomes) > len(outcomes)
  raise ValueError(f"unknown rule {rule!r}; expected one of {RULES}")


def over_seeds(by_seed: Mapping[Any, Sequence[Check]],
               replicates: Mapping[Any, Sequence[Check]] | None = None
               ) -> list[SeedsCheck]:
  """Each check over seeds: its rule applied to the seeds' outcomes, and
  the seeds where the replicate's outcome differs (*unstable*).

  Args:
    by_seed: seed -> the checks of that seed's judgement (same names, same
      order on every seed).
    replicates: seed -> the checks on that seed's roundoff replicate (a
      subset of the seeds, or None: no replicates).

  Raises:
    ValueError: no seeds, or seeds whose checks differ in names.
  """
  if not by_seed:
    raise ValueError("over_seeds needs the checks of at least one seed")
  replicates = replicates or {}
  seeds = list(by_seed)
  names = [c.name for c in by_seed[seeds[0]]]
  for seed, checks in [*by_seed.items(), *replicates.items()]:
    if [c.name for c in checks] != names:
      raise ValueError(f"seed {seed}: checks {[c.name for c in checks]} "
                       f"differ from seed {seeds[0]}'s {names}")
  out = []
  for i, name in enumerate(names):
    first = by_seed[seeds[0]][i]
    per_seed = {s: by_seed[s][i] for s in seeds}
    per_rep = {s: replicates[s][i] for s in seeds if s in replicates}
    unstable = tuple(s for s, c in per_rep.items()
                     if c.passed != per_seed[s].passed)
    out.append(SeedsCheck(
        name, first.criterion, first.headline, first.over_seeds, first.why,
        per_seed, per_rep,
        apply_rule(first.over_seeds, [c.passed for c in per_seed.values()]),
        unstable))
  return out


def judge_over_seeds(checks: Sequence[SeedsCheck]
                     ) -> tuple[str, tuple[str, ...]]:
  """The verdict of checks aggregated over seeds (:func:`verdict` on their
  aggregated outcomes) and the names of the unstable ones; an unstable
  check turns ``shows`` into ``partly`` (a rounding could flip it).

  Raises:
    ValueError: no checks.
  """
  result = verdict([Check(c.name, c.criterion, None, c.passed, c.headline)
                    for c in checks])
  unstable = tuple(c.name for c in checks if c.unstable)
  if result == SHOWS and unstable:
    result = PARTLY
  return result, unstable


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
