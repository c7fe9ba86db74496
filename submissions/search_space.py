"""Search spaces: the ``search_space.json`` file beside every submission.

Format (every key checked, see WORKSPACE.md)::

    {
      "ruleset": "external",            # or "self" (no tuning: one run/study)
      "hyperparameters": {
        "learning_rate": {"log2_grid": {"base": 0.001, "exponents": [-1, 7]}},
        "sigma":         {"values": [1.0, 2.0, 2.0625]},
        "beta":          {"min": 0.0, "max": 0.99, "scale": "linear"},
        "eps":           {"min": 1e-12, "max": 1e-6, "scale": "log"},
        "base_optimizer": {"value": "gd"}
      }
    }

``value`` fixes a hyperparameter, ``values`` and ``log2_grid`` give a finite
set (``log2_grid`` expands to base · 2^i for i in [lo, hi]), ``min``/``max``
give a continuous range sampled on a ``log`` or ``linear`` scale.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
import os
from typing import Any, Iterator

from edgeperf import _checks

RULESETS = ("external", "self")
SCALES = ("linear", "log")


class SearchSpaceError(ValueError):
  """A malformed search space; the message names the file and the key."""


@dataclasses.dataclass(frozen=True)
class Hyperparameter:
  """One searched (or fixed) hyperparameter."""

  name: str
  values: tuple[Any, ...] | None = None  # finite set (grid/choice/fixed)
  low: float | None = None  # continuous range, inclusive
  high: float | None = None
  scale: str = "linear"

  @property
  def is_finite(self) -> bool:
    return self.values is not None

  @property
  def is_fixed(self) -> bool:
    return self.values is not None and len(self.values) == 1

  def from_unit(self, u: float) -> Any:
    """Maps u ∈ [0, 1] to a value (the quasi-random samplers use this)."""
    if self.values is not None:
      index = min(int(u * len(self.values)), len(self.values) - 1)
      return self.values[index]
    if self.scale == "log":
      lo, hi = math.log(self.low), math.log(self.high)
      return float(math.exp(lo + u * (hi - lo)))
    return float(self.low + u * (self.high - self.low))


@dataclasses.dataclass(frozen=True)
class SearchSpace:
  """A parsed search space."""

  ruleset: str
  hyperparameters: tuple[Hyperparameter, ...]
  source: str = "<memory>"

  @property
  def names(self) -> tuple[str, ...]:
    return tuple(h.name for h in self.hyperparameters)

  @property
  def is_finite(self) -> bool:
    return all(h.is_finite for h in self.hyperparameters)

  def defaults(self) -> dict[str, Any]:
    """The fixed hyperparameters (those with a single value)."""
    return {h.name: h.values[0] for h in self.hyperparameters if h.is_fixed}

  def grid(self) -> Iterator[dict[str, Any]]:
    """Every point of a finite space, in a fixed order (cartesian product)."""
    if not self.is_finite:
      raise SearchSpaceError(
          f"{self.source}: grid() needs every hyperparameter finite; "
          f"{[h.name for h in self.hyperparameters if not h.is_finite]} are "
          "continuous ranges")
    names = self.names
    for combo in itertools.product(*(h.values for h in self.hyperparameters)):
      yield dict(zip(names, combo))

  def size(self) -> float:
    """Number of grid points, or inf for a space with a continuous range."""
    if not self.is_finite:
      return math.inf
    return math.prod(len(h.values) for h in self.hyperparameters)


def _one_of(where: str, name: str, value: Any, choices: tuple[str, ...]):
  try:
    _checks.one_of(name, value, choices)
  except ValueError as e:
    raise SearchSpaceError(f"{where}: {e}") from None


def _parse_spec(name: str, spec: Any, where: str) -> Hyperparameter:
  """Parses one hyperparameter spec; errors name the file and the key."""
  if not isinstance(spec, dict):
    raise SearchSpaceError(
        f"{where}: hyperparameter {name!r} must be an object such as "
        f'{{"values": [...]}}, got {_checks.shown(spec)}')
  keys = set(spec)
  if keys == {"value"}:
    return Hyperparameter(name, values=(spec["value"],))
  if keys == {"values"}:
    values = spec["values"]
    if not isinstance(values, list) or not values:
      raise SearchSpaceError(
          f"{where}: {name!r}.values must be a non-empty list, got {_checks.shown(values)}")
    return Hyperparameter(name, values=tuple(values))
  if keys == {"log2_grid"}:
    grid = spec["log2_grid"]
    ok = (isinstance(grid, dict) and set(grid) == {"base", "exponents"} and
          isinstance(grid["base"], (int, float)) and grid["base"] > 0 and
          isinstance(grid["exponents"], list) and len(grid["exponents"]) == 2
          and all(isinstance(e, int) for e in grid["exponents"]) and
          grid["exponents"][0] <= grid["exponents"][1])
    if not ok:
      raise SearchSpaceError(
          f"{where}: {name!r}.log2_grid must be "
          '{"base": positive number, "exponents": [lo, hi]} with integer '
          f"lo <= hi, got {_checks.shown(grid)}")
    lo, hi = grid["exponents"]
    return Hyperparameter(
        name, values=tuple(float(grid["base"]) * 2.0**i
                           for i in range(lo, hi + 1)))
  if keys in ({"min", "max"}, {"min", "max", "scale"}):
    low, high, scale = spec["min"], spec["max"], spec.get("scale", "linear")
    if not all(isinstance(v, (int, float)) for v in (low, high)) or low > high:
      raise SearchSpaceError(
          f"{where}: {name!r} needs numeric min <= max, got {low!r}, {high!r}")
    _one_of(where, f"{name!r}.scale", scale, SCALES)
    if scale == "log" and low <= 0:
      raise SearchSpaceError(
          f"{where}: {name!r} has scale 'log' but min {low!r} is not > 0")
    return Hyperparameter(name, low=float(low), high=float(high), scale=scale)
  raise SearchSpaceError(
      f"{where}: hyperparameter {name!r} has keys {sorted(keys)}; expected "
      'exactly one of {"value"}, {"values"}, {"log2_grid"}, '
      '{"min", "max"[, "scale"]}')


def parse(data: Any, source: str = "<memory>") -> SearchSpace:
  """Parses a decoded search-space document (see the module docstring)."""
  if not isinstance(data, dict):
    raise SearchSpaceError(f"{source}: top level must be a JSON object")
  unknown = set(data) - {"ruleset", "hyperparameters"}
  if unknown:
    raise SearchSpaceError(
        f"{source}: unknown top-level keys {sorted(unknown)}; expected "
        "'ruleset' and 'hyperparameters'")
  ruleset = data.get("ruleset", "external")
  _one_of(source, "ruleset", ruleset, RULESETS)
  hps = data.get("hyperparameters", {})
  if not isinstance(hps, dict):
    raise SearchSpaceError(f"{source}: 'hyperparameters' must be an object")
  parsed = tuple(_parse_spec(k, v, source) for k, v in hps.items())
  if ruleset == "self" and any(not h.is_fixed for h in parsed):
    raise SearchSpaceError(
        f"{source}: ruleset 'self' allows only fixed values "
        f"({{\"value\": x}}); searched: "
        f"{[h.name for h in parsed if not h.is_fixed]}")
  return SearchSpace(ruleset=ruleset, hyperparameters=parsed, source=source)


def load(path: str | os.PathLike[str]) -> SearchSpace:
  """Reads and parses a ``search_space.json`` file."""
  path = os.fspath(path)
  if not os.path.exists(path):
    raise SearchSpaceError(
        f"{path}: missing; every submission needs a search_space.json beside "
        "its submission.py")
  try:
    with open(path) as f:
      data = json.load(f)
  except json.JSONDecodeError as e:
    raise SearchSpaceError(f"{path}: not valid JSON ({e})") from e
  return parse(data, source=path)
