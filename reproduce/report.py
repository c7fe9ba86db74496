"""Writes ``findings.md`` and ``findings.json`` from judged findings.

Everything in them is computed: verdicts come from the checks
(:mod:`.criteria`), numbers from the runs and models; nothing is typed in.
"""

from __future__ import annotations

import datetime
import os
from typing import Any, Mapping, Sequence

from edgeperf import _jsonio
from edgeperf.harness import fingerprint
from edgeperf.reproduce import criteria
from edgeperf.reproduce import experiments
from edgeperf.reproduce import measures as M
from edgeperf.reproduce import pipeline

PRIOR_DATA_NOTE = (
    "The settings (workloads, rates, step counts) were chosen from earlier "
    "exploratory runs of a prototype of this command, so those runs' "
    "numbers were known when the criteria were written. The thresholds were "
    "not fitted to them: they are the few shared constants stated above "
    "(1.25 for *on par*, 10× for *orders of magnitude*), applied the same "
    "way to every finding, and criteria that the prototype's numbers were "
    "known to fail were kept as written.")


def _cell(text: Any) -> str:
  return str(text).replace("|", "\\|").replace("\n", " ")


def verdict_table(outcomes: Sequence[pipeline.Outcome]) -> list[str]:
  """The summary table: finding, claim, verdict, key number, checks."""
  lines = ["| finding | claim | verdict | key number | checks passed |",
           "|---|---|---|---|---|"]
  for o in outcomes:
    f = o.finding
    if o.error:
      lines.append(f"| {f.id} | {_cell(f.claim)} | not judged | "
                   f"{_cell(o.error)} | — |")
      continue
    first = next(iter(o.judgements.values()))
    passed = sum(c.passed for j in o.judgements.values() for c in j.checks)
    total = sum(len(j.checks) for j in o.judgements.values())
    lines.append(f"| {f.id} | {_cell(f.claim)} | **{o.verdict}** | "
                 f"{_cell(first.key_number)} | {passed}/{total} |")
  return lines


def _check_table(checks: Sequence[criteria.Check]) -> list[str]:
  lines = ["| check | criterion (fixed before running) | measured | "
           "passed |", "|---|---|---|---|"]
  for c in checks:
    name = f"**{c.name}**" if c.headline else c.name
    lines.append(f"| {name} | {_cell(c.criterion)} | {_cell(M.fmt(c.measured))}"
                 f" | {'yes' if c.passed else '**no**'} |")
  return lines


def _cost_line(cost: pipeline.Cost) -> str:
  return (f"Cost: the tuners' clocked time {cost.tuner_s:.1f} s; diagnostics "
          f"(outside the clock, not charged to any tuner) "
          f"{cost.diagnostics_s:.1f} s; compilation {cost.compile_s:.1f} s; "
          f"evaluations and the rest {cost.other_s:.1f} s — {cost.runs} "
          f"distinct runs. This finding took {cost.elapsed_s:.0f} s of wall "
          f"time and {cost.cpu_s:.0f} CPU-s in this process.")


def finding_section(o: pipeline.Outcome, size: experiments.Size,
                    output_dir: str) -> list[str]:
  f = o.finding
  verdict = o.verdict or "not judged"
  lines = [f"## {f.id} — {f.title} ({f.paper}): **{verdict}**", "",
           f"**Claim.** {f.claim}", "", f"**Setting.** {f.setting(size)}" +
           (f"; seeds {', '.join(map(str, o.seeds))}." if o.seeds else "."),
           ""]
  if o.error:
    return lines + [f"**Not judged:** {o.error}", ""]
  for seed, j in o.judgements.items():
    if seed is not None and len(o.judgements) > 1:
      lines += [f"Seed {seed}: **{o.verdicts[seed]}**", ""]
    lines += _check_table(j.checks) + [""]
  if o.cost is not None and o.cost.runs:
    lines += [_cost_line(o.cost), ""]
    folders = sorted({os.path.relpath(p, output_dir)
                      for d in o.run_dirs.values() for p in d.values()})
    lines += ["Run folders: " + ", ".join(f"`{p}`" for p in folders), ""]
  if f.notes:
    lines += [f"**Notes.** {f.notes}", ""]
  if o.figure:
    rel = os.path.relpath(o.figure, output_dir)
    lines += [f"![{f.id}]({rel})", ""]
  return lines


