"""Seeded trial generation for the tuning rulesets (Halton, Sobol or grid).

External-tuning ruleset (AlgoPerf's, Dahl et al. 2023, §4): each
study draws ``N`` points of the submission's search space; a point is
``{name: h.from_unit(u_h)}`` for a quasi-random vector u ∈ [0, 1]^d, one
coordinate per *searched* hyperparameter (fixed ones pass through).  The
quasi-random sequence is a scrambled Halton or Sobol sequence from
``scipy.stats.qmc`` whose scrambling is seeded from ``(seed, study)``, so the
same seed always gives the same points in the same order (AlgoPerf's sampler
does not promise that).  A finite space with at most ``N`` points (or at
most ``grid_limit``, when a protocol sets one) is searched exhaustively
instead (its grid, in the fixed order of :meth:`SearchSpace.grid`): the
tuning protocol runs a paper's grid whole where it is no larger than
AlgoPerf's 5 × 3 trials (:mod:`edgeperf.protocol.tuning`).

Self-tuning ruleset (``"ruleset": "self"``): no hyperparameters, one trial per
study, with the fixed values.

Run seeds: trial ``t`` of study ``s`` in a sweep seeded ``seed`` runs with
``trial_seed(seed, s, t)``, a 31-bit integer from
``numpy.random.SeedSequence([seed, s, t])``.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np
from scipy.stats import qmc

from edgeperf.submissions import search_space as search_space_lib

METHODS = ("halton", "sobol", "grid")


@dataclasses.dataclass(frozen=True)
class TrialPoint:
  """One trial of one study: its hyperparameters and its run seed."""

  study: int
  trial: int
  hparams: dict[str, Any]
  seed: int


def _python(value: Any) -> Any:
  """numpy scalars → plain Python (JSON-able, hashable)."""
  return value.item() if isinstance(value, np.generic) else value


def trial_seed(seed: int, study: int, trial: int) -> int:
  """The run seed of trial ``trial`` of study ``study``: a 31-bit integer."""
  state = np.random.SeedSequence([int(seed), int(study), int(trial)])
  return int(state.generate_state(1, dtype=np.uint32)[0] >> 1)


def unit_points(dim: int, num: int, *, seed: int, study: int = 0,
                method: str = "halton") -> np.ndarray:
  """``num`` scrambled quasi-random points in [0, 1)^dim, seeded.

  Args:
    dim: number of searched hyperparameters (≥ 1).
    num: number of points (≥ 1).
    seed: sweep seed.
    study: study index; the scrambling is seeded with
      ``SeedSequence([seed, study])``, so each study gets its own sequence.
    method: ``halton`` or ``sobol`` (Sobol points are the first ``num`` of a
      scrambled sequence; ``num`` need not be a power of two).

  Returns:
    f64[num, dim], the same array for the same arguments.
  """
  if dim < 1 or num < 1:
    raise ValueError(f"unit_points needs dim >= 1 and num >= 1, got dim={dim}"
                     f", num={num}")
  rng = np.random.default_rng(np.random.SeedSequence([int(seed), int(study)]))
  if method == "halton":
    engine = qmc.Halton(d=dim, scramble=True, rng=rng)
  elif method == "sobol":
    engine = qmc.Sobol(d=dim, scramble=True, rng=rng)
  else:
    raise ValueError(f"quasi-random method must be 'halton' or 'sobol', got "
                     f"{method!r}")
  if method == "sobol":
    # Draw a power of two (keeps the balance properties; no warning), keep
    # the first num points in sequence order.
    points = engine.random_base2(max(0, math.ceil(math.log2(num))))[:num]
  else:
    points = engine.random(num)
  return np.asarray(points, dtype=np.float64)


def study_points(space: search_space_lib.SearchSpace, num_trials: int, *,
                 seed: int, study: int = 0, method: str = "halton",
                 grid_limit: int | None = None) -> list[dict[str, Any]]:
  """The hyperparameter points of one study, in trial order.

  * ruleset ``self``: ``[space.defaults()]`` (one run per study).
  * a finite space with ``size() <= max(num_trials, grid_limit)``, or
    ``method == "grid"``: every grid point (``method == "grid"`` on a space
    with a continuous range is an error).
  * otherwise ``num_trials`` quasi-random points: searched hyperparameter
    ``h`` (in file order, coordinate ``j``) gets ``h.from_unit(u_j)``, fixed
    ones their value.

  Raises:
    ValueError: a bad ``num_trials`` or ``method``, or a grid asked of a
      continuous space.
  """
  if not isinstance(num_trials, int) or num_trials < 1:
    raise ValueError(f"num_trials must be a positive int, got {num_trials!r}")
  if method not in METHODS:
    raise ValueError(f"method must be one of {METHODS}, got {method!r}")
  if space.ruleset == "self":
    return [dict(space.defaults())]
  if grid_limit is not None and (not isinstance(grid_limit, int) or
                                 grid_limit < 1):
    raise ValueError(f"grid_limit must be a positive int, got {grid_limit!r}")
  whole = max(num_trials, grid_limit or 0)
  if method == "grid" or (space.is_finite and space.size() <= whole):
    if not space.is_finite:
      raise ValueError(
          f"{space.source}: method 'grid' needs a finite space; continuous: "
          f"{[h.name for h in space.hyperparameters if not h.is_finite]}")
    return [{k: _python(v) for k, v in p.items()} for p in space.grid()]
  searched = [h for h in space.hyperparameters if not h.is_fixed]
  fixed = space.defaults()
  units = unit_points(len(searched), num_trials, seed=seed, study=study,
                      method=method)
  points = []
  for row in units:
    point = {}
    for h in space.hyperparameters:
      if h.is_fixed:
        point[h.name] = _python(fixed[h.name])
      else:
        point[h.name] = _python(h.from_unit(float(row[searched.index(h)])))
    points.append(point)
  return points


def plan(space: search_space_lib.SearchSpace, *, num_trials: int,
         num_studies: int, seed: int, method: str = "halton",
         grid_limit: int | None = None) -> list[TrialPoint]:
  """Every trial of every study: ``num_studies`` studies of
  :func:`study_points`, each trial with its :func:`trial_seed`."""
  if not isinstance(num_studies, int) or num_studies < 1:
    raise ValueError(f"num_studies must be a positive int, got "
                     f"{num_studies!r}")
  trials = []
  for study in range(num_studies):
    points = study_points(space, num_trials, seed=seed, study=study,
                          method=method, grid_limit=grid_limit)
    for t, point in enumerate(points):
      trials.append(TrialPoint(study=study, trial=t, hparams=point,
                               seed=trial_seed(seed, study, t)))
  return trials
