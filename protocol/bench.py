"""The default leaderboard (``make bench``, ``edgeperf-bench``): every
submission re-timed at its tuned point against the stored targets, in each
division (base direction) it declares.

Protocol:

1. Divisions (:mod:`edgeperf.protocol.divisions`): ``gd`` and ``adam`` by
   default (``momentum``, ``rmsprop`` by flag).  A submission enters every
   division whose direction it declares; each division has its own stored
   targets (:func:`edgeperf.protocol.targets.targets_path`), its own tuned
   points and its own references, the tuned constant rate and the tuned
   warm-up + cosine schedule (:data:`REFERENCES`).
2. The tuned points come from ``protocol/tuned_points.json`` (``make tune``,
   :mod:`edgeperf.protocol.tuning`); the leaderboard names the tunings
   (commit, hardware, date, protocol) they came from.
3. Every (division, workload, submission) runs once (study 0) at its tuned
   point with the seed it was tuned with (so its curve is the tuning
   trial's), on the full batch, up to ``budget_factor`` × the workload's
   step hint steps (≥ the hint), stopping at the division's target; trials
   run on dedicated cores (one worker per core group, never two trials on
   one core), so times are comparable.  Hyperparameters are baked into the
   programs (``inject=False``): no two entries share a program.
4. The stored targets are each division's best constant rate's loss at the
   step hint (``make targets``).  If a division's ``constant`` at its tuned
   point does not reach its own target, the targets are stale (set on other
   code or hardware): the bench stops with :class:`StaleTargetsError`.
5. The ``top`` best-scoring entries of each division run ``repeats`` − 1
   more times (studies 1.., the same seed, so the same curve: only the clock
   differs) on each workload where their first run reached the target, so
   the leaderboard's time is the median over repeats and the report shows
   the clock's spread (median and interquartile range of the time to
   target).  A run that did not reach is not repeated.

Each sweep's trials are loaded once; :mod:`edgeperf.scoring.report` writes
``<output_dir>/leaderboard.md`` (with the spread table), the figures,
``trials.csv`` and ``times.csv``.  Both sweeps share the JAX compilation
cache ``<output_dir>/.jax_cache``, which outlives the sweeps (compilation
is off the clock).
"""

from __future__ import annotations

import json
import math
import os
import shutil
import sys
import time
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from edgeperf.harness.sweep import runs as sweep
from edgeperf.harness.sweep import trial as trial_lib
from edgeperf.protocol import divisions as divisions_lib
from edgeperf.protocol import targets as targets_lib
from edgeperf.protocol import tuning
from edgeperf.scoring import leaderboard
from edgeperf.scoring import references as references_lib
from edgeperf.scoring import report
from edgeperf.scoring import trials as trials_lib
from edgeperf.submissions import loader
from edgeperf.workloads import registry

REFERENCE = divisions_lib.REFERENCE
REFERENCES = references_lib.DEFAULT_REFERENCES
"""Speed-ups are against each division's tuned constant rate and tuned
warm-up + cosine schedule (scoring's one default)."""
DEFAULT_BUDGET_FACTOR = 2.0
DEFAULT_TOP = 3
DEFAULT_REPEATS = 3
DEFAULT_JOBS = 2


class StaleTargetsError(ValueError):
  """A division's constant baseline does not reach its own stored target."""


class ReferenceFailedError(ValueError):
  """The constant baseline's trial failed (an error, not a missed target);
  the message carries the trial's own error."""


class BenchDirError(ValueError):
  """An output or sweep folder the bench must not use (a regular file, or a
  folder the bench did not make); the message names it."""


BENCH_MARK = ".edgeperf-bench"
"""The file that marks a folder as a bench sweep (the only kind of folder
``--fresh`` deletes)."""


def is_bench_sweep(path: str) -> bool:
  """Whether ``path`` is a folder this bench made: it holds the
  :data:`BENCH_MARK` file, or (a bench sweep from before the mark) only
  ``first``/``repeats`` sweeps whose sweep.json says ``kind: bench``."""
  if os.path.isfile(os.path.join(path, BENCH_MARK)):
    return True
  try:
    entries = set(os.listdir(path))
  except OSError:
    return False
  if not entries or not entries <= {"first", "repeats"}:
    return False
  for entry in entries:
    try:
      with open(os.path.join(path, entry, sweep.SWEEP_FILE)) as f:
        if json.load(f)["request"]["kind"] != "bench":
          return False
    except (OSError, ValueError, KeyError, TypeError):
      return False
  return True


