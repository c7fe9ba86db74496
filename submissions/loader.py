"""Finds, loads and validates submissions, by name or by path.

A name is a folder of this package (``constant``, ``cdat``, ...); a path is a
folder holding ``submission.py`` + ``search_space.json``, or a ``.py`` file
with its ``search_space.json`` beside it.  :func:`locate` is the one place
that tells the two apart.
"""

from __future__ import annotations

import dataclasses
import importlib
import importlib.util
import inspect
import os
import re
from typing import Any, Callable, Mapping

import optax

from edgeperf.submissions import api
from edgeperf.submissions import search_space as search_space_lib

ENTRY_POINT = "make_tuner"
EVAL_HOOK = "prepare_for_eval"
HORIZON = "num_steps"
"""A ``make_tuner`` argument of this name receives the run's step budget."""
_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))


class SubmissionError(ValueError):
  """A submission that cannot be used; the message names the file."""


def slug(text: str) -> str:
  """``text`` made safe as a file or folder name (letters, digits, ``_.-``)."""
  return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_") or "x"


@dataclasses.dataclass(frozen=True)
class Location:
  """Where a submission lives, found without importing it."""

  name: str  # the shipped name, or the folder (file) name of a path
  path: str  # its submission.py (absolute)
  shipped: bool  # True for a submission of this package

  @property
  def search_space_path(self) -> str:
    return os.path.join(os.path.dirname(self.path), "search_space.json")


def available() -> list[str]:
  """Names of the submissions shipped in this package, sorted."""
  return sorted(entry for entry in os.listdir(_PACKAGE_DIR)
                if os.path.isfile(os.path.join(_PACKAGE_DIR, entry,
                                               "submission.py")))


def locate(name_or_path: str | os.PathLike[str]) -> Location:
  """Resolves a shipped name or a path, without importing anything.

  Anything with a path separator, ending in ``.py`` or existing on disk is a
  path; anything else must be a shipped name.

  Raises:
    SubmissionError: an unknown name, or a path with no submission.py.
  """
  target = os.fspath(name_or_path)
  if os.path.sep in target or target.endswith(".py") or os.path.exists(target):
    target = os.path.abspath(target)
    if os.path.isdir(target):
      path = os.path.join(target, "submission.py")
      name = os.path.basename(target.rstrip(os.path.sep))
    else:
      path = target
      name = os.path.splitext(os.path.basename(target))[0]
    if not os.path.isfile(path):
      raise SubmissionError(
          f"{path}: not found; a submission is a folder with submission.py "
          "and search_space.json, or a .py file with search_space.json "
          "beside it")
    return Location(name=slug(name), path=path, shipped=False)
  if target not in available():
    raise SubmissionError(
        f"unknown submission {target!r}; shipped: {available()} (or give "
        "a path to a submission folder)")
  return Location(name=target,
                  path=os.path.join(_PACKAGE_DIR, target, "submission.py"),
                  shipped=True)


@dataclasses.dataclass(frozen=True)
class Submission:
  """A loaded submission: its entry point, search space and evaluation hook."""

  name: str
  path: str  # the submission.py file
  make_tuner: Callable[..., Any]
  search_space: search_space_lib.SearchSpace
  prepare_for_eval: api.PrepareForEval = api.keep_params

  def resolve(self, hparams: Mapping[str, Any] | None = None, *,
              num_steps: int | None = None) -> dict[str, Any]:
    """The hyperparameters ``make_tuner`` will be called with.

    Args:
      hparams: hyperparameters; search-space fixed values fill the rest.
      num_steps: the run's step budget.  Passed as ``num_steps`` to a
        ``make_tuner`` that takes it (schedules need their horizon), unless
        ``hparams`` sets it explicitly.

    Raises:
      SubmissionError: unknown or missing hyperparameters.
    """
    merged = {**self.search_space.defaults(), **dict(hparams or {})}
    params = inspect.signature(self.make_tuner).parameters
    if (num_steps is not None and HORIZON in params and
        HORIZON not in (hparams or {})):
      merged[HORIZON] = int(num_steps)
    takes_kwargs = any(p.kind is p.VAR_KEYWORD for p in params.values())
    accepted = [n for n, p in params.items()
                if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)]
    unknown = sorted(set(merged) - set(accepted))
    if unknown and not takes_kwargs:
      raise SubmissionError(
          f"{self.path}: unknown hyperparameter(s) {unknown} for "
          f"{ENTRY_POINT}; it accepts {accepted}")
    missing = sorted(
        n for n, p in params.items()
        if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)
        and p.default is p.empty and n not in merged)
    if missing:
      raise SubmissionError(
          f"{self.path}: missing required hyperparameter(s) {missing}; give "
          "them in the hparams or fix them in search_space.json")
    return merged

  def build(
      self, hparams: Mapping[str, Any] | None = None, *,
      num_steps: int | None = None
  ) -> optax.GradientTransformationExtraArgs:
    """Builds the tuner (arguments as in :meth:`resolve`).

    Raises:
      SubmissionError: unknown or missing hyperparameters, or a return value
        that is not an optax transformation.
    """
    return self.spec(hparams, num_steps=num_steps).build()

  def spec(self, hparams: Mapping[str, Any] | None = None, *,
           num_steps: int | None = None) -> "TunerSpec":
    """The tuner as a :class:`TunerSpec`: its float hyperparameters are the
    candidates to enter a compiled program as values (the harness keeps
    those the tuner's code can trace)."""
    resolved = self.resolve(hparams, num_steps=num_steps)
    dynamic = {k: v for k, v in resolved.items()
               if isinstance(v, float) and not isinstance(v, bool)}
    static = {k: v for k, v in resolved.items() if k not in dynamic}
    return TunerSpec(self.make_tuner, static, dynamic, source=self.path)


