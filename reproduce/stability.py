"""How far two reproductions agree: verdicts and checks that changed.

Run once on the seeds and once on their roundoff replicates only
(``--replicates_only``, every initialisation perturbed by a relative 1e-7):
every verdict, aggregated check or per-seed check that differs between the
two was decided by rounding, not by the tuner (goal: none).  Reads the
``findings.json`` of each (:func:`edgeperf.reproduce.report.as_json`).
"""

from __future__ import annotations

import json
from typing import Any, Mapping, NamedTuple


class Change(NamedTuple):
  """One thing that differs between two reproductions."""

  finding: str  # F1..M4
  what: str  # "verdict", "<check>" (over seeds) or "<check> (seed s)"
  before: Any  # in the reference reproduction
  after: Any  # in this one


class Comparison(NamedTuple):
  """Two reproductions compared, finding by finding (those in both)."""

  findings: int  # compared
  verdicts: list[Change]  # verdicts that changed
  checks: list[Change]  # checks over seeds whose outcome changed
  seed_checks: list[Change]  # per-seed checks whose outcome changed
  seed_checks_total: int  # per-seed checks compared


def load(path: str) -> Mapping[str, Any]:
  """A ``findings.json``.

  Raises:
    ValueError: the file is missing or is not a reproduction's findings.
  """
  try:
    with open(path) as f:
      data = json.load(f)
  except (OSError, json.JSONDecodeError) as e:
    raise ValueError(f"cannot read the reproduction to compare with, "
                     f"{path}: {e}") from None
  if not isinstance(data, dict) or "findings" not in data:
    raise ValueError(f"{path} is not a findings.json of edgeperf-reproduce")
  return data


def compare(reference: Mapping[str, Any],
            current: Mapping[str, Any]) -> Comparison:
  """What changed from ``reference`` to ``current`` (two ``findings.json``
  contents): per finding present in both, the verdict, each check over
  seeds, and each check on each seed the two share."""
  verdicts, checks, seed_checks, total = [], [], [], 0
  common = [k for k in current["findings"] if k in reference["findings"]]
  for fid in common:
    a, b = reference["findings"][fid], current["findings"][fid]
    if a.get("verdict") != b.get("verdict"):
      verdicts.append(Change(fid, "verdict", a.get("verdict"),
                             b.get("verdict")))
    before = {c["name"]: c["passed"] for c in a.get("checks", [])}
    for c in b.get("checks", []):
      if c["name"] in before and before[c["name"]] != c["passed"]:
        checks.append(Change(fid, c["name"], before[c["name"]], c["passed"]))
    for seed, run in b.get("by_seed", {}).items():
      ref = a.get("by_seed", {}).get(seed)
      if ref is None:
        continue
      ref_checks = {c["name"]: c["passed"] for c in ref["checks"]}
      for c in run["checks"]:
        if c["name"] not in ref_checks:
          continue
        total += 1
        if ref_checks[c["name"]] != c["passed"]:
          seed_checks.append(Change(fid, f"{c['name']} (seed {seed})",
                                    ref_checks[c["name"]], c["passed"]))
  return Comparison(len(common), verdicts, checks, seed_checks, total)


def summary(c: Comparison) -> str:
  """One line: how many verdicts and checks changed."""
  return (f"{len(c.verdicts)} of {c.findings} verdicts changed, "
          f"{len(c.checks)} checks over seeds, {len(c.seed_checks)} of "
          f"{c.seed_checks_total} per-seed checks")


def markdown(c: Comparison, reference: str) -> list[str]:
  """The section of ``findings.md`` comparing with ``reference``."""
  lines = [f"## Compared with `{reference}`", "", summary(c) + ".", ""]
  changes = c.verdicts + c.checks + c.seed_checks
  if changes:
    lines += ["| finding | what | before | after |", "|---|---|---|---|"]
    lines += [f"| {x.finding} | {x.what} | {x.before} | {x.after} |"
              for x in changes]
    lines.append("")
  return lines
