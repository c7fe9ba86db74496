"""The tuning protocol's point selection and the bench at tuned points
(protocol/tuning.py, protocol/bench.py), on the smallest workload."""

import json
import os

import pandas as pd
import pytest

from edgeperf.protocol import bench
from edgeperf.protocol import tuning
from edgeperf.cli import bench as bench_cli

WL = "linreg_digits"


def _trials(rows):
  base = dict(workload=WL, division="gd", study=0, trial=0, seed=0,
              status="target_reached",
              reached=True, time_to_target=1.0, final_objective=1.0)
  return pd.DataFrame([dict(base, **r) for r in rows])


def test_select_points_prefers_fewest_steps_then_lowest_loss():
  trials = _trials([
      dict(submission="a", hparams=json.dumps({"lr": 1}),
           steps_to_target=50.0, time_to_target=9.0),
      dict(submission="a", hparams=json.dumps({"lr": 2}),
           steps_to_target=40.0, time_to_target=10.0),
      dict(submission="b", hparams=json.dumps({"lr": 3}), reached=False,
           steps_to_target=float("inf"), final_objective=2.0),
      dict(submission="b", hparams=json.dumps({"lr": 4}), reached=False,
           steps_to_target=float("inf"), final_objective=1.5),
  ])
  points = tuning.select_points(trials)
  assert points[WL]["a"]["hparams"] == {"lr": 2}
  assert points[WL]["b"]["hparams"] == {"lr": 4}
  assert not points[WL]["b"]["reached"]


def _tuned_file(tmp_path, constant_lr):
  path = tmp_path / "tuned.json"
  point = lambda hp: {"hparams": hp, "seed": 0, "reached": True,
                      "steps_to_target": 1.0, "time_to_target": 1.0,
                      "final_objective": 1.0, "trials": 1}
  tuning.write({WL: {"constant": point({"learning_rate": constant_lr}),
                     "cdat": point({"sigma": 2.0, "beta": 0.0, "eps": 0.0,
                                    "estimator": "jvp", "every_k": 10,
                                    "base_optimizer": "gd"})}},
               tuning.provenance({"num_trials": 5, "num_studies": 1},
                                 "test"), str(path))
  return str(path)


def test_missing_tuned_point_is_named(tmp_path):
  with pytest.raises(tuning.TunedPointsError, match="no tuned point for qg"):
    bench.tuned_plan(tuning.read(_tuned_file(tmp_path, 0.128)),
                     workloads=[WL], submissions=["constant", "qg"],
                     studies=[0], budget_factor=1.0)
  with pytest.raises(tuning.TunedPointsError, match="make tune"):
    tuning.read(str(tmp_path / "absent.json"))


@pytest.mark.slow
def test_bench_at_tuned_points_with_repeats(tmp_path, capsys):
  tuned = _tuned_file(tmp_path, 0.128)  # the stored best constant rate
  out = tmp_path / "out"
  bench_cli.main(["edgeperf-bench", f"--output_dir={out}",
                  f"--workloads={WL}", "--submissions=constant,cdat",
                  f"--tuned_points={tuned}", "--budget_factor=1.5",
                  "--top=1", "--repeats=2", "--jobs=1", "--noprogress"])
  text = (out / "leaderboard.md").read_text()
  assert "Tuned points" in text and "Spread over repeats" in text
  trials = pd.read_csv(out / "trials.csv")
  assert len(trials) == 3  # two pairs once, the leader once more
  assert trials["reached"].any()
  # No program is shared between the bench's pairs: every value is baked.
  for meta in out.glob("bench_sweep/*/runs/**/meta.json"):
    assert json.loads(meta.read_text())["injected_hparams"] == []


@pytest.mark.slow
def test_stale_targets_stop_the_bench(tmp_path, capsys):
  tuned = _tuned_file(tmp_path, 1e-4)  # far too small to reach the target
  with pytest.raises(SystemExit) as e:
    bench_cli.main(["edgeperf-bench", f"--output_dir={tmp_path / 'o'}",
                    f"--workloads={WL}", "--submissions=constant",
                    f"--tuned_points={tuned}", "--budget_factor=1",
                    "--jobs=1", "--noprogress"])
  assert e.value.code != 0
  err = capsys.readouterr().err
  assert "stale" in err and "make targets" in err
  assert "Traceback" not in err


def test_every_repeat_runs_the_tuned_trial_again(tmp_path):
  points = tuning.read(_tuned_file(tmp_path, 0.128))
  tuning.points_of(points, "gd")[WL]["constant"]["seed"] = 1234
  plan = bench.tuned_plan(points, workloads=[WL], submissions=["constant"],
                          studies=[1, 2], budget_factor=1.5)
  assert [t.seed for t in plan["trials"]] == [1234, 1234]
  assert all(t.inject is False for t in plan["trials"])
  assert [t.study for t in plan["trials"]] == [1, 2]
  assert all(t.hparams == {"learning_rate": 0.128} for t in plan["trials"])


def test_only_runs_that_reached_are_repeated():
  trials = _trials([
      dict(submission="a"), dict(submission="b", reached=False),
      dict(submission="c", workload="other"),
      dict(submission="b", study=1)])  # a repeat does not count
  assert bench.reached_pairs(trials) == {("gd", WL, "a"),
                                         ("gd", "other", "c")}


def test_a_submission_added_since_tuning_is_named_not_benched():
  points = {"linreg_digits": {"constant": {}, "cdat": {}},
            "mlp_mnist": {"constant": {}}}
  subs, untuned = bench.tuned_submissions(points, ["linreg_digits"])
  assert subs == ("cdat", "constant") and "qg" in untuned
  subs, untuned = bench.tuned_submissions(points, ["linreg_digits",
                                                   "mlp_mnist"])
  assert subs == ("constant",) and "cdat" in untuned
