"""The leaderboard as markdown (:func:`to_markdown`): the one writer of
``leaderboard.md``'s text.

One section per division (base direction), each scored apart
(:func:`edgeperf.scoring.leaderboard.build_divisions`): its score, workloads
reached, speed-ups against its own references, time and steps to target.
A summary at the top names each division's best entry.  No number compares
entries of two divisions except steps to target (a count of iterations,
the same unit in every division), and the text says so.
"""

from __future__ import annotations

import math
from typing import Any, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from edgeperf.scoring import trials as trials_lib


def _fmt(value: Any, metric: str = "time") -> str:
  if value is None or (isinstance(value, float) and math.isnan(value)):
    return "—"
  value = float(value)
  if math.isinf(value):
    return "∞"
  if metric == "time":
    return f"{value:.3g}"
  if metric == "steps":
    return f"{value:.0f}"
  return f"{value:.3g}"


def _fmt_speedup(value: Any) -> str:
  if value is None or (isinstance(value, float) and math.isnan(value)):
    return "—"
  if math.isinf(value):
    return "∞"
  if value == 0:
    return "0"
  return f"{value:.2f}×"


def _table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
  lines = ["| " + " | ".join(header) + " |",
           "|" + "|".join("---" for _ in header) + "|"]
  for row in rows:
    lines.append("| " + " | ".join(str(c).replace("|", "\\|").replace(
        "\n", " ") for c in row) + " |")
  return "\n".join(lines)


Plots = Mapping[str, Sequence[tuple[str, str]]]
"""``{division: [(caption, relative path), ...]}``; key ``""`` for figures
of no division."""


def _overview(boards: Mapping[str, Any], trials: pd.DataFrame) -> list[str]:
  """How the tables are computed (the same in every division)."""
  lb = next(iter(boards.values()))
  name = trials_lib.METRICS[lb.metric][1]
  hardware: dict[str, str] = {}
  for b in boards.values():
    hardware.update(b.hardware)
  hw = "; ".join(f"`{k}` ({v})" for k, v in hardware.items()) or "unknown"
  studies = trials.groupby(["workload", "submission", "division"])[
      "study"].nunique()
  per_study = trials.groupby(["workload", "submission", "division",
                              "study"]).size()
  return [
      f"- Metric: **{name}** — per study the best trial, per workload the "
      "median over studies (∞: not reached).",
      f"- Score: area under the performance profile ρ(τ) over τ ∈ [1, "
      f"{lb.max_tau:g}], divided by {lb.max_tau - 1:g} (1 = fastest of "
      "its division on every workload), computed within each division.",
      "- Divisions: one per base direction; each has its own targets, its "
      "own tuned baselines and its own score. No number compares entries of "
      "two divisions except **steps to target** (the summary's last "
      "columns): times, scores and speed-ups are within a division only.",
      f"- Hardware: {hw}.",
      f"- Trials: {len(trials)} ({int(trials['failed'].sum())} failed); "
      f"studies per (workload, entry): {studies.min()}–{studies.max()}, "
      f"trials per study: {per_study.min()}–{per_study.max()}.",
  ]


def _summary(boards: Mapping[str, Any]) -> list[str]:
  """Each division's best entry: score, reached, and its steps to target
  (the one cross-division number)."""
  workloads = sorted({w for b in boards.values() for w in b.times.columns})
  header = (["division", "entries", "best entry", "score",
             "workloads reached"]
            + [f"steps to target, {w}" for w in workloads])
  rows = []
  for division, lb in boards.items():
    if lb.scores.empty or lb.scores.isna().all():
      rows.append([f"`{division}`", len(lb.times.index), "—", "—", "—"]
                  + ["—"] * len(workloads))
      continue
    best = lb.scores.index[0]
    t = lb.times.loc[best]
    steps = [_fmt(lb.steps.loc[best, w], "steps")
             if lb.steps is not None and w in lb.steps.columns else "—"
             for w in workloads]
    rows.append([f"`{division}`", len(lb.times.index), f"`{best}`",
                 f"{lb.scores[best]:.3f}",
                 f"{int(np.isfinite(t).sum())}/{len(t)}"] + steps)
  return ["## Summary: the best entry of each division", "",
          "Scores rank entries within their division only; steps to target "
          "(∞: not reached) are the one number comparable across "
          "divisions.", "", _table(header, rows), ""]


