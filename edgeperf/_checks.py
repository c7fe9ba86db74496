"""Argument checks shared by every layer: one wording for every refusal.

Each check raises ``ValueError`` naming the argument, the value received and
what is expected, e.g. ``sigma must be a number > 0, got -1``.  A traced
value (inside ``jit``, or a hyperparameter injected as an array) is not
checked: the same call is checked once with concrete values when the tuner is
first built.
"""

from __future__ import annotations

import math
from typing import Any, Iterable

import jax
import numpy as np


SHOWN_CHARS = 80
"""At most this many characters of a value are echoed in a message."""


def shown(x: Any, limit: int = SHOWN_CHARS) -> str:
  """``repr(x)``, cut to ``limit`` characters with its full length named,
  so a huge value never floods a message or a status file."""
  text = repr(x)
  if len(text) <= limit:
    return text
  return f"{text[:limit]}… ({len(text):,} characters)"


def is_traced(x: Any) -> bool:
  """True for a JAX tracer or array (a value only known inside a program)."""
  return isinstance(x, (jax.core.Tracer, jax.Array))


def _is_number(x: Any) -> bool:
  return (isinstance(x, (int, float, np.integer, np.floating))
          and not isinstance(x, bool))


def number(name: str, x: Any, *, low: float = -math.inf,
           high: float = math.inf, low_open: bool = False,
           high_open: bool = False) -> None:
  """``x`` is a number in the interval from ``low`` to ``high``.

  The ends are included unless ``low_open`` / ``high_open``; the message
  writes the interval as it is meant, e.g. ``a number > 0`` or ``a number in
  [0, 1)``.
  """
  if is_traced(x):
    return
  ok = _is_number(x) and not math.isnan(x)
  if ok:
    ok = (x > low if low_open else x >= low) and (
        x < high if high_open else x <= high)
  if ok:
    return
  if math.isinf(high) and math.isinf(low):
    what = "a number"
  elif math.isinf(high):
    what = f"a number {'>' if low_open else '>='} {low:g}"
  elif math.isinf(low):
    what = f"a number {'<' if high_open else '<='} {high:g}"
  else:
    what = (f"a number in {'(' if low_open else '['}{low:g}, {high:g}"
            f"{')' if high_open else ']'}")
  raise ValueError(f"{name} must be {what}, got {shown(x)}")


def positive(name: str, x: Any) -> None:
  """``x`` is a number > 0."""
  number(name, x, low=0.0, low_open=True)


def non_negative(name: str, x: Any) -> None:
  """``x`` is a number ≥ 0."""
  number(name, x, low=0.0)


def integer(name: str, x: Any, *, low: int | None = None) -> None:
  """``x`` is a Python int (not a bool), ≥ ``low`` when given."""
  ok = (isinstance(x, (int, np.integer)) and not isinstance(x, bool)
        and (low is None or x >= low))
  if not ok:
    bound = "" if low is None else f" >= {low}"
    raise ValueError(f"{name} must be an int{bound}, got {shown(x)}")


_KIND_WORDS = {"number": "a number", "int": "an int", "float": "a float",
               "string": "a string", "bool": "a bool", "null": "null",
               "list": "a list", "object": "an object"}


def json_kind(x: Any) -> str:
  """What ``x`` is, in JSON's words: ``bool``, ``int``, ``float``,
  ``string``, ``null``, ``list`` or ``object`` (else its type's name)."""
  if isinstance(x, (bool, np.bool_)):
    return "bool"
  if isinstance(x, (int, np.integer)):
    return "int"
  if isinstance(x, (float, np.floating)):
    return "float"
  for kind, types in (("string", str), ("null", type(None)),
                      ("list", (list, tuple)), ("object", dict)):
    if isinstance(x, types):
      return kind
  return type(x).__name__


def of_kinds(name: str, x: Any, kinds: Iterable[str]) -> None:
  """``x`` is of one of ``kinds`` (:func:`json_kind` names; ``number`` is an
  int or a float), e.g. ``sigma must be a number or a string, got [1]``."""
  kinds = set(kinds)
  if "number" in kinds or {"int", "float"} <= kinds:
    kinds = (kinds - {"int", "float"}) | {"number"}
  if json_kind(x) in kinds or ("number" in kinds and json_kind(x) in (
      "int", "float")):
    return
  words = [w for k, w in _KIND_WORDS.items() if k in kinds]
  words += sorted(kinds - set(_KIND_WORDS))
  raise ValueError(f"{name} must be {' or '.join(words)}, got {shown(x)}")


def one_of(name: str, x: Any, choices: Iterable[Any]) -> None:
  """``x`` is one of ``choices``."""
  choices = tuple(choices)
  if x not in choices:
    raise ValueError(f"unknown {name} {shown(x)}: {name} must be one of {choices}")


def required_extras(transform: str, **extras: Any) -> None:
  """Fails loudly when a transform's required keyword argument is missing."""
  missing = [k for k, v in extras.items() if v is None]
  if missing:
    raise ValueError(
        f"{transform}.update needs the keyword argument(s) {missing}; call it "
        "as tx.update(grad, state, params, value=f(w), grad=∇f(w), "
        "value_fn=f) (the harness's step does; a chain forwards them)")
