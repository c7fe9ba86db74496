"""Loads run directories into tables and writes the markdown leaderboard.

A *trial* is one run directory (read through
:class:`edgeperf.harness.rundir.RunDir`); sweeps
(``edgeperf-sweep``) add the study and trial indices through their
``sweep.json``.  :func:`load_trials` gives one row per trial with its
time-, steps- and cost-to-target (:mod:`edgeperf.scoring.time_to_target`),
:func:`build` the per-workload times t_{s,w} (median over studies of the
best trial), the performance-profile score and the speed-ups against the
reference submissions (:mod:`edgeperf.scoring.profiles`), and
:func:`to_markdown` the leaderboard.

Hardware: times measured on different hardware (different ``hardware_id``
in meta.json) are never mixed in one score; :func:`build` raises
:class:`HardwareMismatchError` unless only hardware-independent metrics
(steps, FLOPs or evaluations to target) are asked for.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import os
import re
from typing import Any, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from edgeperf import _jsonio
from edgeperf.harness import rundir as rundir_lib
from edgeperf.harness.sweep import runs as sweep_lib
from edgeperf.scoring import profiles
from edgeperf.scoring import time_to_target as ttt

METRICS = {
    "time": ("time_to_target", "time to target (s)"),
    "steps": ("steps_to_target", "steps to target"),
    "flops": ("flops_to_target", "FLOPs to target"),
    "evals": ("evals_to_target", "evaluations to target"),
}
HARDWARE_INDEPENDENT = ("steps", "flops", "evals")
DEFAULT_REFERENCES = ("constant", "warmup_schedule[shape=cosine]")

_log = logging.getLogger(__name__)


class HardwareMismatchError(ValueError):
  """Runs from different hardware were asked to share a time-based score."""


class SharedCoresError(HardwareMismatchError):
  """Trials that ran at the same time on the same cores were asked for a
  time-based score."""


# ------------------------------------------------------------ loading ---

def _is_run_dir(path: str) -> bool:
  folder = rundir_lib.RunDir(path)
  return any(os.path.exists(folder.file(f))
             for f in (rundir_lib.STATUS, rundir_lib.META))


def find_runs(paths: Iterable[str]) -> list[dict[str, Any]]:
  """Every trial under ``paths`` (sweep dirs, run dirs, or folders of them).

  Returns:
    Entries ``{"run_dir", "workload", "submission", "study", "trial",
    "seed", "hparams"}``; the last five are None where no sweep.json says
    them (meta.json fills them in :func:`load_trials`).
  """
  entries: list[dict[str, Any]] = []
  seen: set[str] = set()

  def add(entry: dict[str, Any]) -> None:
    key = os.path.realpath(entry["run_dir"])
    if key not in seen:
      seen.add(key)
      entries.append(entry)

  def visit(path: str) -> None:
    sweep_file = os.path.join(path, sweep_lib.SWEEP_FILE)
    if os.path.exists(sweep_file):
      for t in sweep_lib.read_plan(sweep_file)["trials"]:
        add({"run_dir": os.path.join(path, t.run_dir),
             "workload": t.workload, "submission": t.name,
             "study": t.study, "trial": t.trial, "seed": t.seed,
             "hparams": t.hparams})
      return
    if _is_run_dir(path):
      add({"run_dir": path, "workload": None, "submission": None,
           "study": None, "trial": None, "seed": None, "hparams": None})
      return
    for child in sorted(os.listdir(path)):
      full = os.path.join(path, child)
      if os.path.isdir(full) and not child.startswith("."):
        visit(full)

  for path in paths:
    if not os.path.isdir(path):
      raise FileNotFoundError(f"{path}: not a directory of runs or a sweep")
    visit(path)
  return entries


def workload_label(workload: Mapping[str, Any]) -> str:
  """``name`` for the small full-batch preset, else name/size/regime."""
  name = workload.get("name", "?")
  size = workload.get("size") or "small"
  bs = workload.get("batch_size")
  if size == "small" and not bs:
    return name
  return f"{name}/{size}/" + (f"b{bs}" if bs else "full")


INCOMPLETE, UNREADABLE = "incomplete", "unreadable"
UNSCORED = (INCOMPLETE, UNREADABLE)
"""Trial statuses that are not scored: no final status yet, or a file that
cannot be read."""
_CONTENT_ERRORS = (ValueError, KeyError, TypeError, AttributeError,
                   IndexError)
"""What reading a trial with a malformed file raises (RunDirError is a
ValueError)."""


_COLUMNS = ("workload", "submission", "study", "trial", "seed", "hparams",
            "status", "message", "failed", "hardware_id", "device", "regime",
            "target", "step_flops", "steps_run", "final_objective",
            "submission_time_s", "cores", "started_unix", "finished_unix",
            "reached", "time_to_target",
            "steps_to_target", "flops_to_target", "evals_to_target",
            "run_dir")
"""The trials table's columns, in order (:func:`load_trials`)."""


