"""The default leaderboard (``make bench``, ``edgeperf-bench``): every
submission re-timed at its tuned point against the stored targets.

Protocol:

1. The tuned points come from ``protocol/tuned_points.json`` (``make tune``,
   :mod:`edgeperf.protocol.tuning`); the leaderboard names the tuning run
   (commit, hardware, date, protocol) they came from.
2. Every (workload, submission) runs once (study 0) at its tuned point
   with the seed it was tuned with (so its curve is the tuning trial's), on
   the full batch, up to ``budget_factor`` × the workload's step
   hint steps (≥ the hint), stopping at the target; trials run on dedicated
   cores (one worker per core group, never two trials on one core), so
   times are comparable.  Hyperparameters are baked into the programs
   (``inject=False``): no two pairs share a program.
3. The stored targets are the best constant rate's loss at the step hint
   (``make targets``).  If ``constant`` at its tuned point does not reach
   its own workload's target, the targets are stale (set on other code or
   hardware): the bench stops with :class:`StaleTargetsError`.
4. The ``top`` best-scoring submissions run ``repeats`` − 1 more times
   (studies 1.., the same seed, so the same curve: only the clock differs)
   on each workload where their first run reached the target, so the
   leaderboard's time is the median over repeats and the report shows the
   clock's spread (median and interquartile range of the time to target).
   A run that did not reach is not repeated: it has no time to target.

Writes ``<output_dir>/leaderboard.md`` (with the spread table), the figures,
``trials.csv``, ``times.csv``; prints the leaderboard.  Both sweeps share
the JAX compilation cache ``<output_dir>/.jax_cache``, which outlives the
sweeps (compilation is off the clock: the cache changes no time to target,
only the fixed cost of a trial whose program was compiled before).
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
from edgeperf.scoring import leaderboard
from edgeperf.scoring import report
from edgeperf.protocol import tuning
from edgeperf.submissions import loader
from edgeperf.workloads import registry

REFERENCE = "constant"
REFERENCES = (REFERENCE, "warmup_schedule")
"""Speed-ups are against the tuned constant rate and the tuned warm-up
schedule (whatever shape tuning chose for it on each workload)."""
DEFAULT_BUDGET_FACTOR = 2.0
DEFAULT_TOP = 3
DEFAULT_REPEATS = 3
DEFAULT_JOBS = 2


class StaleTargetsError(ValueError):
  """The constant baseline does not reach its own stored target."""


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


def tuned_plan(points: Mapping[str, Mapping[str, Any]], *,
               workloads: Sequence[str], submissions: Sequence[str],
               studies: Sequence[int], budget_factor: float
               ) -> dict[str, Any]:
  """A sweep plan: each (workload, submission) at its tuned point, one trial
  per study, each with the point's seed (the same curve in every study).

  Raises:
    tuning.TunedPointsError: a pair has no tuned point.
  """
  trials, missing = [], []
  for workload in workloads:
    wl = registry.get(workload)
    max_steps = max(wl.step_hint,
                    int(math.ceil(budget_factor * wl.step_hint)))
    for sub in submissions:
      point = points.get(workload, {}).get(sub)
      if point is None:
        missing.append(f"{sub} on {workload}")
        continue
      where = loader.locate(sub)
      for study in studies:
        trials.append(trial_lib.Trial(
            workload=workload, submission=sub, name=where.name,
            ruleset="tuned", study=study, trial=0,
            seed=int(point.get("seed", 0)),
            hparams=point["hparams"], max_steps=max_steps, inject=False))
  if missing:
    raise tuning.TunedPointsError(
        f"no tuned point for {', '.join(missing)}; run `make tune` (or "
        "edgeperf-tune for those workloads and submissions)")
  return {"format": sweep.FORMAT_VERSION,
          "request": {"kind": "bench", "workloads": list(workloads),
                      "submissions": list(submissions),
                      "studies": list(studies),
                      "budget_factor": budget_factor},
          "trials": trials}


def tuned_submissions(points: Mapping[str, Mapping[str, Any]],
                      workloads: Sequence[str]
                      ) -> tuple[tuple[str, ...], list[str]]:
  """The shipped submissions with a tuned point on every workload, and the
  others (a submission added since the last ``make tune``)."""
  tuned, untuned = [], []
  for sub in loader.available():
    ok = all(sub in points.get(w, {}) for w in workloads)
    (tuned if ok else untuned).append(sub)
  return tuple(tuned), untuned


def check_reference(trials: pd.DataFrame, reference: str = REFERENCE
                    ) -> None:
  """Raises :class:`StaleTargetsError` where the reference's first trial
  did not reach its workload's stored target."""
  ref = trials[(trials["submission"] == reference) & (trials["study"] == 0)]
  failed = [f"{row['workload']}: {row['message'] or row['status']} (see "
            f"{os.path.join(row['run_dir'], 'status.json')})"
            for _, row in ref.iterrows() if bool(row["failed"])]
  if failed:
    raise ReferenceFailedError(
        f"the {reference} baseline's trial failed, so nothing can be "
        f"scored against it: {'; '.join(failed)}; fix its tuned point in "
        "the tuned-points file")
  stale = []
  for _, row in ref.iterrows():
    if not bool(row["reached"]):
      stale.append(f"{row['workload']} (target {row['target']:.4g}, final "
                   f"train objective {row['final_objective']:.4g})")
  if stale:
    raise StaleTargetsError(
        f"the {reference} baseline at its tuned point does not reach its own "
        f"stored target on {'; '.join(stale)}: the targets are stale (set on "
        "other code or hardware); run `make targets`, then `make tune`")


