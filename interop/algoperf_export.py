"""Exports an edgeperf submission as a self-contained AlgoPerf JAX submission.

The folder written holds:

  * ``submission.py``: AlgoPerf's entry points (MLCommons AlgoPerf,
    ``algoperf/spec.py``).  ``init_optimizer_state`` builds the tuner from
    the hyperparameters (``num_steps``, a schedule's horizon, defaults to
    ``workload.step_hint``); ``update_params`` runs one jitted edgeperf
    step: f and its gradient on the batch, f built from ``workload.model_fn``
    and ``workload.loss_fn`` plus (wd/2)‖w‖² (:data:`WEIGHT_DECAY`, edgeperf's
    objective), then the tuner's update with ``value``, ``grad`` and
    ``value_fn`` — so line searches and curvature estimates work — and its
    curvature refresh on edgeperf's schedule.
  * ``tuning_search_space.json``: the search space in AlgoPerf's dict form
    (``values``/``value``/``log2_grid`` → ``feasible_points``,
    ``min``/``max``/``scale`` → ``min``/``max``/``scaling``), with
    :data:`WEIGHT_DECAY` fixed; none for a self-tuning submission, whose
    fixed values are written into ``submission.py``.
  * the tuner's code, vendored as one package (``_tuner_<name>``): every
    edgeperf module it imports, found from the syntax trees, with
    ``edgeperf`` renamed in the imports and optax calls newer than optax
    0.2.2 (AlgoPerf's pin) routed through :mod:`.optax_compat`.

Refused, with a one-line reason: a tuner using ``optax.contrib`` names
that optax 0.2.2 lacks (schedule-free, DoG), or a ``prepare_for_eval`` hook
(AlgoPerf trains on from the parameters its ``prepare_for_eval`` returns;
edgeperf's hook only picks what is evaluated).
"""

from __future__ import annotations

import ast
import dataclasses
import importlib.util
import inspect
import json
import math
import os
import re
import shutil
import string
from typing import Any

from edgeperf.submissions import loader
from edgeperf.submissions import search_space as search_space_lib
from edgeperf.interop import algoperf_template
from edgeperf.interop import optax_compat

WEIGHT_DECAY = "objective_weight_decay"
"""The exported hyperparameter holding wd of f = L + (wd/2)‖w‖² (fixed)."""
DEFAULT_WEIGHT_DECAY = 1e-5
MARKER = ".edgeperf-export"
"""File marking a folder written by the export (it may be rewritten)."""
OPTAX_0_2_2_CONTRIB = (
    "cocob", "COCOBState", "split_real_and_imaginary",
    "SplitRealAndImaginaryState", "dadapt_adamw", "DAdaptAdamWState",
    "MechanicState", "mechanize", "differentially_private_aggregate",
    "DifferentiallyPrivateAggregateState", "dpsgd", "prodigy", "ProdigyState",
    "reduce_on_plateau", "ReduceLROnPlateauState", "normalize",
    "NormalizeState", "sam", "SAMState")
"""``optax.contrib``'s names in optax 0.2.2 (its ``contrib/__init__.py``)."""


class ExportError(ValueError):
  """A submission that cannot be exported; the message says why."""


@dataclasses.dataclass(frozen=True)
class Exported:
  """What :func:`export` wrote."""

  folder: str
  package: str  # the vendored package's name
  files: tuple[str, ...]  # paths relative to ``folder``


# ---------------------------------------------------------------- vendoring --

def _edgeperf_imports(path: str) -> list[str]:
  """Absolute ``edgeperf`` modules ``path`` imports (with each imported
  name that is itself a module)."""
  tree = ast.parse(open(path, encoding="utf-8").read(), path)
  found = []
  for node in ast.walk(tree):
    if isinstance(node, ast.Import):
      found += [a.name for a in node.names
                if a.name.split(".")[0] == "edgeperf"]
    elif (isinstance(node, ast.ImportFrom) and not node.level and
          node.module and node.module.split(".")[0] == "edgeperf"):
      found.append(node.module)
      for alias in node.names:
        name = f"{node.module}.{alias.name}"
        if _origin(name) is not None:
          found.append(name)
  return found


