"""Scoring on hand-made run tables, answers worked out by hand."""

import json
import math
import os
import re

import numpy as np
import pandas as pd
import pytest

from edgeperf.cli import score as cli_score
from edgeperf.scoring import leaderboard
from edgeperf.scoring import profiles
from edgeperf.scoring import time_to_target as ttt

INF = math.inf


def _steps(objective, time_s=None, value_evals=None):
  n = len(objective)
  time_s = time_s or [0.1 * (i + 1) for i in range(n)]
  return pd.DataFrame({
      "step": range(n), "objective": objective, "learning_rate": 0.1,
      "time_s": time_s, "value_evals": value_evals or [0] * n,
      "grad_evals": 0, "jvp_evals": 0, "hvp_evals": 0})


# ------------------------------------------------------ time to target ---

def test_first_step_at_or_below_target_with_costs():
  steps = _steps([3.0, 2.0, 1.5, 0.9, 0.5], value_evals=[0, 1, 2, 0, 5])
  r = ttt.trial_to_target(steps, 1.0, step_flops=100.0, window=1)
  # Row 3 (objective 0.9 ≤ 1) at cumulative time 0.4 s, 4 steps executed;
  # evaluations: 4 value_and_grad + extra 0+1+2+0 = 7; FLOPs 4 · 100.
  assert r["reached"]
  assert r["time_to_target"] == pytest.approx(0.4)
  assert r["steps_to_target"] == 4
  assert r["evals_to_target"] == 7
  assert r["flops_to_target"] == 400


def test_target_equality_counts_as_reached():
  r = ttt.trial_to_target(_steps([2.0, 1.0, 0.5]), 1.0, window=1)
  assert r["steps_to_target"] == 2 and r["time_to_target"] == pytest.approx(
      0.2)


def test_infinite_when_never_reached_diverged_or_error():
  never = ttt.trial_to_target(_steps([3.0, 2.0, 1.5]), 1.0, window=1)
  assert never["time_to_target"] == INF and never["steps_to_target"] == INF
  # NaN before the target: diverged; a later "reach" does not count.
  diverged = ttt.trial_to_target(_steps([3.0, math.nan, 0.5]), 1.0,
                                 window=1)
  assert diverged["time_to_target"] == INF
  diverged_inf = ttt.trial_to_target(_steps([3.0, INF, 0.5]), 1.0,
                                     window=1)
  assert diverged_inf["time_to_target"] == INF
  error = ttt.trial_to_target(_steps([3.0, 0.5]), 1.0, window=1,
                          status="error")
  assert error["time_to_target"] == INF
  empty = ttt.trial_to_target(None, 1.0)
  assert empty["time_to_target"] == INF


def test_no_static_flops_and_no_target():
  r = ttt.trial_to_target(_steps([0.5]), 1.0, window=1, step_flops=None)
  assert r["time_to_target"] == pytest.approx(0.1)
  assert math.isnan(r["flops_to_target"])
  none = ttt.trial_to_target(_steps([0.5]), None, window=1)
  assert math.isnan(none["time_to_target"]) and not none["reached"]


def test_full_batch_reach_is_a_mean_of_five_by_default():
  # Runs recorded now say reach_window = 5 in meta.json: one dip is not
  # enough, the mean of the last 5 objectives must be at the target.
  steps = _steps([3.0, 2.9, 0.5, 2.8, 2.7, 1.0, 0.9, 0.8, 0.7, 0.6])
  assert ttt.trial_to_target(steps, 1.0, window=1)["steps_to_target"] == 3
  r = ttt.trial_to_target(steps, 1.0)
  assert r["steps_to_target"] == 10 and r["time_to_target"] == (
      pytest.approx(1.0))


def test_mini_batch_reads_the_full_train_objective_at_evaluations():
  # Per-step (mini-batch) objective dips below target at step 3 but the full
  # train objective only reaches it at the evaluation after 20 steps.
  steps = _steps([2.0, 1.5, 1.2, 0.7] + [1.1] * 21,
                 value_evals=[1] * 25)
  evals = pd.DataFrame({"step": [0, 10, 20], "time_s": [0.0, 1.0, 2.0],
                        "train_objective": [2.0, 1.2, 0.8]})
  r = ttt.trial_to_target(steps, 1.0, evals=evals, mini_batch=True,
                          step_flops=10.0)
  assert r["time_to_target"] == 2.0
  assert r["steps_to_target"] == 20  # steps 0..19 ran before that eval
  assert r["evals_to_target"] == 40  # 20 value_and_grad + 20 extra
  assert r["flops_to_target"] == 200