@dataclasses.dataclass(frozen=True, eq=False)
class TunerSpec:
  """How to build a tuner, its numeric hyperparameters kept apart.

  ``build(values)`` calls the factory with the ``static`` hyperparameters
  and ``values`` for the ``dynamic`` ones (default: their own values).
  Inside a traced program ``values`` are arrays, so one compiled program
  serves every point of a learning-rate search (the idea of
  ``optax.inject_hyperparams``).
  """

  factory: Callable[..., Any]
  static: Mapping[str, Any]
  dynamic: Mapping[str, float]
  source: str = "<tuner>"

  @classmethod
  def fixed(cls, tx: Any) -> "TunerSpec":
    """An already built tuner: nothing enters as a value."""
    return cls(lambda: tx, {}, {}, source="<built tuner>")

  def build(self, values: Mapping[str, Any] | None = None) -> Any:
    tx = self.factory(**self.static, **dict(
        self.dynamic if values is None else values))
    if isinstance(tx, (optax.GradientTransformationExtraArgs,
                       api.RefreshingTransformation)):
      return tx
    if isinstance(tx, optax.GradientTransformation):
      return optax.with_extra_args_support(tx)
    raise SubmissionError(
        f"{self.source}: {ENTRY_POINT} returned {type(tx).__name__}; "
        "expected an optax.GradientTransformationExtraArgs (init, update) "
        "or an api.RefreshingTransformation")

  def with_static(self, names) -> "TunerSpec":
    """The same tuner with the hyperparameters ``names`` baked in."""
    names = set(names)
    return TunerSpec(self.factory, {**self.static, **{
        k: v for k, v in self.dynamic.items() if k in names}},
                     {k: v for k, v in self.dynamic.items()
                      if k not in names}, source=self.source)

  def program_key(self) -> tuple:
    """What a compiled program of this tuner depends on: the factory, the
    static values, the dynamic names (not their values)."""
    return (self.factory, tuple(sorted(
        (k, repr(v)) for k, v in self.static.items())),
            tuple(sorted(self.dynamic)))


def _module_from_file(path: str, name: str) -> Any:
  module_name = "edgeperf_user_submission_" + re.sub(r"\W", "_", name)
  spec = importlib.util.spec_from_file_location(module_name, path)
  if spec is None or spec.loader is None:
    raise SubmissionError(f"{path}: cannot be imported as a Python module")
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


def _callable(module: Any, path: str, attr: str, required: bool) -> Any:
  entry = getattr(module, attr, None)
  if entry is None and not required:
    return None
  if entry is None or not callable(entry):
    raise SubmissionError(
        f"{path}: no callable {attr!r}; a submission must define "
        f"{ENTRY_POINT}(**hparams) -> optax.GradientTransformationExtraArgs"
        if required else f"{path}: {attr} must be a function "
        "(opt_state, params) -> params")
  return entry


def load(name_or_path: str | os.PathLike[str]) -> Submission:
  """Loads a submission by package name or by filesystem path.

  Raises:
    SubmissionError: no such submission, no ``make_tuner`` entry point, or a
      malformed ``search_space.json`` (the message names the file).
  """
  where = locate(name_or_path)
  if where.shipped:
    module = importlib.import_module(
        f"edgeperf.submissions.{where.name}.submission")
  else:
    module = _module_from_file(where.path, where.name)
  make_tuner = _callable(module, where.path, ENTRY_POINT, required=True)
  hook = _callable(module, where.path, EVAL_HOOK, required=False)
  space = search_space_lib.load(where.search_space_path)
  return Submission(name=where.name, path=where.path, make_tuner=make_tuner,
                    search_space=space,
                    prepare_for_eval=hook or api.keep_params)
