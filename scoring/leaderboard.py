"""Builds the leaderboard from the trials table: per division, the
per-workload times t_{s,w} (median over studies of the best trial), the
performance-profile score and the speed-ups against the division's
reference submissions (:mod:`edgeperf.scoring.profiles`).

A *division* is a base direction (``gd``, ``adam``, ...): the trials table's
``division`` column (:mod:`edgeperf.scoring.trials`).  :func:`build_divisions`
builds one :class:`Leaderboard` per division from that division's trials
only, so no time, score or speed-up ever compares entries of two divisions
(the only number across divisions is steps to target, shown side by side by
:mod:`edgeperf.scoring.markdown`).  :func:`build` scores one table as one
division.

Loading: :mod:`edgeperf.scoring.trials`; references:
:mod:`edgeperf.scoring.references`; markdown: :mod:`edgeperf.scoring.markdown`.

Hardware: times measured on different hardware (different ``hardware_id``
in meta.json) are never mixed in one score; :func:`build` raises
:class:`HardwareMismatchError` unless only hardware-independent metrics
(steps, FLOPs or evaluations to target) are asked for.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Sequence

import numpy as np
import pandas as pd

from edgeperf.scoring import profiles
from edgeperf.scoring import references as references_lib
from edgeperf.scoring import time_to_target as ttt
from edgeperf.scoring import trials as trials_lib
# The names callers have always found here (the loading and references
# moved to their own modules).
from edgeperf.scoring.references import DEFAULT_REFERENCES, parse_reference  # pylint: disable=unused-import
from edgeperf.scoring.trials import (HARDWARE_INDEPENDENT, INCOMPLETE,  # pylint: disable=unused-import
                                     METRICS, UNREADABLE, UNSCORED,
                                     load_trials)


class HardwareMismatchError(ValueError):
  """Runs from different hardware were asked to share a time-based score."""


class SharedCoresError(HardwareMismatchError):
  """Trials that ran at the same time on the same cores were asked for a
  time-based score."""


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
  division: str = ""  # the base direction every trial here ran on


class DivisionMixError(ValueError):
  """Trials of several divisions were asked to share one score."""


def divisions_of(trials: pd.DataFrame) -> list[str]:
  """The divisions of ``trials``, the base directions first in their usual
  order (gd, momentum, rmsprop, adam), then any other."""
  found = set(trials["division"].dropna()) if "division" in trials else set()
  order = ("gd", "momentum", "rmsprop", "adam")
  return [d for d in order if d in found] + sorted(found - set(order))


def build_divisions(trials: pd.DataFrame, *, metric: str = "time",
                    references: Sequence[str] = (
                        references_lib.DEFAULT_REFERENCES),
                    max_tau: float = profiles.MAX_TAU
                    ) -> dict[str, Leaderboard]:
  """One :class:`Leaderboard` per division, each from its own trials only:
  its scores, profiles and speed-ups (against its own references) never
  see another division's times.

  Raises:
    HardwareMismatchError, SharedCoresError: see :func:`build` (checked
      over every trial, of every division).
  """
  check_hardware(trials, metric)
  check_isolation(trials, metric)
  return {d: build(trials[trials["division"] == d], metric=metric,
                   references=references, max_tau=max_tau)
          for d in divisions_of(trials)}


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
          references: Sequence[str] = references_lib.DEFAULT_REFERENCES,
          max_tau: float = profiles.MAX_TAU) -> Leaderboard:
  """Per-workload times, scores, profiles and speed-ups from the trials.

  ``trials`` must come from one division (one base direction): a speed-up
  or a score across divisions would rank directions, not tuners.

  Raises:
    ValueError: an unknown metric.
    DivisionMixError: trials of more than one division
      (:func:`build_divisions` scores each apart).
    HardwareMismatchError: see :func:`check_hardware`.
  """
  if metric not in METRICS:
    raise ValueError(f"metric must be one of {list(METRICS)}, got "
                     f"{metric!r}")
  found = divisions_of(trials)
  if len(found) > 1:
    raise DivisionMixError(
        f"trials of {len(found)} divisions ({', '.join(found)}) cannot "
        "share a score or a speed-up (it would compare base directions, not "
        "tuners); score each division apart (build_divisions)")
  division = found[0] if found else ""
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
                       unscored, hardware, max_tau, notes, None, division)
  scores = profiles.score(times, max_tau).sort_values(ascending=False,
                                                      kind="stable")
  prof = profiles.profile(times, max_tau=max_tau)
  speedups, geomeans = {}, {}
  for spec in references:
    ref_trials = references_lib.select_reference(scored, spec)
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
                     steps, division)


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