@pytest.mark.parametrize("values,expected", [
    ([1, 2, INF], 2.0),
    ([1, INF], INF),  # even count: mean of the middle pair, ∞
    ([1, 3], 2.0),
    ([INF, INF, INF], INF),
    ([1, INF, INF], INF),
    ([2, 5, 1, INF, INF], 5.0),
    ([7], 7.0),
])
def test_median_with_inf(values, expected):
  assert ttt.median_with_inf(values) == expected
  if all(np.isfinite(values)):
    assert expected == np.median(values)


def _trials(rows):
  return pd.DataFrame(rows, columns=["workload", "submission", "study",
                                     "trial", "time_to_target"])


def test_best_per_study_then_median_over_studies_with_ties():
  rows = [
      # study 0: tie at 3 between trials 0 and 2, best 3 (first row kept)
      ("w", "A", 0, 0, 3.0), ("w", "A", 0, 1, INF), ("w", "A", 0, 2, 3.0),
      # study 1: best 5; study 2: nothing reached
      ("w", "A", 1, 0, 5.0), ("w", "A", 1, 1, 9.0),
      ("w", "A", 2, 0, INF), ("w", "A", 2, 1, INF),
      # B: studies 1 and 4 → median of an even count 2.5
      ("w", "B", 0, 0, 1.0), ("w", "B", 1, 0, 4.0),
  ]
  trials = _trials(rows)
  best = ttt.best_per_study(trials)
  a = best[best["submission"] == "A"].set_index("study")
  assert list(a["time_to_target"]) == [3.0, 5.0, INF]
  assert a.loc[0, "best_row"] == 0  # first of the tied trials
  times = ttt.workload_times(trials)
  assert times.loc["A", "w"] == 5.0  # median of [3, 5, ∞]
  assert times.loc["B", "w"] == 2.5


# ------------------------------------------------- profiles and score ---

TIMES = pd.DataFrame(
    {"w1": [10.0, 20.0, 50.0], "w2": [20.0, 10.0, INF],
     "w3": [INF, 30.0, 60.0]}, index=["A", "B", "C"])
# min per workload: 10, 10, 30.  Ratios: A 1, 2, ∞; B 2, 1, 1;
# C 5 → ∞ (beyond τ = 4), ∞, 2.


def test_ratios_with_the_tau_cutoff():
  r = profiles.ratios(TIMES)
  assert list(r.loc["A"]) == [1.0, 2.0, INF]
  assert list(r.loc["B"]) == [2.0, 1.0, 1.0]
  assert list(r.loc["C"]) == [INF, INF, 2.0]


def test_profile_values_by_hand():
  p = profiles.profile(TIMES, taus=[1.0, 1.999, 2.0, 4.0])
  assert list(p.loc["A"]) == pytest.approx([1 / 3, 1 / 3, 2 / 3, 2 / 3])
  assert list(p.loc["B"]) == pytest.approx([2 / 3, 2 / 3, 1.0, 1.0])
  assert list(p.loc["C"]) == pytest.approx([0.0, 0.0, 1 / 3, 1 / 3])


def test_score_by_hand():
  # B_s = Σ_{r ≤ 4} (4 − r) / (3 · 3).
  s = profiles.score(TIMES)
  assert s["A"] == pytest.approx((3 + 2) / 9)
  assert s["B"] == pytest.approx((2 + 3 + 3) / 9)
  assert s["C"] == pytest.approx(2 / 9)


def test_ratio_exactly_at_the_cutoff_counts_with_zero_area():
  times = pd.DataFrame({"w": [10.0, 40.0, 40.0001]}, index=["A", "D", "E"])
  p = profiles.profile(times, taus=[3.99, 4.0])
  assert list(p.loc["D"]) == [0.0, 1.0]  # r = 4 ≤ τ = 4
  assert list(p.loc["E"]) == [0.0, 0.0]  # r > 4: ∞
  s = profiles.score(times)
  assert s["A"] == 1.0 and s["D"] == 0.0 and s["E"] == 0.0


def test_ties_share_the_best_and_unreached_workloads_count():
  times = pd.DataFrame({"w1": [5.0, 5.0], "w2": [INF, INF]},
                       index=["A", "B"])
  s = profiles.score(times)
  # Both ratio 1 on w1 (area 3/3 of one workload); nobody reached w2, which
  # still counts in |W| = 2.
  assert s["A"] == pytest.approx(0.5) and s["B"] == pytest.approx(0.5)


