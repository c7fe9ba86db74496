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
import types
import typing
from typing import Any, Callable, Mapping

import optax

from edgeperf import _checks
from edgeperf.submissions import api
from edgeperf.submissions import search_space as search_space_lib
from edgeperf.submissions.algoperf_api import load as algoperf_load

ENTRY_POINT = "make_tuner"
EVAL_HOOK = "prepare_for_eval"
HORIZON = "num_steps"
"""A ``make_tuner`` argument of this name receives the run's step budget."""
DIRECTION = "base_optimizer"
"""The hyperparameter naming the base direction u; a run records
``make_tuner``'s default when neither the call nor a fixed search-space
value sets it (the leaderboard's division is read from it)."""
UNROLL = "unroll_loops"
"""A ``make_tuner`` argument of this name receives the workload's
:attr:`~edgeperf.workloads.base.Workload.unroll_inner_loops` (its gradients
run slowly inside a compiled loop: unroll a fixed inner loop such as
Lanczos)."""
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


def read_search_space(where: Location) -> search_space_lib.SearchSpace:
  """A located submission's search space, without importing it: its
  ``search_space.json``, or an AlgoPerf file's ``tuning_search_space.json``
  (:mod:`edgeperf.submissions.algoperf_api.load`).

  Raises:
    SubmissionError: a malformed AlgoPerf search space.
    edgeperf.submissions.search_space.SearchSpaceError: a malformed
      ``search_space.json``.
  """
  if not where.shipped and algoperf_load.is_algoperf(where.path):
    try:
      return algoperf_load.read_search_space(
          algoperf_load.search_space_path(where.path)).space
    except algoperf_load.AlgoPerfError as e:
      raise SubmissionError(str(e)) from None
  return search_space_lib.load(where.search_space_path)


@dataclasses.dataclass(frozen=True)
class Submission:
  """A loaded submission: its entry point, search space and evaluation hook."""

  name: str
  path: str  # the submission.py file
  make_tuner: Callable[..., Any]
  search_space: search_space_lib.SearchSpace
  prepare_for_eval: api.PrepareForEval = api.keep_params

  def resolve(self, hparams: Mapping[str, Any] | None = None, *,
              num_steps: int | None = None,
              unroll_loops: bool | None = None) -> dict[str, Any]:
    """The hyperparameters ``make_tuner`` will be called with, checked.

    Every value is checked against its ``search_space.json`` entry (a finite
    set: a value of the same type as its values, numbers being numbers; a
    range: a number in [min, max]) and against ``make_tuner``'s annotation
    (``float``, ``int``, ``str``, ``bool``, ``None``, unions, ``Literal``;
    others are not checked).

    Args:
      hparams: hyperparameters; search-space fixed values fill the rest.
      num_steps: the run's step budget.  Passed as ``num_steps`` to a
        ``make_tuner`` that takes it (schedules need their horizon), unless
        ``hparams`` sets it explicitly.
      unroll_loops: the workload's ``unroll_inner_loops``, passed likewise
        as ``unroll_loops``.

    Raises:
      SubmissionError: unknown, missing or wrong-typed hyperparameters (the
        message names the hyperparameter, the value, what is expected and
        the file that expects it), or a search-space hyperparameter that
        ``make_tuner`` does not accept (naming search_space.json).
    """
    given = dict(hparams or {})
    merged = {**self.search_space.defaults(), **given}
    params = inspect.signature(self.make_tuner).parameters
    if num_steps is not None and HORIZON in params and HORIZON not in given:
      merged[HORIZON] = int(num_steps)
    if unroll_loops is not None and UNROLL in params and UNROLL not in given:
      merged[UNROLL] = bool(unroll_loops)
    direction = params.get(DIRECTION)
    if (direction is not None and DIRECTION not in merged
        and direction.default is not inspect.Parameter.empty):
      merged[DIRECTION] = direction.default  # recorded: the run's division
    takes_kwargs = any(p.kind is p.VAR_KEYWORD for p in params.values())
    accepted = [n for n, p in params.items()
                if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)]
    stray = [n for n in self.search_space.names if n not in accepted]
    if stray and not takes_kwargs:
      raise SubmissionError(
          f"{self.search_space.source}: hyperparameter(s) {stray} are not "
          f"arguments of {ENTRY_POINT} in {self.path}; it accepts "
          f"{accepted}")
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
    space = {h.name: h for h in self.search_space.hyperparameters}
    hints = _type_hints(self.make_tuner)
    for name, value in merged.items():
      if name in given and name in space:
        self._check_in_space(space[name], value)
      if name in params:
        fixed = name not in given and name in space
        self._check_annotation(name, value, params[name],
                               hints.get(name, inspect.Parameter.empty),
                               fixed=fixed)
    return merged

  def _check_in_space(self, hp: search_space_lib.Hyperparameter,
                      value: Any) -> None:
    """``value`` fits ``hp``: of its values' types, or in its range.

    A null among the values allows null; a set of nulls only (an unset
    default) leaves the type to ``make_tuner``'s annotation.
    """
    source = self.search_space.source
    try:
      if not hp.is_finite:
        where = f"its range in {source}"
        # 1e-9 relative slack: a log-scale sample's rounding at the ends.
        _checks.number(hp.name, value, low=hp.low - 1e-9 * abs(hp.low),
                       high=hp.high + 1e-9 * abs(hp.high))
        return
      shown = [repr(v) for v in hp.values]
      if len(shown) > 6:
        shown = shown[:3] + ["..."] + shown[-2:]
      where = f"its values in {source}: {', '.join(shown)}"
      kinds = {_value_kind(v) for v in hp.values}
      if kinds != {"null"}:
        _checks.of_kinds(hp.name, value, kinds)
    except ValueError as e:
      raise SubmissionError(f"{e} ({where})") from None

  def _check_annotation(self, name: str, value: Any,
                        param: inspect.Parameter, hint: Any, *,
                        fixed: bool) -> None:
    """``value`` fits ``make_tuner``'s annotation of ``name``, if any."""
    kinds = _annotation_kinds(hint)
    if kinds is None:
      return
    try:
      _checks.of_kinds(name, value, kinds)
    except ValueError as e:
      annotation = (param.annotation if isinstance(param.annotation, str)
                    else inspect.formatannotation(param.annotation))
      source = (f"its fixed value in {self.search_space.source}; "
                if fixed else "")
      raise SubmissionError(
          f"{e} ({source}{ENTRY_POINT} in {self.path} takes {name}: "
          f"{annotation})") from None

  def build(
      self, hparams: Mapping[str, Any] | None = None, *,
      num_steps: int | None = None, unroll_loops: bool | None = None
  ) -> optax.GradientTransformationExtraArgs:
    """Builds the tuner (arguments as in :meth:`resolve`).

    Raises:
      SubmissionError: unknown or missing hyperparameters, or a return value
        that is not an optax transformation.
    """
    return self.spec(hparams, num_steps=num_steps,
                     unroll_loops=unroll_loops).build()

  def spec(self, hparams: Mapping[str, Any] | None = None, *,
           num_steps: int | None = None,
           unroll_loops: bool | None = None) -> "TunerSpec":
    """The tuner as a :class:`TunerSpec`: its float hyperparameters are the
    candidates to enter a compiled program as values (the harness keeps
    those the tuner's code can trace)."""
    resolved = self.resolve(hparams, num_steps=num_steps,
                            unroll_loops=unroll_loops)
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
                       api.RefreshingTransformation,
                       algoperf_load.AlgoPerfTuner)):
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


