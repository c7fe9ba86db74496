"""Typed records of one trial across its hops, each serialised once at its
boundary.

* :class:`Trial` — one row of a sweep plan; written to (and read from)
  ``sweep.json``.
* :class:`TrialTask` — what a worker needs to run the trial (absolute
  paths); crosses the process boundary as one JSON line (local workers) or
  one JSON object (Ray actors).
* :class:`TrialOutcome` — the worker's answer, back the same way.

Hyperparameters stay a mapping end to end.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any, Mapping


def _slug(name: str) -> str:
  """A name safe as one path component (as the loader names submissions)."""
  from edgeperf.submissions import loader  # pylint: disable=g-import-not-at-top
  return loader.slug(name)


_QUIET_DEFAULTS = {"inject": True, "division": None, "targets_file": None,
                   "untimed": False}
"""Trial fields left out of ``sweep.json`` at their defaults (a plan from
before they existed reads the same)."""


@dataclasses.dataclass(frozen=True)
class Trial:
  """One trial of a sweep plan (a row of ``sweep.json``'s ``trials``)."""

  workload: str  # registered workload name
  submission: str  # as given: a shipped name or a path
  name: str  # the submission's name in folders and tables
  ruleset: str  # external or self-tuning (or "tuned" for the bench)
  study: int  # study index (its own seed in a search)
  trial: int  # trial index within the study
  seed: int  # PRNG seed of the run
  hparams: Mapping[str, Any]  # the point of the search space
  size: str | None = None  # workload size preset (None: small)
  batch_size: int | None = None  # None: full batch
  max_steps: int | None = None  # None: the workload's budget
  eval_every: int | None = None  # None: the workload's
  inject: bool = True  # False: every hyperparameter baked into programs
  division: str | None = None  # the leaderboard division (base direction)
  targets_file: str | None = None  # the division's stored targets
  untimed: bool = False  # True: the step budget alone (tuning)

  @property
  def id(self) -> str:
    head = f"{self.division}/" if self.division else ""
    return (f"{head}{self.workload}/{self.name}/study_{self.study}/"
            f"trial_{self.trial}")

  @property
  def run_dir(self) -> str:
    """The trial's run folder, relative to the sweep folder (under its
    division's folder when it has one)."""
    division = (self.division,) if self.division else ()
    return os.path.join("runs", *division, _slug(self.workload), self.name,
                        f"study_{self.study}", f"trial_{self.trial}")

  @property
  def log(self) -> str:
    """The trial's output, relative to the sweep folder."""
    head = f"{self.division}__" if self.division else ""
    return os.path.join("logs", f"{head}{_slug(self.workload)}__{self.name}"
                        f"__s{self.study}_t{self.trial}.log")

  def to_json(self) -> dict[str, Any]:
    """The ``sweep.json`` form (fields at their defaults ``inject``,
    ``division``, ``targets_file`` and ``untimed`` are not written)."""
    out = {"id": self.id, **dataclasses.asdict(self),
           "run_dir": self.run_dir, "log": self.log}
    out["hparams"] = dict(self.hparams)
    for name, default in _QUIET_DEFAULTS.items():
      if out[name] == default:
        del out[name]
    return out

  @classmethod
  def from_json(cls, entry: Mapping[str, Any]) -> "Trial":
    """Reads a ``sweep.json`` row (its derived fields are recomputed)."""
    names = {f.name for f in dataclasses.fields(cls)}
    return cls(**{k: v for k, v in entry.items() if k in names})

  def task(self, sweep_dir: str) -> "TrialTask":
    """What a worker runs for this trial, with absolute paths."""
    return TrialTask(
        id=self.id, workload=self.workload, size=self.size,
        batch_size=self.batch_size, submission=self.submission,
        hparams=dict(self.hparams), seed=self.seed, max_steps=self.max_steps,
        eval_every=self.eval_every, inject=self.inject,
        targets_file=self.targets_file, untimed=self.untimed,
        run_dir=os.path.abspath(os.path.join(sweep_dir, self.run_dir)),
        log=os.path.abspath(os.path.join(sweep_dir, self.log)))


@dataclasses.dataclass(frozen=True)
class TrialTask:
  """One trial as a worker runs it."""

  id: str  # the trial's id (:attr:`Trial.id`)
  workload: str  # registered workload name
  submission: str  # shipped name or path
  hparams: Mapping[str, Any]  # the point to run
  seed: int  # PRNG seed
  run_dir: str  # absolute run folder
  log: str | None = None  # absolute path of the trial's output
  size: str | None = None  # workload size preset
  batch_size: int | None = None  # None: full batch
  data_dir: str | None = None  # TFDS data (TFDS workloads only)
  max_steps: int | None = None  # None: the workload's budget
  eval_every: int | None = None  # None: the workload's
  inject: bool = True  # False: bake every hyperparameter in
  targets_file: str | None = None  # stored targets to race (a division's)
  untimed: bool = False  # True: no time budget, the step budget alone

  @property
  def program_key(self) -> tuple:
    """What a worker's compiled programs depend on, as far as an executor
    can tell: the workload preset and the submission."""
    return (self.workload, self.size, self.batch_size, self.data_dir,
            self.submission)

  def to_json(self) -> dict[str, Any]:
    out = dataclasses.asdict(self)
    out["hparams"] = dict(self.hparams)
    return out

  @classmethod
  def from_json(cls, entry: Mapping[str, Any]) -> "TrialTask":
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(entry) - names)
    if unknown:
      raise ValueError(f"a trial task has unknown field(s) {unknown}; "
                       f"expected {sorted(names)}")
    return cls(**entry)


@dataclasses.dataclass(frozen=True)
class TrialOutcome:
  """How a trial ended, as its worker (or its executor) saw it."""

  id: str  # the trial's id
  status: str  # the run's final status, or "error"
  message: str = ""  # the run's message, or what went wrong
  wall_s: float | None = None  # the whole trial in the worker
  submission_s: float | None = None  # its clocked time
  eval_s: float | None = None  # its evaluation time
  crashed: bool = False  # the worker died: the executor wrote this
  exit_code: int | None = None  # the dead worker's exit code

  def to_json(self) -> dict[str, Any]:
    return dataclasses.asdict(self)

  @classmethod
  def from_json(cls, entry: Mapping[str, Any]) -> "TrialOutcome":
    names = {f.name for f in dataclasses.fields(cls)}
    return cls(**{k: v for k, v in entry.items() if k in names})

  def timings(self) -> dict[str, float]:
    """The worker's timings that were measured (for the sweep's summary)."""
    return {k: v for k, v in (("wall_s", self.wall_s),
                              ("submission_s", self.submission_s),
                              ("eval_s", self.eval_s)) if v is not None}
