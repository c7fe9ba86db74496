"""Telling an AlgoPerf JAX submission from an edgeperf one, and loading it.

The two APIs are told apart by their entry points, read from the file's
syntax tree without running it: ``make_tuner`` is edgeperf's;
``init_optimizer_state`` with ``update_params`` (and no ``make_tuner``) is
AlgoPerf's (MLCommons AlgoPerf, ``algoperf/spec.py``).

An AlgoPerf file is imported under :func:`algoperf_names`: a real
``algoperf`` package when one is importable, else edgeperf's
:mod:`~edgeperf.submissions.algoperf_api.shim`, registered in
``sys.modules`` for the import only.  Its search space is the
``tuning_search_space.json`` beside it or in the folder above (AlgoPerf's
``<name>/tuning_search_space.json`` + ``<name>/jax/submission.py``), in
either AlgoPerf form:

  * a dict ``{name: {"feasible_points": [...]}`` or ``{"min", "max",
    "scaling": "log"|"linear"}}``, read as edgeperf's ``values`` and
    ``min``/``max``/``scale``;
  * a list of points ``[{name: value, ...}, ...]``: one point fixes every
    value; several become one hyperparameter :data:`POINT` whose values
    are the points' indices.

No search-space file: the self-tuning ruleset, and ``hyperparameters`` is
None, as AlgoPerf passes it.
"""

from __future__ import annotations

import ast
import collections
import contextlib
import dataclasses
import importlib
import importlib.util
import json
import os
import re
import sys
from typing import Any, Callable, Iterator

from edgeperf.submissions import search_space as search_space_lib

SEARCH_SPACE_FILE = "tuning_search_space.json"
ENTRY_POINTS = ("init_optimizer_state", "update_params")
OPTIONAL = ("prepare_for_eval", "data_selection", "get_batch_size")
OWNS_STEPS = "owns_steps"
"""Attribute set (True) on the ``make_tuner`` of an AlgoPerf submission:
its tuner owns its steps (known without building it)."""
POINT = "tuning_point"
"""The hyperparameter indexing a list-form search space's points."""


class AlgoPerfError(ValueError):
  """An AlgoPerf submission that cannot be used; the message names the file."""


def top_level_names(path: str) -> set[str]:
  """Names a Python file defines at top level (functions, classes,
  assignments, imports), from its syntax tree."""
  try:
    tree = ast.parse(open(path, encoding="utf-8").read(), path)
  except (OSError, SyntaxError, ValueError):
    return set()  # the import reports it
  names = set()
  for node in tree.body:
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef,
                         ast.ClassDef)):
      names.add(node.name)
    elif isinstance(node, ast.Assign):
      names.update(t.id for t in node.targets if isinstance(t, ast.Name))
    elif isinstance(node, (ast.Import, ast.ImportFrom)):
      names.update((a.asname or a.name).split(".")[0] for a in node.names)
  return names


def is_algoperf(path: str) -> bool:
  """Whether ``path`` defines AlgoPerf's entry points and not edgeperf's."""
  names = top_level_names(path)
  return set(ENTRY_POINTS) <= names and "make_tuner" not in names


@contextlib.contextmanager
def algoperf_names() -> Iterator[Any]:
  """Yields the ``algoperf.spec`` module submissions will import: the real
  one when the ``algoperf`` package imports, else the shim, registered in
  ``sys.modules`` until the block ends (then removed, if still ours)."""
  if importlib.util.find_spec("algoperf") is not None:
    try:
      yield importlib.import_module("algoperf.spec")
      return
    except ImportError:
      pass  # e.g. torch missing: the shim serves
  from edgeperf.submissions.algoperf_api import shim  # pylint: disable=g-import-not-at-top
  added = {"algoperf": shim}
  added.update({f"algoperf.{name}": getattr(shim, name)
                for name in shim.PROVIDED})
  added = {k: v for k, v in added.items() if k not in sys.modules}
  sys.modules.update(added)
  try:
    yield shim.spec
  finally:
    for name, module in added.items():
      if sys.modules.get(name) is module:
        del sys.modules[name]