def markdown(outcomes: Sequence[pipeline.Outcome], *, size: str,
             command: str, output_dir: str, elapsed_s: float,
             cpu_s: float) -> str:
  """The whole of ``findings.md``."""
  the_size = experiments.get_size(size)
  hw = fingerprint.hardware_fingerprint()
  when = datetime.datetime.now(datetime.timezone.utc).strftime(
      "%Y-%m-%d %H:%M UTC")
  lines = [
      "# Reproducing the papers' findings", "",
      "Written by `edgeperf-reproduce`; rerun it rather than editing. "
      f"Command: `{command}`, finished {when} on {hw['cpu_model']} "
      f"({hw['cpu_count']} cores, backend {hw['backend']}), commit "
      f"`{fingerprint.git_commit()}`. It took {elapsed_s / 60:.1f} min of wall "
      f"time ({cpu_s / 60:.1f} CPU-min).", "",
      f"Size `{the_size.name}`: {the_size.note}.", "",
      "## How the verdicts are computed", "",
      "Each claim (Roulet, Agarwala, Grill, Swirszcz, Blondel & Pedregosa, "
      "2024) is split into checks. Each check's criterion and threshold is "
      "written next to its finding in `reproduce/findings.py`, derived "
      "from the words of the claim, and was fixed before this run; nothing "
      "was changed after seeing its numbers. The verdict is computed: "
      f"**{criteria.SHOWS}** when every check passes, **{criteria.PARTLY}** "
      "when every headline check (in bold) passes or at least half of all "
      f"checks do, **{criteria.NOT_SHOWN}** otherwise; over several seeds, "
      "*shows* only if every seed shows. Shared thresholds: *on par* is a "
      "last-5 loss within 1.25× of the reference (the paper's score: mean "
      "train loss of the last 5 iterates); *loses* or *stalls* is worse than "
      "that; *diverges* is a non-finite loss or no progress from the start; "
      "*orders of magnitude* is at least 10×; the tuned constant must be "
      "interior to its log-2 grid.", "", PRIOR_DATA_NOTE, "",
      "Diagnostics (Lanczos λ_max, preconditioned λ_max, update cosine, "
      "one-step decreases) run every n steps outside the submission clock; "
      "their time is reported apart and never charged to a tuner.", "",
      "## Verdicts", ""]
  lines += verdict_table(outcomes) + [""]
  for o in outcomes:
    lines += finding_section(o, the_size, output_dir)
  return "\n".join(lines).rstrip() + "\n"


def as_json(outcomes: Sequence[pipeline.Outcome], **header: Any
            ) -> dict[str, Any]:
  """Everything of ``findings.md``, as data."""
  out: dict[str, Any] = dict(header, findings={})
  for o in outcomes:
    out["findings"][o.finding.id] = {
        "claim": o.finding.claim, "verdict": o.verdict, "error": o.error,
        "seeds": list(o.seeds), "figure": o.figure,
        "cost": None if o.cost is None else o.cost._asdict(),
        "by_seed": {str(seed): {
            "verdict": o.verdicts.get(seed), "key_number": j.key_number,
            "numbers": j.numbers,
            "checks": [c._asdict() | {"measured": M.fmt(c.measured)}
                       for c in j.checks],
            "runs": o.run_dirs.get(seed, {})}
                    for seed, j in o.judgements.items()}}
  return out


def write(outcomes: Sequence[pipeline.Outcome], *, output_dir: str,
          size: str, command: str, elapsed_s: float, cpu_s: float) -> str:
  """Writes ``findings.md`` and ``findings.json`` into ``output_dir``;
  returns the markdown's path."""
  text = markdown(outcomes, size=size, command=command,
                  output_dir=output_dir, elapsed_s=elapsed_s, cpu_s=cpu_s)
  path = os.path.join(output_dir, "findings.md")
  with open(path + ".tmp", "w") as f:
    f.write(text)
  os.replace(path + ".tmp", path)
  _jsonio.atomic_write_json(
      os.path.join(output_dir, "findings.json"),
      as_json(outcomes, size=size, command=command, elapsed_s=elapsed_s,
              cpu_s=cpu_s))
  return path


def summary(outcomes: Sequence[pipeline.Outcome]) -> Mapping[str, str]:
  """Finding id → verdict (or the error)."""
  return {o.finding.id: o.verdict or f"not judged ({o.error})"
          for o in outcomes}