def _read_trial(entry: dict[str, Any],
                targets: Mapping[str, float] | None) -> dict[str, Any]:
  """The trial's row from its files and ``entry`` (raises if unreadable)."""
  folder = rundir_lib.RunDir(entry["run_dir"])
  meta = folder.meta() or {}
  status = folder.status() or {}
  workload = meta.get("workload") or {}
  state = status.get("status")
  if state not in rundir_lib.FINAL_STATUSES:
    state = INCOMPLETE  # no run yet, or a run cut off: not scored
  target = workload.get("target_train_loss", status.get("target_train_loss"))
  target = None if target is None else _jsonio.to_float(target)
  label = workload_label(workload) if workload else entry.get("workload")
  if targets and label in targets:
    target = float(targets[label])
  result = ttt.trial_to_target(
      folder.table("steps"), target, status=state,
      evals=folder.table("evals"),
      mini_batch=workload.get("regime") == "mini_batch",
      step_flops=meta.get("step_flops"),
      window=int(meta.get("reach_window", 1)))
  if state == INCOMPLETE:
    result = {k: math.nan for k in result}
    result["reached"] = False
  fp = meta.get("fingerprint") or {}
  hparams = entry.get("hparams")
  if hparams is None:
    hparams = meta.get("hparams") or {}
  return {
      "workload": label,
      "submission": entry.get("submission") or (
          meta.get("submission") or {}).get("name"),
      "seed": entry["seed"] if entry.get("seed") is not None else meta.get(
          "seed"),
      "hparams": json.dumps(hparams, sort_keys=True),
      "status": state,
      "message": status.get("message", ""),
      "hardware_id": meta.get("hardware_id"),
      "device": (f"{fp.get('device_kind', '?')} ×{fp.get('device_count', '?')}"
                 f", {fp.get('cpu_model', '?')} ({fp.get('cpu_count', '?')} "
                 "cores)") if fp else None,
      "regime": workload.get("regime"),
      "target": math.nan if target is None else target,
      "step_flops": _jsonio.to_float(meta.get("step_flops")),
      "steps_run": status.get("steps_run"),
      "final_objective": _jsonio.to_float(status.get("final_objective")),
      "submission_time_s": _jsonio.to_float(status.get("submission_time_s")),
      "cores": ",".join(map(str, (meta.get("worker") or {}).get("cores", ())))
               or None,
      "started_unix": _jsonio.to_float(
          (status.get("owner") or {}).get("started_unix")),
      "finished_unix": _jsonio.to_float(status.get("finished_unix")),
      **result,
  }


def load_trial(entry: dict[str, Any],
               targets: Mapping[str, float] | None = None) -> dict[str, Any]:
  """One row of the trials table from a run dir (see :func:`load_trials`).

  A trial with a file that cannot be read (truncated, corrupt, or not what
  a run writes) gets status ``unreadable`` and, as its message, what is
  wrong with which file (also logged as a warning); it is not scored.
  """
  try:
    row = _read_trial(entry, targets)
  except _CONTENT_ERRORS as e:
    why = str(e) if isinstance(e, rundir_lib.RunDirError) else (
        f"{entry['run_dir']}: a file does not hold what a run writes "
        f"({type(e).__name__}: {e})")
    _log.warning("unreadable trial, not scored: %s", why)
    row = {"workload": entry.get("workload"),
           "submission": entry.get("submission"), "seed": entry.get("seed"),
           "hparams": json.dumps(entry.get("hparams") or {}, sort_keys=True),
           "status": UNREADABLE, "message": why, "reached": False}
  row.update(study=entry["study"] if entry.get("study") is not None else 0,
             trial=entry.get("trial"), run_dir=entry["run_dir"],
             failed=row["status"] in rundir_lib.STOPPED_STATUSES)
  return {c: row.get(c, math.nan) for c in _COLUMNS}