def _origin(module: str) -> str | None:
  try:
    spec = importlib.util.find_spec(module)
  except (ImportError, ValueError):
    return None
  return None if spec is None else spec.origin


def closure(entry_path: str, entry_module: str | None) -> dict[str, str]:
  """``{edgeperf module: file}`` the entry file needs (the packages on
  each module's way included: importing a module runs their
  ``__init__``)."""
  todo, files = [], {}
  for name in _edgeperf_imports(entry_path):
    todo.append(name)
  if entry_module:
    todo += _parents(entry_module)
  while todo:
    name = todo.pop()
    if name in files:
      continue
    origin = _origin(name)
    if origin is None:
      raise ExportError(f"{entry_path}: imports {name}, not found")
    files[name] = origin
    todo += _edgeperf_imports(origin) + _parents(name)
  return files


def _parents(module: str) -> list[str]:
  parts = module.split(".")
  return [".".join(parts[:i]) for i in range(1, len(parts))]


_IMPORT = re.compile(r"^(\s*(?:from|import)\s+)edgeperf(?=[\s.])", re.M)


def rewrite(text: str, package: str) -> str:
  """Vendored source: ``edgeperf`` imports renamed to ``package``,
  ``optax.tree.X`` and ``optax.scale_by_rms`` routed through the package's
  ``_optax_compat``."""
  text = _IMPORT.sub(lambda m: m.group(1) + package, text)
  used = sorted(set(re.findall(r"\boptax\.tree\.(\w+)", _code_only(text))))
  unknown = [u for u in used if u not in optax_compat.TREE_FUNCTIONS]
  if unknown:
    raise ExportError(f"uses optax.tree.{unknown[0]}, absent from optax 0.2.2 "
                      f"and not vendored (vendored: "
                      f"{list(optax_compat.TREE_FUNCTIONS)})")
  compat = re.compile(r"\boptax\.(tree\.|(?=scale_by_rms\b))")
  if not compat.search(_code_only(text)):
    return text
  text = _replace_in_code(text, compat, "_optax_compat.")
  anchor = re.search(r"^import optax\s*$", text, re.M)
  line = f"from {package} import _optax_compat\n"
  if anchor is None:
    raise ExportError("uses optax.tree without a top-level 'import optax'")
  return text[:anchor.end() + 1] + line + text[anchor.end() + 1:]


def _code_spans(text: str) -> list[tuple[int, int]]:
  """(start, end) offsets of the docstrings and comments in ``text``."""
  lines = text.splitlines(keepends=True)
  starts = [0]
  for line in lines:
    starts.append(starts[-1] + len(line))
  spans = []
  for node in ast.walk(ast.parse(text)):
    if (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
        and isinstance(node.value.value, str)):
      spans.append((starts[node.lineno - 1] + node.col_offset,
                    starts[node.end_lineno - 1] + node.end_col_offset))
  for match in re.finditer(r"#[^\n]*", text):
    spans.append(match.span())
  return spans


def _code_only(text: str) -> str:
  """``text`` with docstrings and comments blanked (same offsets)."""
  chars = list(text)
  for a, b in _code_spans(text):
    for i in range(a, b):
      if chars[i] != "\n":
        chars[i] = " "
  return "".join(chars)


def _replace_in_code(text: str, pattern: re.Pattern, new: str) -> str:
  code = _code_only(text)
  out, last = [], 0
  for match in pattern.finditer(code):
    out += [text[last:match.start()], new]
    last = match.end()
  return "".join(out) + text[last:]