def import_file(path: str, name: str) -> tuple[Any, Any]:
  """Imports an AlgoPerf submission file; returns ``(module, spec)``.

  Raises:
    AlgoPerfError: it imports an ``algoperf`` module the shim does not
      provide, or lacks an entry point.
  """
  module_name = "edgeperf_algoperf_submission_" + re.sub(r"\W", "_", name)
  with algoperf_names() as spec:
    loader_spec = importlib.util.spec_from_file_location(module_name, path)
    if loader_spec is None or loader_spec.loader is None:
      raise AlgoPerfError(f"{path}: cannot be imported as a Python module")
    module = importlib.util.module_from_spec(loader_spec)
    try:
      loader_spec.loader.exec_module(module)
    except ImportError as e:
      missing = _missing_algoperf_name(e, spec)
      if missing is None:
        raise
      raise AlgoPerfError(
          f"{path}: imports {missing}, which edgeperf does not provide "
          "without the algoperf package (it provides algoperf.spec and "
          "algoperf.jax_sharding_utils)") from None
  for entry in ENTRY_POINTS:
    if not callable(getattr(module, entry, None)):
      raise AlgoPerfError(f"{path}: {entry} is not a function")
  for entry in OPTIONAL:
    if getattr(module, entry, None) is not None and not callable(
        getattr(module, entry)):
      raise AlgoPerfError(f"{path}: {entry} is not a function")
  return module, spec


def _missing_algoperf_name(error: ImportError, spec: Any) -> str | None:
  """The ``algoperf.X`` an import failed on, or None (another failure)."""
  name = error.name or ""
  if name.startswith("algoperf"):
    return name
  shim_package = spec.__name__.rpartition(".")[0]
  found = re.search(r"cannot import name '(\w+)'", str(error))
  if name == shim_package and found:
    return f"algoperf.{found.group(1)}"
  return None


# ------------------------------------------------------------ search space --

def search_space_path(path: str) -> str | None:
  """The ``tuning_search_space.json`` beside ``path`` or one folder up."""
  here = os.path.dirname(os.path.abspath(path))
  for folder in (here, os.path.dirname(here)):
    candidate = os.path.join(folder, SEARCH_SPACE_FILE)
    if os.path.isfile(candidate):
      return candidate
  return None


_FORMS = ('a dict {name: {"feasible_points": [...]} or {"min": x, "max": y, '
          '"scaling": "log"|"linear"}} or a non-empty list of points '
          "[{name: value, ...}, ...]")


@dataclasses.dataclass(frozen=True)
class Space:
  """An AlgoPerf search space: edgeperf's form of it, and its points."""

  space: search_space_lib.SearchSpace
  names: tuple[str, ...]  # hyperparameter names, in the file's order
  points: tuple[dict[str, Any], ...] = ()  # list form with several points


def read_search_space(path: str | None) -> Space:
  """Parses an AlgoPerf search-space file (None: self-tuning, empty).

  Raises:
    AlgoPerfError: not JSON, or neither form (naming the file).
  """
  if path is None:
    return Space(search_space_lib.SearchSpace("self", (), source="<none>"),
                 ())
  try:
    with open(path, encoding="utf-8") as f:
      data = json.load(f)
  except (OSError, json.JSONDecodeError) as e:
    raise AlgoPerfError(f"{path}: not a readable JSON file ({e})") from None
  if isinstance(data, dict) and data:
    return Space(_dict_form(data, path), tuple(data))
  if (isinstance(data, list) and data and
      all(isinstance(p, dict) and p for p in data)):
    names = tuple(data[0])
    if any(set(p) != set(names) for p in data):
      raise AlgoPerfError(f"{path}: every point of a list search space must "
                          f"name the same hyperparameters, {list(names)}")
    if len(data) == 1:
      hps = tuple(search_space_lib.Hyperparameter(k, values=(v,))
                  for k, v in data[0].items())
      return Space(search_space_lib.SearchSpace("external", hps, path), names)
    hp = search_space_lib.Hyperparameter(POINT, values=tuple(range(len(data))))
    return Space(search_space_lib.SearchSpace("external", (hp,), path), names,
                 tuple(data))
  raise AlgoPerfError(f"{path}: is neither AlgoPerf search-space form; "
                      f"expected {_FORMS}")