def test_nan_times_are_not_reached():
  times = pd.DataFrame({"w": [10.0, math.nan]}, index=["A", "B"])
  assert profiles.score(times)["B"] == 0.0


def _algoperf_score(df, max_tau=4.0, num_points=100):
  """AlgoPerf's compute_performance_profiles + compute_leaderboard_score
  (scoring/performance_profile.py, score_submissions.py), transcribed."""
  df = df.copy()
  best_scores = df.min(axis=0)
  df[df.apply(lambda x: x > max_tau * best_scores, axis=1)] = np.inf
  df = df.div(df.min(axis=0), axis=1)
  points = np.linspace(1.0, max_tau, num=num_points)
  rho = pd.concat([(df <= tau).sum(axis=1) / len(df.columns)
                   for tau in points], axis=1)
  rho.columns = points
  scores = np.trapezoid(rho, x=rho.columns)
  return scores / (rho.columns.max() - rho.columns.min())


def test_same_formula_as_algoperf():
  ours = profiles.score_trapezoid(TIMES, num_points=100)
  assert ours.to_numpy() == pytest.approx(_algoperf_score(TIMES), abs=1e-12)
  # The exact area is the limit of the trapezoid rule on a finer grid.
  fine = profiles.score_trapezoid(TIMES, num_points=30001)
  assert fine.to_numpy() == pytest.approx(profiles.score(TIMES).to_numpy(),
                                          abs=2e-4)


def test_speedups_and_geometric_mean():
  s = profiles.speedups(TIMES, "A")
  assert list(s.loc["B"]) == [0.5, 2.0, INF]
  assert s.loc["C", "w1"] == pytest.approx(0.2)
  assert s.loc["C", "w2"] == 0.0  # only the reference reached: 20/∞
  assert s.loc["C", "w3"] == INF  # only C reached: ∞/60
  both_inf = pd.DataFrame({"w": [INF, INF]}, index=["A", "B"])
  assert math.isnan(profiles.speedups(both_inf, "A").loc["B", "w"])
  g = profiles.geomean_speedup(TIMES, "A")
  # B: finite on w1, w2: sqrt(0.5 · 2) = 1; w3 only B reached.
  assert g.loc["B", "speedup"] == pytest.approx(1.0)
  assert (g.loc["B", "both"], g.loc["B", "only_submission"],
          g.loc["B", "only_reference"]) == (2, 1, 0)
  # C: only w1 both reached: 10/50; w2 only A, w3 only C.
  assert g.loc["C", "speedup"] == pytest.approx(0.2)
  assert (g.loc["C", "both"], g.loc["C", "only_submission"],
          g.loc["C", "only_reference"]) == (1, 1, 1)
  assert g.loc["A", "speedup"] == 1.0
  with pytest.raises(KeyError, match="reference 'Z'"):
    profiles.speedups(TIMES, "Z")


# --------------------------------------------- run dirs → leaderboard ---

HW1 = {"backend": "cpu", "device_kind": "cpu", "device_count": 1,
       "cpu_model": "Test CPU", "cpu_count": 2, "machine": "x86_64"}


def _write_run(folder, *, workload, submission, objective, dt=0.1,
               status=None, hparams=None, hardware_id="aaaaaaaaaaaa",
               target=1.0, step_flops=50.0, cores=None, span=None):
  os.makedirs(folder)
  n = len(objective)
  _steps(objective, [dt * (i + 1) for i in range(n)]).to_csv(
      os.path.join(folder, "steps.csv"), index=False)
  pd.DataFrame({"step": [0], "time_s": [0.0],
                "train_objective": [objective[0]]}).to_csv(
                    os.path.join(folder, "evals.csv"), index=False)
  meta = {"workload": {"name": workload, "size": "small",
                       "regime": "full_batch", "batch_size": None,
                       "target_train_loss": target},
          "submission": {"name": submission, "path": "x"}, "seed": 0,
          "hparams": hparams or {}, "fingerprint": HW1,
          "hardware_id": hardware_id, "step_flops": step_flops}
  if cores is not None:
    meta["worker"] = {"executor": "local", "cores": cores}
  with open(os.path.join(folder, "meta.json"), "w") as f:
    json.dump(meta, f)
  if status is None:
    status = "target_reached" if min(objective) <= target else (
        "budget_exhausted")
  with open(os.path.join(folder, "status.json"), "w") as f:
    times = {} if span is None else {"owner": {"started_unix": span[0]},
                                     "finished_unix": span[1]}
    json.dump({"status": status, "message": "boom" if status == "error"
               else "", "final_objective": objective[-1],
               "target_train_loss": target, **times}, f)