def _refusal(name: str, sources: dict[str, str], module: Any) -> str | None:
  """Why ``name`` cannot be exported (every reason, one line), or None."""
  reasons = []
  for path, text in sources.items():
    code = _code_only(text)
    used = set(re.findall(r"\bcontrib\.(\w+)", code))
    if re.search(r"\bfrom\s+optax\.contrib\b", code):
      used.add("(from optax.contrib import ...)")
    newer = sorted(u for u in used if u not in OPTAX_0_2_2_CONTRIB)
    if newer:
      names = ", ".join(f"optax.contrib.{u}" for u in newer)
      reasons.append(f"{os.path.basename(path)} uses {names}, which optax "
                     "0.2.2 (AlgoPerf's pin) does not have")
  if getattr(module, loader.EVAL_HOOK, None) is not None:
    reasons.append(f"it defines {loader.EVAL_HOOK}, which picks the "
                   "parameters edgeperf evaluates, while AlgoPerf trains on "
                   "from what its prepare_for_eval returns")
  return f"{name}: refused: {'; '.join(reasons)}" if reasons else None


# -------------------------------------------------------------- search space --

def algoperf_space(space: search_space_lib.SearchSpace,
                   weight_decay: float) -> dict[str, Any]:
  """The dict form of AlgoPerf's ``tuning_search_space.json``."""
  out: dict[str, Any] = {}
  for hp in space.hyperparameters:
    if hp.is_finite:
      out[hp.name] = {"feasible_points": list(hp.values)}
    else:
      out[hp.name] = {"min": hp.low, "max": hp.high, "scaling": hp.scale}
  out[WEIGHT_DECAY] = {"feasible_points": [weight_decay]}
  return out


# ------------------------------------------------------------------- export --

def export(name_or_path: str, output_dir: str, *,
           weight_decay: float = DEFAULT_WEIGHT_DECAY) -> Exported:
  """Writes the AlgoPerf submission folder of a shipped name or a path.

  Raises:
    ExportError: the submission cannot be exported (why, in one line), or
      ``output_dir`` exists, is not empty and was not written by an export.
    edgeperf.submissions.loader.SubmissionError: no such submission.
  """
  if not (isinstance(weight_decay, (int, float)) and
          math.isfinite(weight_decay) and weight_decay >= 0):
    raise ExportError(f"weight_decay must be a finite number >= 0, got "
                      f"{weight_decay!r}")
  where = loader.locate(name_or_path)
  sub = loader.load(name_or_path)
  if not hasattr(sub.make_tuner, "__module__") or not inspect.isfunction(
      sub.make_tuner) or where.path != inspect.getsourcefile(sub.make_tuner):
    raise ExportError(f"{where.path}: not an edgeperf submission "
                      "(make_tuner) defined in this file; only those export")
  module = inspect.getmodule(sub.make_tuner)
  entry_module = (f"edgeperf.submissions.{where.name}.submission"
                  if where.shipped else None)
  files = closure(where.path, entry_module)
  sources = {path: open(path, encoding="utf-8").read()
             for path in [where.path] + sorted(files.values())}
  reason = _refusal(sub.name, sources, module)
  if reason:
    raise ExportError(reason)
  _check_output(output_dir)
  package = "_tuner_" + loader.slug(sub.name).replace("-", "_").replace(
      ".", "_")
  written = _write_package(output_dir, package, files, where, entry_module)
  entry = (entry_module.replace("edgeperf", package, 1) if entry_module
           else f"{package}.entry")
  params = inspect.signature(sub.make_tuner).parameters
  fixed = sub.search_space.defaults() if sub.search_space.ruleset == "self" \
      else {}
  text = string.Template(algoperf_template.TEMPLATE).substitute(
      NAME=sub.name, PACKAGE=package, ENTRY=entry,
      HORIZON=repr(loader.HORIZON if loader.HORIZON in params else None),
      WEIGHT_DECAY=repr(WEIGHT_DECAY), DEFAULT_WD=repr(float(weight_decay)),
      FIXED=repr(fixed))
  _write(output_dir, "submission.py", text)
  written.append("submission.py")
  if sub.search_space.ruleset != "self":
    _write(output_dir, "tuning_search_space.json", json.dumps(
        algoperf_space(sub.search_space, float(weight_decay)), indent=2) + "\n")
    written.append("tuning_search_space.json")
  _write(output_dir, MARKER, f"exported from edgeperf submission {sub.name}\n")
  offenders = edgeperf_imports(output_dir)
  if offenders:
    raise ExportError(f"{output_dir}: the export still imports edgeperf "
                      f"({offenders[0]})")
  return Exported(output_dir, package, tuple(sorted(written)))