def prepare_dirs(output_dir: str, sweep_dir: str, *, fresh: bool) -> None:
  """Checks the bench's folders and readies the sweep folder: with
  ``fresh`` a previous bench sweep is deleted — only one this bench made
  (:func:`is_bench_sweep`); any other existing folder is refused, never
  touched.  Called after every other input has been checked.

  Raises:
    BenchDirError: a regular file where a folder is expected, or a
      ``sweep_dir`` that exists and is not a bench sweep.
  """
  for what, path in (("--output_dir", output_dir), ("--sweep_dir", sweep_dir)):
    if os.path.exists(path) and not os.path.isdir(path):
      raise BenchDirError(f"{what} {path}: a file, not a folder; give a "
                          "folder to write into")
  if os.path.isdir(sweep_dir) and os.listdir(sweep_dir):
    if not is_bench_sweep(sweep_dir):
      raise BenchDirError(
          f"--sweep_dir {sweep_dir}: an existing folder that is not a bench "
          f"sweep (no {BENCH_MARK} file); the bench deletes or resumes only "
          "a sweep it made: give a new or empty folder")
    if fresh:
      shutil.rmtree(sweep_dir)
  os.makedirs(sweep_dir, exist_ok=True)
  mark = os.path.join(sweep_dir, BENCH_MARK)
  if not os.path.exists(mark):
    with open(mark, "w") as f:
      f.write("a bench sweep (edgeperf-bench); --fresh deletes it\n")


def tuned_plan(tuned: Mapping[str, Any], *, workloads: Sequence[str],
               submissions: Sequence[str], studies: Sequence[int],
               budget_factor: float,
               divisions: Sequence[str] = ("gd",)) -> dict[str, Any]:
  """A sweep plan: each (division, workload, submission) at its tuned
  point, one trial per study, each with the point's seed (the same curve in
  every study), against the division's targets.  A submission enters the
  divisions it declares among ``divisions``.

  Raises:
    tuning.TunedPointsError: an entry has no tuned point.
    divisions_lib.DivisionError: a submission declares no direction.
  """
  trials, missing = [], []
  routed = divisions_lib.route(submissions, divisions)
  for division, entries in routed.items():
    points = tuning.points_of(tuned, division)
    path = None if division == "gd" else targets_lib.targets_path(division)
    for workload in workloads:
      wl = registry.get(workload)
      max_steps = max(wl.step_hint,
                      int(math.ceil(budget_factor * wl.step_hint)))
      for entry in entries:
        point = points.get(workload, {}).get(entry.name)
        if point is None:
          missing.append(f"{entry.name} on {workload}" + (
              "" if division == "gd" else f" in division {division}"))
          continue
        for study in studies:
          trials.append(divisions_lib.entry_in(trial_lib.Trial(
              workload=workload, submission=entry.submission,
              name=entry.name, ruleset="tuned", study=study, trial=0,
              seed=int(point.get("seed", 0)), hparams=point["hparams"],
              max_steps=max_steps, inject=False), division, path))
  if missing:
    raise tuning.TunedPointsError(
        f"no tuned point for {', '.join(missing)}; run `make tune` (or "
        "edgeperf-tune for those workloads and submissions)")
  return {"format": sweep.FORMAT_VERSION,
          "request": {"kind": "bench", "workloads": list(workloads),
                      "submissions": list(submissions),
                      "divisions": list(routed),
                      "studies": list(studies),
                      "budget_factor": budget_factor},
          "trials": trials}


def tuned_submissions(points: Mapping[str, Mapping[str, Any]],
                      workloads: Sequence[str], division: str = "gd"
                      ) -> tuple[tuple[str, ...], list[str]]:
  """The shipped submissions of ``division`` with a tuned point on every
  workload (``points``: that division's), and the others (a submission
  added since the last ``make tune``)."""
  tuned, untuned = [], []
  for entry in divisions_lib.route(loader.available(), [division])[division]:
    ok = all(entry.name in points.get(w, {}) for w in workloads)
    (tuned if ok else untuned).append(entry.name)
  return tuple(tuned), untuned


class SlowMachineError(StaleTargetsError):
  """A division's constant baseline ran out of its time budget before its
  target: the machine was slower (or more loaded) than the reference."""