def _make_runs(root, hardware_b="aaaaaaaaaaaa"):
  # w1: A reaches at step 1 (t = 0.2), B at step 3 (t = 0.4).
  # w2: A never; B at step 0 (t = 0.1); one failed trial of A.
  _write_run(root / "a1", workload="w1", submission="A",
             objective=[2.0, 0.9])
  _write_run(root / "b1", workload="w1", submission="B",
             objective=[2.0, 1.5, 1.2, 0.8], hardware_id=hardware_b)
  _write_run(root / "a2", workload="w2", submission="A",
             objective=[2.0, 1.5, 1.2])
  _write_run(root / "a2err", workload="w2", submission="A",
             objective=[2.0], status="error")
  _write_run(root / "b2", workload="w2", submission="B", objective=[0.5])


def test_load_and_score_run_dirs(tmp_path):
  _make_runs(tmp_path)
  trials = leaderboard.load_trials([str(tmp_path)])
  assert len(trials) == 5
  assert int(trials["failed"].sum()) == 1
  lb = leaderboard.build(trials, references=["A"])
  assert lb.times.loc["A", "w1"] == pytest.approx(0.2)
  assert lb.times.loc["B", "w1"] == pytest.approx(0.4)
  assert lb.times.loc["A", "w2"] == INF
  # A: r = (1, ∞) → (3 + 0)/(2·3) = 0.5; B: r = (2, 1) → (2 + 3)/6.
  assert lb.scores["A"] == pytest.approx(0.5)
  assert lb.scores["B"] == pytest.approx(5 / 6)
  assert list(lb.scores.index) == ["B", "A"]
  assert lb.geomeans["A"].loc["B", "speedup"] == pytest.approx(0.5)
  # Hardware-independent: steps (A 2, B 4 on w1; B 1 on w2), evals equal.
  steps = leaderboard.build(trials, metric="steps", references=["A"])
  assert steps.times.loc["B", "w1"] == 4 and steps.times.loc["B", "w2"] == 1
  flops = leaderboard.build(trials, metric="flops", references=[])
  assert flops.times.loc["B", "w1"] == 200


def test_reference_filters_on_hparams(tmp_path):
  _write_run(tmp_path / "c", workload="w", submission="warmup_schedule",
             objective=[2.0, 0.9], hparams={"shape": "cosine"})
  _write_run(tmp_path / "l", workload="w", submission="warmup_schedule",
             objective=[0.9], hparams={"shape": "linear"})
  _write_run(tmp_path / "k", workload="w", submission="constant",
             objective=[2.0, 1.5, 1.2, 0.8])
  trials = leaderboard.load_trials([str(tmp_path)])
  assert leaderboard.parse_reference("warmup_schedule[shape=cosine]") == (
      "warmup_schedule", {"shape": "cosine"})
  ref = "warmup_schedule[shape=cosine]"
  lb = leaderboard.build(trials, references=["constant", ref])
  # The schedule's best trial overall is the linear one (0.1 s) but the
  # cosine reference is 0.2 s: constant (0.4 s) is 0.5× of it.
  assert lb.times.loc["warmup_schedule", "w"] == pytest.approx(0.1)
  assert lb.speedups[ref].loc["constant", "w"] == pytest.approx(0.5)
  assert lb.speedups["constant"].loc["warmup_schedule", "w"] == (
      pytest.approx(4.0))


def test_mixed_hardware_is_refused_unless_hardware_independent(tmp_path):
  _make_runs(tmp_path, hardware_b="bbbbbbbbbbbb")
  trials = leaderboard.load_trials([str(tmp_path)])
  with pytest.raises(leaderboard.HardwareMismatchError,
                     match="2 different hardware fingerprints"):
    leaderboard.build(trials, metric="time")
  lb = leaderboard.build(trials, metric="evals", references=["A"])
  assert lb.times.loc["B", "w1"] == 4
  # The command line: exit status 2 with the message, or a score with
  # --hardware_independent.
  out = tmp_path / "out"
  with pytest.raises(SystemExit) as e:
    cli_score.main(["edgeperf-score", f"--runs={tmp_path}",
                    f"--output_dir={out}", "--noplots", "--noprint"])
  assert e.value.code == 2
  cli_score.main(["edgeperf-score", f"--runs={tmp_path}",
                  f"--output_dir={out}", "--hardware_independent",
                  "--noplots", "--noprint"])
  assert "evaluations to target" in (out / "leaderboard.md").read_text()