def division_section(lb: Any, plots: Sequence[tuple[str, str]] = ()
                     ) -> list[str]:
  """One division's section: score, time (steps) per workload, speed-ups
  against the division's own references, its figures."""
  name = trials_lib.METRICS[lb.metric][1]
  trials = lb.trials
  division = lb.division or "all trials"
  out = [f"## Division `{division}`", ""]
  for note in lb.notes:
    out.append(f"- Note: {note}.")
  if lb.notes:
    out.append("")
  refs = list(lb.geomeans)
  wl = list(lb.times.columns)
  out += [f"### Score (`{division}`)", ""]
  header = ["rank", "entry", "score", "workloads reached"]
  header += [f"speed-up vs {division} {r} (geo. mean)" for r in refs]
  header += ["failed trials", "diverged trials"]
  rows = []
  for rank, (sub, sc) in enumerate(lb.scores.items(), start=1):
    t = lb.times.loc[sub]
    sub_trials = trials[trials["submission"] == sub]
    row = [rank, f"`{sub}`", "—" if math.isnan(sc) else f"{sc:.3f}",
           f"{int(np.isfinite(t).sum())}/{len(wl)}"]
    for r in refs:
      g = lb.geomeans[r].loc[sub]
      text = _fmt_speedup(g["speedup"])
      if g["only_submission"] or g["only_reference"]:
        text += (f" (on {int(g['both'])}; +{int(g['only_submission'])} "
                 f"only it, +{int(g['only_reference'])} only ref)")
      row.append(text)
    row += [int(sub_trials["failed"].sum()),
            int((sub_trials["status"] == "diverged").sum())]
    rows.append(row)
  out += [_table(header, rows), ""]
  if wl:
    both = lb.metric == "time" and lb.steps is not None
    title = name[0].upper() + name[1:] + (" (steps)" if both else "")
    out += [f"### {title} per workload (`{division}`)", ""]
    if both:
      out += ["Both clocks: seconds of submission time to the target, and "
              "in brackets the steps it took (∞: not reached).", ""]
    targets = trials.groupby("workload")["target"].first()
    header = ["entry"] + [f"{w} (target {targets.get(w, math.nan):.4g})"
                          for w in wl]

    def cell(s, w):
      text = _fmt(lb.times.loc[s, w], lb.metric)
      if both and math.isfinite(lb.times.loc[s, w]):
        text += f" ({_fmt(lb.steps.loc[s, w], 'steps')})"
      return text

    rows = [[f"`{s}`"] + [cell(s, w) for w in wl] for s in lb.times.index]
    out += [_table(header, rows), ""]
    for r in refs:
      out += [f"### Speed-up vs `{division}` `{r}` per workload", "",
              f"S = t_ref / t_entry (> 1: faster than this division's "
              f"`{r}`; 0: only the reference reached the target; ∞: only "
              "the entry did).", ""]
      rows = [[f"`{s}`"] + [_fmt_speedup(lb.speedups[r].loc[s, w])
                            for w in wl] for s in lb.times.index]
      out += [_table(["entry"] + wl, rows), ""]
  if lb.unscored_workloads:
    out += [f"Unscored workloads: {', '.join(lb.unscored_workloads)}.", ""]
  for caption, path in plots:
    out += [f"![{caption}]({path})", ""]
  return out


def _failures(trials: pd.DataFrame) -> list[str]:
  failed = trials[trials["failed"].astype(bool)]
  out = ["## Failed trials", ""]
  if failed.empty:
    out += ["None.", ""]
  else:
    rows = [[r.division, r.workload, f"`{r.submission}`", r.study, r.trial,
             f"`{r.hparams}`", (r.message or "").strip().splitlines()[0][:160]
             if (r.message or "").strip() else ""]
            for r in failed.itertuples()]
    out += [_table(["division", "workload", "entry", "study", "trial",
                    "hparams", "error"], rows), ""]
  unreadable = trials[trials["status"] == trials_lib.UNREADABLE]
  if not unreadable.empty:
    out += ["## Unreadable trials (not scored)", "",
            _table(["run", "what cannot be read"],
                   [[f"`{r.run_dir}`", r.message]
                    for r in unreadable.itertuples()]), ""]
  return out


def to_markdown(boards: Mapping[str, Any] | Any, *,
                title: str = "edgeperf leaderboard", plots: Plots | None = None,
                description: str = "",
                sections: Sequence[str] = ()) -> str:
  """The whole leaderboard: overview, the summary (with more than one
  division), one section per division, ``sections`` (more markdown, e.g.
  the bench's spread over repeats), failed and unreadable trials.

  ``boards``: ``{division: Leaderboard}``
  (:func:`edgeperf.scoring.leaderboard.build_divisions`), or one
  Leaderboard.
  """
  if not isinstance(boards, Mapping):
    boards = {boards.division: boards}
  plots = plots or {}
  trials = pd.concat([b.trials for b in boards.values()]) if boards else (
      pd.DataFrame())
  out = [f"# {title}", ""]
  if description:
    out += [description, ""]
  if not boards:
    return "\n".join(out + ["No trials.", ""])
  out += _overview(boards, trials) + [""]
  if len(boards) > 1:
    out += _summary(boards)
  for division, lb in boards.items():
    out += division_section(lb, plots.get(division, ()))
  for text in sections:
    if text:
      out += [text, ""]
  out += _failures(trials)
  for caption, path in plots.get("", ()):
    out += [f"![{caption}]({path})", ""]
  return "\n".join(out)