def check_reference(trials: pd.DataFrame, reference: str = REFERENCE
                    ) -> None:
  """Raises where a division's reference's first trial did not reach its
  workload's stored target (that division's): :class:`SlowMachineError`
  when every such trial was cut by its time budget, else
  :class:`StaleTargetsError`."""
  ref = trials[(trials["submission"] == reference) & (trials["study"] == 0)]
  failed = [f"{row['workload']}: {row.get('message') or row['status']} "
            f"(see {os.path.join(str(row.get('run_dir')), 'status.json')})"
            for _, row in ref.iterrows() if bool(row.get("failed", False))]
  if failed:
    raise ReferenceFailedError(
        f"the {reference} baseline's trial failed, so nothing can be "
        f"scored against it: {'; '.join(failed)}; fix its tuned point in "
        "the tuned-points file")
  stale, slow = [], []
  for _, row in ref.iterrows():
    if bool(row["reached"]):
      continue
    where = "" if row["division"] == "gd" else f" ({row['division']})"
    text = (f"{row['workload']}{where} (target {row['target']:.4g}, final "
            f"train objective {row['final_objective']:.4g}")
    if "time budget spent" in str(row.get("message", "")):
      slow.append(f"{text}, {row['message']})")
    else:
      stale.append(text + ")")
  if slow and not stale:
    raise SlowMachineError(
        f"the {reference} baseline at its tuned point ran out of its time "
        f"budget before its own target on {'; '.join(slow)}: this machine "
        "is slower or more loaded than the one the targets and budgets were "
        "set on; rerun on a quiet machine (or one with its own targets: "
        "`make targets`, then `make tune`)")
  if stale or slow:
    raise StaleTargetsError(
        f"the {reference} baseline at its tuned point does not reach its own "
        f"stored target on {'; '.join(stale + slow)}: the targets are stale "
        "(set on other code or hardware); run `make targets`, then "
        "`make tune`")


def reached_pairs(trials: pd.DataFrame) -> set[tuple[str, str, str]]:
  """(division, workload, submission) entries whose first trial (study 0)
  reached the target: the only ones worth repeating, since a run that did
  not reach has no time to target whose spread a repeat could measure (and
  the same seed gives the same curve)."""
  first = trials[(trials["study"] == 0) & trials["reached"].astype(bool)]
  return set(zip(first["division"], first["workload"], first["submission"]))


def spread(trials: pd.DataFrame, column: str = "time_to_target"
           ) -> pd.DataFrame:
  """Median and interquartile range of ``column`` over repeats, for the
  (division, workload, submission) entries run more than once."""
  rows = []
  for (d, w, s), group in trials.groupby(["division", "workload",
                                          "submission"]):
    if len(group) < 2:
      continue
    values = group[column].astype(float).fillna(math.inf).to_numpy()
    q1, med, q3 = np.percentile(values, [25, 50, 75])
    rows.append({"division": d, "workload": w, "submission": s,
                 "repeats": len(group), "median": med, "iqr": q3 - q1,
                 "reached": int(np.isfinite(values).sum())})
  return pd.DataFrame(rows)


def spread_markdown(table: pd.DataFrame) -> str:
  if table.empty:
    return ""
  lines = ["## Spread over repeats (time to target, s)", "",
           "| division | workload | entry | repeats | reached | median | IQR |",
           "|---|---|---|---|---|---|---|"]
  for r in table.itertuples():
    lines.append(f"| {r.division} | {r.workload} | `{r.submission}` | "
                 f"{r.repeats} | {r.reached} | {r.median:.3g} | "
                 f"{r.iqr:.2g} |")
  return "\n".join(lines)


def _describe(tuned: Mapping[str, Any], *, entries, workloads, budget_factor,
              top, repeats, jobs, wall_s) -> str:
  tunings = []
  for division in entries:
    for prov in tuning.tunings_of(tuned, division):
      protocol = prov.get("protocol", {})
      grids = (f", grids of ≤ {protocol['grid_limit']} points whole"
               if protocol.get("grid_limit") else "")
      tunings.append(
          f"`{division}` {', '.join(prov.get('submissions', [])) or '?'}: "
          f"commit {prov.get('git_commit')}, hardware "
          f"{prov.get('hardware_id')}, {prov.get('date')}, "
          f"{protocol.get('num_studies')} studies × "
          f"{protocol.get('num_trials')} trials{grids} "
          f"({protocol.get('budgets', '')})")
  count = ", ".join(f"{len(v)} in `{d}`" for d, v in entries.items())
  return (
      f"Bench: entries {count}, × {len(workloads)} workloads, each at "
      f"its division's tuned point, full batch, up to {budget_factor:g}× the "
      f"workload's step hint, against its division's stored targets; the "
      f"top {top} of each division re-run {repeats - 1} more times with the "
      f"same seed where they reached the target (median over repeats). "
      f"{jobs} trial(s) at a time, each worker on its own cores. Sweep wall "
      f"time this call: {wall_s:.0f} s. Tuned points "
      "(`protocol/tuned_points.json`), by tuning: " + "; ".join(tunings)
      + ".")