def _is_a_run(row: Mapping[str, Any]) -> bool:
  """Whether a row comes from a run: it names its workload, or its folder
  holds a status.json (an unreadable run is still listed); a folder that
  merely holds some file called meta.json is not a run."""
  workload = row.get("workload")
  if isinstance(workload, str) and workload:
    return True
  folder = rundir_lib.RunDir(row["run_dir"])
  return os.path.exists(folder.file(rundir_lib.STATUS))


def load_trials(paths: Iterable[str],
                targets: Mapping[str, float] | None = None) -> pd.DataFrame:
  """One row per trial found under ``paths``.

  ``targets`` (``{workload label: target train objective}``) overrides the
  target recorded in the runs' meta.json for those workloads (the
  time-to-target is computed from the steps table, so any target works).

  Columns: workload, submission, study, trial, seed, hparams (JSON), status
  (a final status, ``incomplete`` or ``unreadable``), message (for an
  unreadable trial: the file and what is wrong), failed (status error or
  interrupted),
  hardware_id, device, regime, target, step_flops, steps_run,
  final_objective, submission_time_s, reached, time_to_target,
  steps_to_target, flops_to_target, evals_to_target, run_dir.  Trials of a
  submission on a workload without sweep indices are numbered in path order
  (study 0).
  """
  paths = list(paths)
  rows = [row for row in (load_trial(e, targets) for e in find_runs(paths))
          if _is_a_run(row)]
  if not rows:
    raise ValueError(f"no runs found under {list(paths)} (a run folder "
                     "holds the status.json and meta.json that edgeperf-run "
                     "writes)")
  df = pd.DataFrame(rows)
  missing = df["trial"].isna()
  if missing.any():
    numbers = df[missing].groupby(["workload", "submission"],
                                  dropna=False).cumcount()
    df.loc[missing, "trial"] = numbers
  df["trial"] = df["trial"].astype(int)
  df["study"] = df["study"].astype(int)
  return df


# ---------------------------------------------------------- references ---

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


# --------------------------------------------------------------- build ---

@dataclasses.dataclass
class Leaderboard:
  """Everything the markdown and the plots show."""

  metric: str
  trials: pd.DataFrame  # every trial (scored and not)
  times: pd.DataFrame  # submissions × scored workloads, t_{s,w}
  scores: pd.Series  # benchmark score per submission, sorted
  profile: pd.DataFrame  # ρ_s(τ), submissions × τ
  speedups: dict[str, pd.DataFrame]  # ref → submissions × workloads S_{s,w}
  geomeans: dict[str, pd.DataFrame]  # ref → profiles.geomean_speedup
  unscored_workloads: list[str]
  hardware: dict[str, str]  # hardware_id → device description
  max_tau: float
  notes: list[str]
  steps: pd.DataFrame | None = None  # steps to target, same shape (the
  #   second clock, shown beside a time metric)


def check_hardware(trials: pd.DataFrame, metric: str) -> dict[str, str]:
  """The hardware ids of the trials; refuses to mix them for a time metric.

  Raises:
    HardwareMismatchError: more than one ``hardware_id`` and a
      hardware-dependent metric.
  """
  ids = trials["hardware_id"].dropna()
  hardware = {}
  for hw in sorted(ids.unique()):
    rows = trials[trials["hardware_id"] == hw]
    hardware[hw] = str(rows["device"].dropna().iloc[0]) if rows[
        "device"].notna().any() else "?"
  if len(hardware) > 1 and metric not in HARDWARE_INDEPENDENT:
    lines = []
    for hw, desc in hardware.items():
      rows = trials[trials["hardware_id"] == hw]
      lines.append(f"  {hw} ({desc}): {len(rows)} trials, e.g. "
                   f"{rows['run_dir'].iloc[0]}")
    raise HardwareMismatchError(
        f"results come from {len(hardware)} different hardware fingerprints "
        "and times measured on different hardware cannot share a score:\n"
        + "\n".join(lines) + "\nScore each hardware's runs separately, or "
        "ask for hardware-independent metrics only (--hardware_independent: "
        f"one of {list(HARDWARE_INDEPENDENT)} to target).")
  return hardware