def reached_pairs(trials: pd.DataFrame) -> set[tuple[str, str]]:
  """(workload, submission) pairs whose first trial (study 0) reached the
  target: the only ones worth repeating, since a run that did not reach
  has no time to target whose spread a repeat could measure (and the same
  seed gives the same curve)."""
  first = trials[(trials["study"] == 0) & trials["reached"].astype(bool)]
  return set(zip(first["workload"], first["submission"]))


def spread(trials: pd.DataFrame, column: str = "time_to_target"
           ) -> pd.DataFrame:
  """Median and interquartile range of ``column`` over repeats, for the
  (workload, submission) pairs run more than once."""
  rows = []
  for (w, s), group in trials.groupby(["workload", "submission"]):
    if len(group) < 2:
      continue
    values = group[column].astype(float).fillna(math.inf).to_numpy()
    q1, med, q3 = np.percentile(values, [25, 50, 75])
    rows.append({"workload": w, "submission": s, "repeats": len(group),
                 "median": med, "iqr": q3 - q1,
                 "reached": int(np.isfinite(values).sum())})
  return pd.DataFrame(rows)


def spread_markdown(table: pd.DataFrame) -> str:
  if table.empty:
    return ""
  lines = ["## Spread over repeats (time to target, s)", "",
           "| workload | submission | repeats | reached | median | IQR |",
           "|---|---|---|---|---|---|"]
  for r in table.itertuples():
    lines.append(f"| {r.workload} | `{r.submission}` | {r.repeats} | "
                 f"{r.reached} | {r.median:.3g} | {r.iqr:.2g} |")
  return "\n".join(lines)


def _describe(prov: Mapping[str, Any], *, subs, workloads, budget_factor,
              top, repeats, jobs, wall_s) -> str:
  protocol = prov.get("protocol", {})
  grids = (f", grids of ≤ {protocol['grid_limit']} points whole"
           if protocol.get("grid_limit") else "")
  return (
      f"Bench: {len(subs)} submissions × {len(workloads)} workloads, each at "
      f"its tuned point, full batch, up to {budget_factor:g}× the workload's "
      f"step hint, against the stored targets; the top {top} re-run "
      f"{repeats - 1} more times with the same seed where they reached the "
      f"target (median over repeats). {jobs} trial(s) at "
      "a time, each worker on its own cores. Tuned points: "
      f"`protocol/tuned_points.json` from commit {prov.get('git_commit')}, "
      f"hardware {prov.get('hardware_id')}, {prov.get('date')}, protocol "
      f"{protocol.get('num_studies')} studies × {protocol.get('num_trials')} "
      f"trials{grids} ({protocol.get('budgets', '')}). Sweep wall time this call: "
      f"{wall_s:.0f} s.")