def _entries(tuned, workloads, submissions, divisions
             ) -> tuple[dict[str, list[str]], list[str]]:
  """The names benched per division, and notes on what is not benched."""
  notes = []
  present = [d for d in divisions if tuning.points_of(tuned, d)]
  for d in divisions:
    if d not in present:
      notes.append(f"division {d}: no tuned points (run `make tune` for "
                   "it): not benched")
  if not present:
    raise tuning.TunedPointsError(
        f"no tuned points for the divisions {list(divisions)}; run "
        "`make tune`")
  if submissions:  # asked for by name: each must be tuned where it enters
    routed = divisions_lib.route(submissions, present)
    return {d: [e.submission for e in v] for d, v in routed.items()}, notes
  out = {}
  for d in present:
    subs, untuned = tuned_submissions(tuning.points_of(tuned, d), workloads,
                                      d)
    out[d] = list(subs)
    if untuned:
      notes.append(f"division {d}: not benched (no tuned point: run "
                   f"`make tune`): {', '.join(untuned)}")
  return out, notes


def _plan(tuned, entries, workloads, studies, budget_factor):
  plans = [tuned_plan(tuned, workloads=workloads, submissions=subs,
                      studies=studies, budget_factor=budget_factor,
                      divisions=[d]) for d, subs in entries.items() if subs]
  return {"format": sweep.FORMAT_VERSION,
          "request": {"kind": "bench", "workloads": list(workloads),
                      "entries": {d: list(s) for d, s in entries.items()},
                      "studies": list(studies),
                      "budget_factor": budget_factor},
          "trials": [t for p in plans for t in p["trials"]]}


def run_bench(*, output_dir: str, sweep_dir: str,
              workloads: Sequence[str] = registry.EMBEDDED,
              submissions: Sequence[str] | None = None,
              divisions: Sequence[str] = divisions_lib.DEFAULT,
              tuned_path: str = tuning.TUNED_FILE,
              budget_factor: float = DEFAULT_BUDGET_FACTOR,
              top: int = DEFAULT_TOP, repeats: int = DEFAULT_REPEATS,
              jobs: int = DEFAULT_JOBS, executor=None,
              trial_timeout_s: float | None = 300.0,
              progress: bool = True, fresh: bool = False) -> str:
  """Runs (or resumes) the bench sweep of every division and scores it;
  returns markdown.

  Every input is checked before any folder is touched; with ``fresh`` a
  previous bench sweep in ``sweep_dir`` is deleted first (only one the
  bench made: :func:`prepare_dirs`), else it is resumed.

  Raises:
    tuning.TunedPointsError, StaleTargetsError, sweep.SweepError,
    BenchDirError, divisions_lib.DivisionError, ValueError (an unknown
    workload or submission).
  """
  divisions = divisions_lib.check(divisions)
  tuned = tuning.read(tuned_path)
  entries, notes = _entries(tuned, workloads, submissions, divisions)
  plan = _plan(tuned, entries, workloads, [0], budget_factor)
  prepare_dirs(output_dir, sweep_dir, fresh=fresh)
  start = time.perf_counter()
  first = os.path.join(sweep_dir, "first")
  cache = os.path.join(output_dir, sweep.COMPILATION_CACHE)
  outcomes = sweep.run_plan(first, plan, jobs=jobs, executor=executor,
                            timeout_s=trial_timeout_s, progress=progress,
                            compilation_cache=cache)
  trials = trials_lib.load_trials([first])
  check_reference(trials)
  if top > 0 and repeats > 1:
    boards = leaderboard.build_divisions(trials, metric="time",
                                         references=REFERENCES)
    leaders = {d: list(lb.scores.index[:top]) for d, lb in boards.items()}
    more = _plan(tuned, leaders, workloads, range(1, repeats), budget_factor)
    pairs = reached_pairs(trials)
    # Study-major order: an entry's second repeat starts after its first
    # has compiled, and loads that program from the shared cache.
    more["trials"] = sorted(
        (t for t in more["trials"]
         if (t.division, t.workload, t.name) in pairs),
        key=lambda t: t.study)
    if more["trials"]:
      again = os.path.join(sweep_dir, "repeats")
      outcomes += sweep.run_plan(again, more, jobs=jobs, executor=executor,
                                 timeout_s=trial_timeout_s,
                                 progress=progress, compilation_cache=cache)
      trials = pd.concat([trials, trials_lib.load_trials([again])],
                         ignore_index=True)
  wall_s = time.perf_counter() - start
  print(sweep.summarize(outcomes), file=sys.stderr)
  description = _describe(tuned, entries=entries, workloads=workloads,
                          budget_factor=budget_factor, top=top,
                          repeats=repeats, jobs=jobs, wall_s=wall_s)
  if notes:
    description += " " + " ".join(f"{n}." for n in notes)
  return report.score_trials(
      trials, output_dir, metric="time", references=REFERENCES,
      title="edgeperf leaderboard (default bench)", description=description,
      sections=[spread_markdown(spread(trials))])