def test_cli_writes_markdown_and_pngs(tmp_path):
  runs = tmp_path / "runs"
  runs.mkdir()
  _make_runs(runs)
  out = tmp_path / "results"
  cli_score.main(["edgeperf-score", f"--runs={runs}", f"--output_dir={out}",
                  "--references=A", "--noprint"])
  text = (out / "leaderboard.md").read_text()
  assert "| 1 | `B` | 0.833 |" in text
  assert "| 2 | `A` | 0.500 |" in text
  assert "boom" in text  # the failed trial is listed with its error
  # Runs that name no base direction form one division, "undeclared".
  for name in ("performance_profiles_undeclared.png",
               "curves_undeclared_w1.png", "curves_undeclared_w2.png"):
    assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_trials_sharing_cores_at_the_same_time_get_no_time_score(tmp_path):
  _write_run(tmp_path / "a", workload="w", submission="A",
             objective=[2.0, 0.9], cores=[0, 1], span=(100.0, 110.0))
  _write_run(tmp_path / "b", workload="w", submission="B",
             objective=[2.0, 0.9], cores=[1], span=(105.0, 120.0))
  trials = leaderboard.load_trials([str(tmp_path)])
  with pytest.raises(leaderboard.SharedCoresError, match="shared cores"):
    leaderboard.build(trials, references=["A"])
  # Steps to target do not depend on the clock: still scored.
  assert leaderboard.build(trials, metric="steps", references=["A"]
                           ).times.loc["B", "w"] == 2
  # One after the other, or on disjoint cores at once: scored.
  for name, cores, span in (("c", [1], (111.0, 130.0)),
                            ("d", [0], (100.0, 120.0))):
    root = tmp_path / name
    root.mkdir()
    _write_run(root / "a", workload="w", submission="A",
               objective=[2.0, 0.9], cores=[0, 1] if name == "c" else [1],
               span=(100.0, 110.0))
    _write_run(root / "b", workload="w", submission="B",
               objective=[2.0, 0.9], cores=cores, span=span)
    leaderboard.build(leaderboard.load_trials([str(root)]),
                      references=["A"])


def test_interrupted_counts_like_error():
  r = ttt.trial_to_target(_steps([3.0, 0.5]), 1.0, status="interrupted")
  assert r["time_to_target"] == INF and not r["reached"]


@pytest.mark.parametrize("name,cut,message", [
    ("meta.json", 40, r"meta\.json: not valid JSON .*truncated"),
    ("status.json", 10, r"status\.json: not valid JSON .*truncated"),
    ("steps.csv", -3, r"steps\.csv: its last line is cut off"),
    ("meta.json", None, r"a file does not hold what a run writes"),
])
def test_unreadable_trials_are_listed_and_the_rest_scored(tmp_path, name,
                                                          cut, message):
  runs = tmp_path / "runs"
  runs.mkdir()
  _make_runs(runs)
  _write_run(runs / "bad", workload="w1", submission="A", objective=[0.1])
  path = runs / "bad" / name
  path.write_bytes(path.read_bytes()[:cut] if cut is not None else
                   b'{"workload": "w1"}')  # not an object where one goes
  before = {p: p.read_bytes() for p in runs.rglob("*") if p.is_file()}
  trials = leaderboard.load_trials([str(runs)])
  bad = trials[trials["status"] == "unreadable"]
  assert list(bad["run_dir"]) == [str(runs / "bad")] and not bad["failed"].any()
  assert re.search(message, bad["message"].iloc[0])
  if cut is not None:
    assert str(path) in bad["message"].iloc[0]
  # The other trials score as without the bad one (B 5/6, A 1/2).
  lb = leaderboard.build(trials, references=["A"])
  assert lb.scores["B"] == pytest.approx(5 / 6)
  assert lb.scores["A"] == pytest.approx(0.5)
  out = tmp_path / "out"
  cli_score.main(["edgeperf-score", f"--runs={runs}", f"--output_dir={out}",
                  "--references=A", "--noplots", "--noprint"])
  text = (out / "leaderboard.md").read_text()
  assert "## Unreadable trials (not scored)" in text
  assert "1 trial(s) unreadable" in text and str(runs / "bad") in text
  assert {p: p.read_bytes() for p in runs.rglob("*") if p.is_file()} == before
