"""``workloads/targets.json``: the stored targets, read and written here only.

One entry per preset key ``name/size/regime`` (regime ``full`` or
``b<batch>``); WORKSPACE.md lists the fields.  The procedure that sets them
is :mod:`edgeperf.protocol.targets`.
"""

from __future__ import annotations

import os
from typing import Any, Mapping

from edgeperf import _jsonio

TARGETS_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                            "targets.json")


def load(path: str = TARGETS_FILE) -> dict[str, Any]:
  """Every stored entry by key (empty when the file does not exist).

  Raises:
    edgeperf._jsonio.JsonFileError: the file is not valid JSON (named).
  """
  try:
    data = _jsonio.read_json(path)
  except FileNotFoundError:
    return {}
  if not isinstance(data, dict):
    raise _jsonio.JsonFileError(f"{path}: expected a JSON object of targets")
  return data


def store(entries: Mapping[str, Mapping[str, Any]],
          path: str = TARGETS_FILE) -> None:
  """Adds or replaces ``entries`` (key → entry) and rewrites the file."""
  stored = load(path)
  stored.update({k: dict(v) for k, v in entries.items()})
  _jsonio.atomic_write_json(path, stored)