def _dict_form(data: dict[str, Any], path: str
               ) -> search_space_lib.SearchSpace:
  hps = []
  for name, spec in data.items():
    if isinstance(spec, dict) and set(spec) == {"feasible_points"}:
      points = spec["feasible_points"]
      if isinstance(points, list) and points:
        hps.append(search_space_lib.Hyperparameter(name, values=tuple(points)))
        continue
    elif isinstance(spec, dict) and set(spec) == {"min", "max", "scaling"}:
      low, high, scale = spec["min"], spec["max"], spec["scaling"]
      if (all(isinstance(v, (int, float)) and not isinstance(v, bool)
              for v in (low, high)) and low <= high and
          scale in ("log", "linear") and (scale == "linear" or low > 0)):
        hps.append(search_space_lib.Hyperparameter(
            name, low=float(low), high=float(high), scale=scale))
        continue
    raise AlgoPerfError(
        f"{path}: hyperparameter {name!r} is {spec!r}, neither "
        '{"feasible_points": [non-empty list]} nor {"min": x, "max": y, '
        '"scaling": "log"|"linear"} with x <= y (x > 0 for log)')
  return search_space_lib.SearchSpace("external", tuple(hps), path)


# --------------------------------------------------------- hyperparameters --

def hyperparameters_class(names: tuple[str, ...], path: str,
                          source: str) -> type:
  """AlgoPerf's namedtuple of hyperparameters, whose missing attributes are
  an ``AttributeError`` naming the submission and its search space (so
  ``hasattr`` still answers False)."""
  base = collections.namedtuple("Hyperparameters", names)

  def __getattr__(self, name):  # only for names that are not fields
    if name.startswith("__"):
      raise AttributeError(name)
    raise AttributeError(
        f"{path}: reads hyperparameter {name!r}, which {source} does not "
        f"define (it defines {list(names)})")

  return type("Hyperparameters", (base,), {"__slots__": (),
                                           "__getattr__": __getattr__})


@dataclasses.dataclass(frozen=True, eq=False)
class AlgoPerfTuner:
  """An AlgoPerf submission with its hyperparameters: what
  :meth:`edgeperf.submissions.loader.TunerSpec.build` gives for one, run by
  :mod:`edgeperf.harness.owned_steps` (it owns its steps)."""

  module: Any  # the imported submission file
  spec: Any  # the algoperf.spec module it imported
  hyperparameters: Any  # the namedtuple, or None (self-tuning)
  path: str  # the submission file

  @property
  def training_complete_error(self) -> type:
    return self.spec.TrainingCompleteError

  def entry(self, name: str) -> Callable[..., Any] | None:
    return getattr(self.module, name, None)


def tuner_factory(module: Any, spec: Any, space: Space,
                  path: str) -> Callable[..., AlgoPerfTuner]:
  """``make_tuner(**hparams) -> AlgoPerfTuner``: the hyperparameters become
  AlgoPerf's namedtuple (a list-form :data:`POINT` index, its point)."""
  self_tuning = space.space.ruleset == "self" and not space.names

  def make_tuner(**hparams: Any) -> AlgoPerfTuner:
    if self_tuning and not hparams:
      return AlgoPerfTuner(module, spec, None, path)
    values = dict(hparams)
    if POINT in values:
      index = values.pop(POINT)
      if not (isinstance(index, int) and 0 <= index < len(space.points)):
        raise AlgoPerfError(f"{space.space.source}: {POINT} must be an index "
                            f"in [0, {len(space.points)}), got {index!r}")
      values = {**space.points[index], **values}
    names = tuple(dict.fromkeys(space.names + tuple(values)))
    missing = [n for n in names if n not in values]
    if missing:
      raise AlgoPerfError(f"{space.space.source}: no value for "
                          f"hyperparameter(s) {missing} of {path}")
    cls = hyperparameters_class(names, path, space.space.source)
    return AlgoPerfTuner(module, spec, cls(**{n: values[n] for n in names}),
                         path)

  setattr(make_tuner, OWNS_STEPS, True)
  return make_tuner