def run_bench(*, output_dir: str, sweep_dir: str,
              workloads: Sequence[str] = registry.EMBEDDED,
              submissions: Sequence[str] | None = None,
              tuned_path: str = tuning.TUNED_FILE,
              budget_factor: float = DEFAULT_BUDGET_FACTOR,
              top: int = DEFAULT_TOP, repeats: int = DEFAULT_REPEATS,
              jobs: int = DEFAULT_JOBS, executor=None,
              trial_timeout_s: float | None = 300.0,
              progress: bool = True, fresh: bool = False) -> str:
  """Runs (or resumes) the bench sweep and scores it; returns markdown.

  Every input is checked before any folder is touched; with ``fresh`` a
  previous bench sweep in ``sweep_dir`` is deleted first (only one the
  bench made: :func:`prepare_dirs`), else it is resumed.

  Raises:
    tuning.TunedPointsError, StaleTargetsError, sweep.SweepError,
    BenchDirError, ValueError (an unknown workload or submission).
  """
  tuned = tuning.read(tuned_path)
  untuned: list[str] = []
  if submissions:
    subs = tuple(submissions)  # asked for by name: each must be tuned
  else:
    subs, untuned = tuned_submissions(tuned["points"], workloads)
  plan = tuned_plan(tuned["points"], workloads=workloads, submissions=subs,
                    studies=[0], budget_factor=budget_factor)
  prepare_dirs(output_dir, sweep_dir, fresh=fresh)
  start = time.perf_counter()
  first = os.path.join(sweep_dir, "first")
  cache = os.path.join(output_dir, sweep.COMPILATION_CACHE)
  outcomes = sweep.run_plan(first, plan, jobs=jobs, executor=executor,
                            timeout_s=trial_timeout_s, progress=progress,
                            compilation_cache=cache)
  paths = [first]
  trials = leaderboard.load_trials(paths)
  check_reference(trials)
  if top > 0 and repeats > 1:
    lb = leaderboard.build(trials, metric="time")
    leaders = [s for s in lb.scores.index[:top]]
    more = tuned_plan(tuned["points"], workloads=workloads,
                      submissions=leaders, studies=range(1, repeats),
                      budget_factor=budget_factor)
    pairs = reached_pairs(trials)
    # Study-major order: a pair's second repeat starts after its first
    # has compiled, and loads that program from the shared cache.
    more["trials"] = sorted((t for t in more["trials"]
                             if (t.workload, t.submission) in pairs),
                            key=lambda t: t.study)
    if more["trials"]:
      again = os.path.join(sweep_dir, "repeats")
      outcomes += sweep.run_plan(again, more, jobs=jobs, executor=executor,
                                 timeout_s=trial_timeout_s,
                                 progress=progress, compilation_cache=cache)
      paths.append(again)
  wall_s = time.perf_counter() - start
  print(sweep.summarize(outcomes), file=sys.stderr)
  description = _describe(tuned["provenance"], subs=subs, workloads=workloads,
                          budget_factor=budget_factor, top=top,
                          repeats=repeats, jobs=jobs, wall_s=wall_s)
  if untuned:
    description += (f" Not benched (no tuned point: run `make tune`): "
                    f"{', '.join(untuned)}.")
  text = report.score_runs(paths, output_dir, metric="time",
                           references=REFERENCES,
                           title="edgeperf leaderboard (default bench)",
                           description=description)
  extra = spread_markdown(spread(leaderboard.load_trials(paths)))
  if extra:
    text += "\n\n" + extra
    with open(os.path.join(output_dir, "leaderboard.md"), "a") as f:
      f.write("\n" + extra + "\n")
  return text