def _value_kind(value: Any) -> str:
  """A search-space value's kind, ints and floats both ``number``."""
  kind = _checks.json_kind(value)
  return "number" if kind in ("int", "float") else kind


_ANNOTATION_KINDS = {bool: {"bool"}, int: {"int"}, float: {"number"},
                     str: {"string"}, type(None): {"null"}, list: {"list"},
                     tuple: {"list"}, dict: {"object"}}


def _annotation_kinds(annotation: Any) -> set[str] | None:
  """The JSON kinds a type annotation admits, or None when not checked."""
  origin = typing.get_origin(annotation)
  if origin in (typing.Union, types.UnionType):
    parts = [_annotation_kinds(a) for a in typing.get_args(annotation)]
    return None if None in parts else set().union(*parts)
  if origin is typing.Literal:
    return {_value_kind(a) for a in typing.get_args(annotation)}
  try:
    return _ANNOTATION_KINDS.get(origin or annotation)
  except TypeError:  # unhashable annotation
    return None


def _type_hints(fn: Callable[..., Any]) -> dict[str, Any]:
  """``fn``'s annotations, evaluated; {} when they cannot be."""
  try:
    return typing.get_type_hints(fn)
  except Exception:  # pylint: disable=broad-except  # any user annotation
    return {}


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
        " (edgeperf), or init_optimizer_state and update_params (AlgoPerf)"
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
  if not where.shipped and algoperf_load.is_algoperf(where.path):
    return _load_algoperf(where)
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


def _load_algoperf(where: Location) -> Submission:
  """An AlgoPerf JAX submission (:mod:`edgeperf.submissions.algoperf_api.
  load`): its ``make_tuner`` gives an ``AlgoPerfTuner``, which the harness
  runs with :mod:`edgeperf.harness.owned_steps`."""
  try:
    module, spec = algoperf_load.import_file(where.path, where.name)
    space = algoperf_load.read_search_space(
        algoperf_load.search_space_path(where.path))
  except algoperf_load.AlgoPerfError as e:
    raise SubmissionError(str(e)) from None
  folder = os.path.dirname(where.path)
  name = where.name
  if os.path.basename(where.path) == "submission.py":
    if os.path.basename(folder) == "jax":  # AlgoPerf's <name>/jax/ layout
      folder = os.path.dirname(folder)
    name = slug(os.path.basename(folder))
  return Submission(name=name, path=where.path,
                    make_tuner=algoperf_load.tuner_factory(
                        module, spec, space, where.path),
                    search_space=space.space)
