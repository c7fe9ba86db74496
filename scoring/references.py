"""Reference submissions: what speed-ups are measured against.

A reference is a submission's name, or ``name[key=value,...]``: the
trials of that submission whose hyperparameters match.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pandas as pd

DEFAULT_REFERENCES = ("constant", "warmup_schedule")
"""The one default: the tuned constant rate and the tuned warm-up + cosine
schedule (of the division being scored)."""


def parse_reference(spec: str) -> tuple[str, dict[str, Any]]:
  """``name`` or ``name[key=value,...]`` → (name, {key: value}).

  Values are read as JSON when they parse (numbers, true/false), else kept
  as strings: ``warmup_schedule[shape=cosine]`` → ("warmup_schedule",
  {"shape": "cosine"}).
  """
  m = re.fullmatch(r"\s*([^\[\]\s]+)\s*(?:\[(.*)\])?\s*", spec)
  if not m:
    raise ValueError(f"reference {spec!r}: expected name or "
                     "name[key=value,...]")
  filters = {}
  if m.group(2):
    for part in m.group(2).split(","):
      if "=" not in part:
        raise ValueError(f"reference {spec!r}: filter {part!r} is not "
                         "key=value")
      key, value = (s.strip() for s in part.split("=", 1))
      try:
        filters[key] = json.loads(value)
      except json.JSONDecodeError:
        filters[key] = value
  return m.group(1), filters


def select_reference(trials: pd.DataFrame, spec: str) -> pd.DataFrame:
  """The trials of a reference: the submission's, those whose hparams match
  the filters, with ``submission`` renamed to ``spec``."""
  name, filters = parse_reference(spec)
  rows = trials[trials["submission"] == name]
  if filters:
    keep = rows["hparams"].map(lambda h: all(
        json.loads(h).get(k) == v for k, v in filters.items()))
    rows = rows[keep.astype(bool)]
  rows = rows.copy()
  rows["submission"] = spec
  return rows