def check_isolation(trials: pd.DataFrame, metric: str) -> None:
  """Refuses time metrics from trials that overlapped in time on shared
  cores (their clocks measured each other's load).

  Trials that do not record their cores and times (recorded before workers
  owned cores) are not checked.

  Raises:
    SharedCoresError: naming two such trials.
  """
  if metric in HARDWARE_INDEPENDENT:
    return
  known = trials.dropna(subset=["cores", "started_unix", "finished_unix"])
  known = known.sort_values("started_unix")
  rows = list(known.itertuples())
  for i, a in enumerate(rows):
    cores_a = set(a.cores.split(","))
    for b in rows[i + 1:]:
      if b.started_unix >= a.finished_unix:
        break
      if (a.hardware_id == b.hardware_id and
          cores_a & set(b.cores.split(","))):
        raise SharedCoresError(
            f"{a.run_dir} and {b.run_dir} ran at the same time on shared "
            f"cores ({sorted(cores_a & set(b.cores.split(',')))}), so their "
            "times measured each other; time metrics are refused. Run trials "
            "one at a time or on dedicated cores (edgeperf-sweep --jobs with "
            "enough cores), or score hardware-independent metrics "
            "(--hardware_independent).")


def build(trials: pd.DataFrame, *, metric: str = "time",
          references: Sequence[str] = DEFAULT_REFERENCES,
          max_tau: float = profiles.MAX_TAU) -> Leaderboard:
  """Per-workload times, scores, profiles and speed-ups from the trials.

  Raises:
    ValueError: an unknown metric.
    HardwareMismatchError: see :func:`check_hardware`.
  """
  if metric not in METRICS:
    raise ValueError(f"metric must be one of {list(METRICS)}, got "
                     f"{metric!r}")
  column = METRICS[metric][0]
  hardware = check_hardware(trials, metric)
  check_isolation(trials, metric)
  notes = []
  scored = trials[~trials["status"].isin(UNSCORED)]
  for state, why in ((INCOMPLETE, "no final status"),
                     (UNREADABLE, "a file cannot be read; listed below")):
    count = int((trials["status"] == state).sum())
    if count:
      notes.append(f"{count} trial(s) {state} ({why}): not scored")
  if metric == "flops" and scored["step_flops"].isna().any():
    notes.append("some trials have no static step FLOPs: their FLOPs to "
                 "target are unknown (not scored)")
  subs = sorted(scored["submission"].dropna().unique())
  times = ttt.workload_times(scored, column).reindex(subs)
  no_target = [w for w in times.columns if times[w].isna().all()]
  unscored = sorted(set(no_target) | (
      set(trials["workload"].dropna()) - set(times.columns)))
  if no_target:
    notes.append(f"workload(s) {no_target} have no target (or no scorable "
                 "trial): not scored; set targets with edgeperf-set-targets")
  times = times.drop(columns=no_target)
  missing = times.isna() & ~times.isna().all(axis=0)
  if missing.any().any():
    pairs = [f"{s} on {w}" for s, w in zip(*np.nonzero(missing.to_numpy()))]
    notes.append(f"{len(pairs)} (submission, workload) pair(s) without "
                 "results count as not reached")
  times = times.fillna(math.inf)
  if times.shape[1] == 0:
    empty = pd.Series(math.nan, index=times.index, name="score")
    return Leaderboard(metric, trials, times, empty, pd.DataFrame(), {}, {},
                       unscored, hardware, max_tau, notes)
  scores = profiles.score(times, max_tau).sort_values(ascending=False,
                                                      kind="stable")
  prof = profiles.profile(times, max_tau=max_tau)
  speedups, geomeans = {}, {}
  for spec in references:
    ref_trials = select_reference(scored, spec)
    if ref_trials.empty:
      notes.append(f"reference {spec!r} has no trials: no speed-up against "
                   "it")
      continue
    ref_times = ttt.workload_times(ref_trials, column).reindex(
        columns=times.columns).fillna(math.inf)
    both = pd.concat([times.drop(index=spec, errors="ignore"), ref_times])
    speedups[spec] = profiles.speedups(both, spec).reindex(times.index)
    geomeans[spec] = profiles.geomean_speedup(both, spec).reindex(
        times.index)
  steps = ttt.workload_times(scored, METRICS["steps"][0]).reindex(
      index=scores.index, columns=times.columns)
  return Leaderboard(metric, trials, times.loc[scores.index], scores, prof,
                     speedups, geomeans, unscored, hardware, max_tau, notes,
                     steps)