def _check_output(output_dir: str) -> None:
  if os.path.isfile(output_dir):
    raise ExportError(f"{output_dir}: is a file; --output_dir must be a "
                      "folder")
  if os.path.isdir(output_dir) and os.listdir(output_dir):
    if not os.path.isfile(os.path.join(output_dir, MARKER)):
      raise ExportError(f"{output_dir}: exists and is not empty (and was not "
                        "written by an export); give a new folder")
    for entry in os.listdir(output_dir):  # an earlier export: replace it
      path = os.path.join(output_dir, entry)
      if os.path.isdir(path) and entry.startswith("_tuner_"):
        shutil.rmtree(path)
      elif os.path.isfile(path) and entry in (
          "submission.py", "tuning_search_space.json", MARKER):
        os.remove(path)


def _write(folder: str, rel: str, text: str) -> None:
  path = os.path.join(folder, rel)
  os.makedirs(os.path.dirname(path), exist_ok=True)
  with open(path, "w", encoding="utf-8") as f:
    f.write(text)


def _write_package(folder, package, files, where, entry_module) -> list[str]:
  written = []
  modules = dict(files)
  if entry_module:
    modules[entry_module] = where.path
  for module, path in sorted(modules.items()):
    rel = module.split(".")[1:]
    is_package = os.path.basename(path) == "__init__.py"
    target = os.path.join(package, *rel, "__init__.py") if is_package else \
        os.path.join(package, *rel[:-1], rel[-1] + ".py")
    if module == "edgeperf":
      target = os.path.join(package, "__init__.py")
    try:
      text = rewrite(open(path, encoding="utf-8").read(), package)
    except ExportError as e:
      raise ExportError(f"{path}: {e}") from None
    _write(folder, target, text)
    written.append(target)
  if not entry_module:
    text = rewrite(open(where.path, encoding="utf-8").read(), package)
    _write(folder, os.path.join(package, "entry.py"), text)
    written.append(os.path.join(package, "entry.py"))
  for root, _, names in os.walk(os.path.join(folder, package)):
    if "__init__.py" not in names:  # a namespace on the way: make it a package
      rel = os.path.relpath(os.path.join(root, "__init__.py"), folder)
      _write(folder, rel, '"""Vendored from edgeperf."""\n')
      written.append(rel)
  compat = os.path.join(package, "_optax_compat.py")
  _write(folder, compat, open(optax_compat.__file__, encoding="utf-8").read())
  written.append(compat)
  return written


def edgeperf_imports(folder: str) -> list[str]:
  """``file:line module`` for every import of ``edgeperf`` in the ``.py``
  files under ``folder`` (empty: self-contained)."""
  out = []
  for root, _, names in os.walk(folder):
    for name in sorted(names):
      if not name.endswith(".py"):
        continue
      path = os.path.join(root, name)
      tree = ast.parse(open(path, encoding="utf-8").read(), path)
      for node in ast.walk(tree):
        modules = []
        if isinstance(node, ast.Import):
          modules = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
          modules = [node.module]
        elif (isinstance(node, ast.Call) and node.args and
              isinstance(node.args[0], ast.Constant) and
              isinstance(node.args[0].value, str)):
          modules = [node.args[0].value]  # importlib.import_module("...")
        out += [f"{os.path.relpath(path, folder)}:{node.lineno} {m}"
                for m in modules if m.split(".")[0] == "edgeperf"]
  return out
