"""JSON files written atomically, with a strict-JSON encoding of floats.

Non-finite floats are not JSON: ∞ is written as the string ``"inf"`` (and
``"-inf"``), NaN as ``null``; numpy scalars and arrays become plain Python.
A file is written to a temporary name in the same folder, flushed to disk and
renamed over the target, so a reader sees the old file or the new one, never
a half-written one.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from typing import Any, Mapping

import numpy as np


class JsonFileError(ValueError):
  """A JSON file that cannot be read; the message names the file."""


def to_jsonable(value: Any) -> Any:
  """Converts numpy values and non-finite floats for strict JSON."""
  if isinstance(value, Mapping):
    return {str(k): to_jsonable(v) for k, v in value.items()}
  if isinstance(value, (list, tuple)):
    return [to_jsonable(v) for v in value]
  if isinstance(value, np.ndarray):
    return to_jsonable(value.tolist())
  if isinstance(value, np.generic):
    value = value.item()
  if isinstance(value, float) and not math.isfinite(value):
    return None if math.isnan(value) else ("inf" if value > 0 else "-inf")
  return value


def to_float(value: Any) -> float:
  """A JSON number, ``"inf"``/``"-inf"`` or null (NaN) as a float."""
  if value is None:
    return math.nan
  try:
    return float(value)
  except (TypeError, ValueError):
    return math.nan


def atomic_write_json(path: str, data: Any) -> None:
  """Writes ``data`` (see :func:`to_jsonable`) to ``path`` atomically."""
  folder = os.path.dirname(os.path.abspath(path))
  fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-",
                             suffix=os.path.basename(path))
  try:
    with os.fdopen(fd, "w") as f:
      json.dump(to_jsonable(data), f, indent=2, sort_keys=True)
      f.write("\n")
      f.flush()
      os.fsync(f.fileno())
    os.replace(tmp, path)
  except BaseException:
    if os.path.exists(tmp):
      os.unlink(tmp)
    raise


def read_json(path: str) -> Any:
  """Reads a JSON file.

  Raises:
    FileNotFoundError: no such file.
    JsonFileError: the file exists but is not valid JSON (truncated,
      corrupt), naming the file and where it breaks.
  """
  try:
    with open(path) as f:
      text = f.read()
  except UnicodeDecodeError as e:
    raise JsonFileError(f"{path}: not a text file ({e})") from None
  try:
    return json.loads(text)
  except json.JSONDecodeError as e:
    what = "empty" if not text.strip() else f"not valid JSON ({e})"
    raise JsonFileError(f"{path}: {what}; the file is truncated or "
                        "corrupt") from None
