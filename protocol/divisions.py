"""Divisions: the leaderboard compares learning-rate rules on one base
direction at a time.

A *division* is a base direction u_t (:data:`edgeperf.submissions.api.
BASE_OPTIMIZERS`): ``gd`` and ``adam`` in the default bench, ``momentum``
and ``rmsprop`` by flag — the four directions Roulet et al. (2024) tune
every rule on, each against the tuned constant rate and the tuned schedule
of the same direction.

A submission declares the directions it supports as the values of the
``base_optimizer`` hyperparameter of its ``search_space.json``
(``{"values": ["gd", "adam"]}``, or ``{"value": "adam"}`` for one).  In a
division that hyperparameter is not searched: it is fixed to the
division's direction (:func:`space_for`).  A submission that declares no
direction (no ``base_optimizer`` in its space) is refused by name
(:class:`DivisionError`).

Each division has its own stored targets (``make targets`` run with that
direction's constant rate: :func:`edgeperf.protocol.targets.targets_path`),
its own tuned points (``make tune``) and its own baselines
(:data:`BASELINES`).
"""

from __future__ import annotations

import dataclasses
from typing import Sequence

from edgeperf.harness.sweep import trial as trial_lib
from edgeperf.submissions import api
from edgeperf.submissions import loader
from edgeperf.submissions import search_space as search_space_lib

DIRECTIONS = api.BASE_OPTIMIZERS
"""Every division there can be (one per base direction)."""
DEFAULT = ("gd", "adam")
"""The divisions of the default bench (``make bench``, ``make tune``)."""
REFERENCE = "constant"
"""The division's tuned constant rate: it must reach the division's own
targets (else they are stale), and every speed-up is measured against it."""
SCHEDULE = "warmup_schedule"
"""The division's tuned warm-up + cosine schedule (the second reference)."""
BASELINES = (REFERENCE, SCHEDULE)
KEY = "base_optimizer"
"""The hyperparameter whose values are a submission's directions."""


class DivisionError(ValueError):
  """A submission without a declared direction, or an unknown division."""


def check(divisions: Sequence[str]) -> tuple[str, ...]:
  """``divisions`` as a tuple, each one of :data:`DIRECTIONS`.

  Raises:
    DivisionError: an unknown or repeated division, naming the valid ones.
  """
  divisions = tuple(divisions)
  bad = [d for d in divisions if d not in DIRECTIONS]
  if bad or not divisions or len(set(divisions)) != len(divisions):
    raise DivisionError(
        f"divisions must be distinct names among {list(DIRECTIONS)}, got "
        f"{list(divisions)}")
  return divisions


def directions(submission: str) -> tuple[str, ...]:
  """The base directions ``submission`` declares (its search space's
  ``base_optimizer`` values), in :data:`DIRECTIONS` order.

  Raises:
    DivisionError: the space has no ``base_optimizer``, or names a
      direction that does not exist.
    loader.SubmissionError, search_space_lib.SearchSpaceError: no such
      submission, or a malformed space.
  """
  where = loader.locate(submission)
  space = search_space_lib.load(where.search_space_path)
  declared = [h for h in space.hyperparameters if h.name == KEY]
  if not declared or not declared[0].is_finite:
    raise DivisionError(
        f"{where.search_space_path}: {where.name} declares no base direction; "
        f'add "{KEY}": {{"values": [...]}} with the directions it supports '
        f"(some of {list(DIRECTIONS)}), so it can enter their divisions")
  values = declared[0].values
  unknown = [v for v in values if v not in DIRECTIONS]
  if unknown:
    raise DivisionError(
        f"{where.search_space_path}: {KEY} values {unknown} are not base "
        f"directions; expected some of {list(DIRECTIONS)}")
  return tuple(d for d in DIRECTIONS if d in values)


def space_for(space: search_space_lib.SearchSpace, division: str
              ) -> search_space_lib.SearchSpace:
  """``space`` with ``base_optimizer`` fixed to ``division`` (a division
  never searches the direction)."""
  hps = tuple(dataclasses.replace(h, values=(division,)) if h.name == KEY
              else h for h in space.hyperparameters)
  return dataclasses.replace(space, hyperparameters=hps)


@dataclasses.dataclass(frozen=True)
class Entry:
  """One submission in one division."""

  division: str  # the base direction
  submission: str  # as given (a name or a path)
  name: str  # the submission's name (its folder)


def route(submissions: Sequence[str], divisions: Sequence[str] = DEFAULT
          ) -> dict[str, list[Entry]]:
  """``{division: [entries]}``: every submission enters each of
  ``divisions`` it declares; a division's list keeps ``submissions``'
  order.

  Raises:
    DivisionError: a submission that declares no direction (every one
      named), or an unknown division.
  """
  divisions = check(divisions)
  out: dict[str, list[Entry]] = {d: [] for d in divisions}
  problems = []
  for sub in submissions:
    try:
      supported = directions(sub)
    except DivisionError as e:
      problems.append(str(e))
      continue
    name = loader.locate(sub).name
    for d in divisions:
      if d in supported:
        out[d].append(Entry(d, sub, name))
  if problems:
    raise DivisionError("; ".join(problems))
  return out


def entry_in(trial: trial_lib.Trial, division: str,
             targets_file: str | None) -> trial_lib.Trial:
  """``trial`` placed in ``division``: its id, run folder and log under the
  division (so the same submission in two divisions never shares a
  folder), its ``division`` recorded (scoring reads it), and the division's
  stored targets (``targets_file``; None: the workloads' default file)."""
  return dataclasses.replace(trial, division=division,
                             targets_file=targets_file)