def best_trials(trials: pd.DataFrame,
                metric: str = "time") -> pd.DataFrame:
  """Each (workload, submission)'s best trial: the smallest ``metric`` to
  target, ties and ∞ broken by the lowest final objective."""
  column = METRICS[metric][0]
  df = trials[~trials["status"].isin(UNSCORED)].copy()
  df["_key"] = df[column].fillna(math.inf)
  df["_obj"] = df["final_objective"].where(
      np.isfinite(df["final_objective"].astype(float)), math.inf)
  df = df.sort_values(["workload", "submission", "_key", "_obj"],
                      kind="stable")
  return df.groupby(["workload", "submission"], sort=True).head(1).drop(
      columns=["_key", "_obj"])


# ------------------------------------------------------------ markdown ---

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


def to_markdown(lb: Leaderboard, *, title: str = "edgeperf leaderboard",
                plots: Sequence[tuple[str, str]] = (),
                description: str = "") -> str:
  """The leaderboard as markdown: score, per-workload metric and speed-ups,
  failed trials, plots (``(caption, relative path)`` pairs)."""
  name = METRICS[lb.metric][1]
  trials = lb.trials
  out = [f"# {title}", ""]
  if description:
    out += [description, ""]
  hw = "; ".join(f"`{k}` ({v})" for k, v in lb.hardware.items()) or "unknown"
  studies = trials.groupby(["workload", "submission"])["study"].nunique()
  per_study = trials.groupby(["workload", "submission", "study"]).size()
  out += [
      f"- Metric: **{name}** — per study the best trial, per workload the "
      "median over studies (∞: not reached).",
      f"- Score: area under the performance profile ρ(τ) over τ ∈ [1, "
      f"{lb.max_tau:g}], divided by {lb.max_tau - 1:g} (1 = fastest on "
      "every workload).",
      f"- Hardware: {hw}.",
      f"- Trials: {len(trials)} ({int(trials['failed'].sum())} failed); "
      f"studies per (workload, submission): {studies.min()}–{studies.max()}"
      f", trials per study: {per_study.min()}–{per_study.max()}.",
  ]
  for note in lb.notes:
    out.append(f"- Note: {note}.")
  out.append("")

  refs = list(lb.geomeans)
  wl = list(lb.times.columns)
  out += ["## Score", ""]
  header = ["rank", "submission", "score", "workloads reached"]
  header += [f"speed-up vs {r} (geo. mean)" for r in refs]
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
    out += [f"## {title} per workload", ""]
    if both:
      out += ["Both clocks: seconds of submission time to the target, and "
              "in brackets the steps it took (∞: not reached).", ""]
    targets = trials.groupby("workload")["target"].first()
    header = ["submission"] + [f"{w} (target {targets.get(w, math.nan):.4g})"
                               for w in wl]

    def cell(s, w):
      text = _fmt(lb.times.loc[s, w], lb.metric)
      if both and math.isfinite(lb.times.loc[s, w]):
        text += f" ({_fmt(lb.steps.loc[s, w], 'steps')})"
      return text

    rows = [[f"`{s}`"] + [cell(s, w) for w in wl] for s in lb.times.index]
    out += [_table(header, rows), ""]
    for r in refs:
      out += [f"## Speed-up vs `{r}` per workload", "",
              f"S = t_ref / t_submission (> 1: faster than `{r}`; 0: only "
              "the reference reached the target; ∞: only the submission "
              "did).", ""]
      rows = [[f"`{s}`"] + [_fmt_speedup(lb.speedups[r].loc[s, w])
                            for w in wl] for s in lb.times.index]
      out += [_table(["submission"] + wl, rows), ""]

  failed = trials[trials["failed"]]
  out += ["## Failed trials", ""]
  if failed.empty:
    out += ["None.", ""]
  else:
    rows = [[r.workload, f"`{r.submission}`", r.study, r.trial,
             f"`{r.hparams}`", (r.message or "").strip().splitlines()[0][:160]
             if (r.message or "").strip() else ""]
            for r in failed.itertuples()]
    out += [_table(["workload", "submission", "study", "trial", "hparams",
                    "error"], rows), ""]
  unreadable = trials[trials["status"] == UNREADABLE]
  if not unreadable.empty:
    out += ["## Unreadable trials (not scored)", "",
            _table(["run", "what cannot be read"],
                   [[f"`{r.run_dir}`", r.message]
                    for r in unreadable.itertuples()]), ""]
  if lb.unscored_workloads:
    out += [f"Unscored workloads: {', '.join(lb.unscored_workloads)}.", ""]
  if plots:
    out += ["## Plots", ""]
    for caption, path in plots:
      out += [f"![{caption}]({path})", ""]
  return "\n".join(out)
