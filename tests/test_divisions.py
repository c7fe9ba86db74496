"""Divisions by base direction (protocol/divisions.py): routing, each
division's own targets and tuned points, the refusal of a submission that
declares no direction, and a leaderboard that never compares divisions."""

import dataclasses
import json
import os

import pandas as pd
import pytest

from edgeperf.cli import bench as bench_cli
from edgeperf.harness import runner
from edgeperf.harness.sweep import trial as trial_lib
from edgeperf.harness.sweep import worker as worker_lib
from edgeperf.protocol import bench
from edgeperf.protocol import divisions
from edgeperf.protocol import targets
from edgeperf.protocol import tuning
from edgeperf.scoring import leaderboard
from edgeperf.scoring import markdown
from edgeperf.scoring import trials as trials_lib
from edgeperf.submissions import loader
from edgeperf.workloads import registry

WL = "linreg_digits"
ANY = {"constant", "warmup_schedule", "cdat", "cdat_amortised", "qg",
       "armijo", "polyak", "hypergradient", "exact_sharpness"}


# ------------------------------------------------------------- routing ---

def test_every_shipped_submission_enters_the_divisions_it_declares():
  routed = divisions.route(loader.available(), divisions.DIRECTIONS)
  names = {d: {e.name for e in entries} for d, entries in routed.items()}
  assert names["gd"] == ANY | {"schedule_free", "dog", "fractal_chebyshev",
                               "edge_controller"}
  assert names["adam"] == ANY | {"schedule_free", "dadapt", "prodigy",
                                 "mechanic", "edge_controller"}
  assert names["momentum"] == ANY and names["rmsprop"] == ANY
  # In a division the direction is fixed, not searched, and builds.
  for division, entries in routed.items():
    for entry in entries:
      sub = loader.load(entry.name)
      space = divisions.space_for(sub.search_space, division)
      assert space.defaults()["base_optimizer"] == division
      point = {h.name: h.values[0] for h in space.hyperparameters
               if h.is_finite}
      sub.build(point, num_steps=10)


def _undeclared(tmp_path):
  folder = tmp_path / "nodirection"
  folder.mkdir()
  (folder / "submission.py").write_text(
      "import optax\n\n"
      "def make_tuner(*, learning_rate: float = 0.1):\n"
      "  return optax.sgd(learning_rate)\n")
  (folder / "search_space.json").write_text(json.dumps(
      {"ruleset": "external",
       "hyperparameters": {"learning_rate": {"values": [0.1, 0.2]}}}))
  return str(folder / "submission.py")


def test_a_submission_that_declares_no_direction_is_refused(tmp_path,
                                                            capsys):
  path = _undeclared(tmp_path)
  with pytest.raises(divisions.DivisionError,
                     match="nodirection/search_space.json: submission "
                     'declares no base direction; add "base_optimizer"'):
    divisions.route(["constant", path])
  with pytest.raises(divisions.DivisionError, match="no base direction"):
    tuning.plan(divisions=["gd"], workloads=[WL], submissions=[path],
                num_trials=1, num_studies=1, seed=0, grid_limit=1,
                max_steps={})
  # At the command line: one line, before any folder is made.
  tuned = tmp_path / "tuned.json"
  tuning.write({WL: {"submission": {"hparams": {}, "seed": 0}}},
               {"protocol": {}}, str(tuned))
  with pytest.raises(SystemExit) as e:
    bench_cli.main(["edgeperf-bench", f"--output_dir={tmp_path / 'out'}",
                    f"--workloads={WL}", f"--submissions={path}",
                    f"--tuned_points={tuned}", "--noprogress"])
  err = capsys.readouterr().err
  assert e.value.code != 0 and "declares no base direction" in err
  assert "Traceback" not in err and len(err.strip().splitlines()) == 1
  assert not (tmp_path / "out").exists()


def test_unknown_division_is_named():
  with pytest.raises(divisions.DivisionError, match="'sgd'"):
    divisions.route(["constant"], ["gd", "sgd"])


# ------------------------------------------------------------- targets ---

def test_a_divisions_targets_come_from_its_own_constant(tmp_path):
  path = str(tmp_path / "targets_adam.json")
  entry = next(targets.set_targets([WL], division="adam", targets_file=path,
                                   progress=False))
  assert entry["base_optimizer"] == "adam" and "adam" in entry["procedure"]
  # The target is the adam constant's own score at its best rate ...
  workload = registry.get(WL)
  spec = loader.load("constant").spec(
      {"learning_rate": entry["best_learning_rate"],
       "base_optimizer": "adam"})
  run = runner.run(workload, spec, seed=0, max_steps=workload.step_hint,
                   stop_at_target=False, progress=False)
  assert entry["target_train_loss"] == pytest.approx(
      targets.horizon_score(run.steps["objective"]), rel=1e-6)
  # ... not the gd division's (which stays in workloads/targets.json).
  gd = registry.get(WL).target_train_loss
  assert entry["target_train_loss"] != pytest.approx(gd, rel=1e-3)
  assert targets.targets_path("gd") == registry.targets_file.TARGETS_FILE
  # A bench trial of the adam division races against the adam target.
  adam = registry.get(WL, targets_path=path)
  assert adam.target_train_loss == entry["target_train_loss"]
  trial = divisions.entry_in(
      trial_lib.Trial(workload=WL, submission="constant", name="constant",
                      ruleset="tuned", study=0, trial=0, seed=0, hparams={}),
      "adam", path)
  assert trial.id.startswith("adam/") and trial.run_dir.startswith(
      os.path.join("runs", "adam", WL))
  task = trial.task(str(tmp_path))
  worker = worker_lib.Worker([0])
  built = worker.workload(task)
  assert built.target_train_loss == entry["target_train_loss"]
  # A tuning trial has a step budget only; the same workload is reused.
  untimed = worker.workload(dataclasses.replace(task, untimed=True))
  assert untimed.time_budget_s == float("inf") and built.time_budget_s < 1e3
  assert worker.workload(dataclasses.replace(task, untimed=True)) is untimed


def test_a_loaded_machine_cannot_cut_a_target_run_short():
  # A time budget far too short for any run: the procedure counts steps.
  workload = dataclasses.replace(registry.get(WL), time_budget_s=1e-6)
  scores = targets.grid_scores(workload, base_optimizer="adam",
                               progress=False)
  assert len(scores) == 12
  assert min(scores.values()) == pytest.approx(
      registry.get(WL, targets_path=targets.targets_path(
          "adam")).target_train_loss, rel=1e-4)


def test_tuning_fixes_the_direction_and_uses_the_divisions_targets():
  plan = tuning.plan(divisions=["gd", "adam"], workloads=[WL],
                     submissions=["constant", "dadapt", "dog"],
                     num_trials=5, num_studies=1, seed=0, grid_limit=15,
                     max_steps={WL: 400})
  by = {}
  for t in plan["trials"]:
    by.setdefault((t.division, t.name), []).append(t)
  assert set(by) == {("gd", "constant"), ("gd", "dog"), ("adam", "constant"),
                     ("adam", "dadapt")}
  assert len(by[("adam", "constant")]) == 12  # the whole log-2 grid
  for (division, _), trials in by.items():
    for t in trials:
      assert t.hparams["base_optimizer"] == division
      assert t.max_steps == 400 and t.untimed is True
      assert t.run_dir.startswith(os.path.join("runs", division))
      assert t.targets_file == (
          None if division == "gd" else targets.targets_path(division))


def test_the_default_schedule_space_is_covered_whole():
  space = loader.load("warmup_schedule").search_space
  assert space.size() == 12 * 4  # peak rates × directions
  fixed = divisions.space_for(space, "adam")
  assert fixed.size() == 12 and fixed.defaults() == {
      "shape": "cosine", "warmup_fraction": 0.05, "horizon_fraction": 1.0,
      "base_optimizer": "adam"}
  shapes = os.path.join(os.path.dirname(loader.locate("warmup_schedule").path),
                        "search_space_shapes.json")
  plan = tuning.plan(divisions=["gd"], workloads=[WL],
                     submissions=["warmup_schedule"], num_trials=5,
                     num_studies=1, seed=0, grid_limit=15, max_steps={},
                     search_spaces={"warmup_schedule": shapes})
  assert len(plan["trials"]) == 5  # 324 points: sampled


# --------------------------------------------------------- tuned points ---

def test_tuned_points_are_kept_per_division_and_per_pair(tmp_path):
  path = str(tmp_path / "tuned.json")
  point = lambda lr: {"hparams": {"learning_rate": lr}, "seed": 0}
  # A file of the first format reads as the gd division.
  with open(path, "w") as f:
    json.dump({"provenance": {"date": "old"}, "points": {
        WL: {"constant": point(0.1), "cdat": point(0.2)}}}, f)
  assert tuning.points_of(tuning.read(path), "gd")[WL]["cdat"][
      "hparams"] == {"learning_rate": 0.2}
  tuning.write({WL: {"constant": point(0.3)}}, {"date": "new"}, path,
               division="adam")
  tuning.write({WL: {"cdat": point(0.4)}}, {"date": "newer"}, path,
               division="gd")
  data = tuning.read(path)
  gd, adam = tuning.points_of(data, "gd"), tuning.points_of(data, "adam")
  assert gd[WL]["constant"]["hparams"] == {"learning_rate": 0.1}
  assert gd[WL]["cdat"]["hparams"] == {"learning_rate": 0.4}
  assert adam[WL]["constant"]["hparams"] == {"learning_rate": 0.3}
  tunings = tuning.tunings_of(data, "gd")
  assert [t["date"] for t in tunings] == ["old", "newer"]
  assert tunings[gd[WL]["cdat"]["tuned_by"]]["date"] == "newer"
  # The bench refuses an entry with no point in its division, by name.
  with pytest.raises(tuning.TunedPointsError,
                     match="cdat on linreg_digits in division adam"):
    bench.tuned_plan(data, workloads=[WL], submissions=["constant", "cdat"],
                     studies=[0], budget_factor=1.0,
                     divisions=["gd", "adam"])


# ---------------------------------------------------------- leaderboard ---

def _run(folder, *, submission, division, objective, dt=0.1):
  os.makedirs(folder)
  n = len(objective)
  pd.DataFrame({"step": range(n), "objective": objective,
                "learning_rate": 0.1, "time_s": [dt * (i + 1)
                                                 for i in range(n)],
                "value_evals": 0, "grad_evals": 0, "jvp_evals": 0,
                "hvp_evals": 0}).to_csv(os.path.join(folder, "steps.csv"),
                                        index=False)
  meta = {"workload": {"name": "w", "size": "small", "regime": "full_batch",
                       "batch_size": None, "target_train_loss": 1.0},
          "submission": {"name": submission, "path": "x"}, "seed": 0,
          "hparams": {"base_optimizer": division},
          "fingerprint": {"device_kind": "cpu"}, "hardware_id": "a" * 12}
  with open(os.path.join(folder, "meta.json"), "w") as f:
    json.dump(meta, f)
  with open(os.path.join(folder, "status.json"), "w") as f:
    json.dump({"status": "target_reached" if min(objective) <= 1 else
               "budget_exhausted", "final_objective": objective[-1]}, f)


def test_the_leaderboard_never_computes_a_speedup_across_divisions(tmp_path):
  # gd: constant reaches at step 3 (0.4 s), A at step 1 (0.2 s).
  # adam: constant at step 0 (0.1 s), B at step 1 (0.2 s); no schedule.
  _run(tmp_path / "gc", submission="constant", division="gd",
       objective=[2, 2, 2, 0.5])
  _run(tmp_path / "ga", submission="A", division="gd", objective=[2, 0.5])
  _run(tmp_path / "ac", submission="constant", division="adam",
       objective=[0.5])
  _run(tmp_path / "ab", submission="B", division="adam", objective=[2, 0.5])
  trials = trials_lib.load_trials([str(tmp_path)])
  assert sorted(trials["division"].unique()) == ["adam", "gd"]
  with pytest.raises(leaderboard.DivisionMixError, match="2 divisions"):
    leaderboard.build(trials)
  boards = leaderboard.build_divisions(trials, references=["constant"])
  assert list(boards) == ["gd", "adam"]
  gd, adam = boards["gd"], boards["adam"]
  assert set(gd.times.index) == {"constant", "A"}
  assert set(adam.times.index) == {"constant", "B"}
  # Each speed-up is against the entry's own division's constant.
  assert gd.speedups["constant"].loc["A", "w"] == pytest.approx(2.0)
  assert adam.speedups["constant"].loc["B", "w"] == pytest.approx(0.5)
  assert "B" not in gd.speedups["constant"].index
  # Scores are within a division: each division's best scores 1.
  assert gd.scores["A"] == 1.0 and adam.scores["constant"] == 1.0
  text = markdown.to_markdown(boards)
  gd_part = text.split("## Division `gd`")[1].split("## Division `adam`")[0]
  adam_part = text.split("## Division `adam`")[1]
  assert "`B`" not in gd_part and "`A`" not in adam_part.split(
      "## Failed trials")[0]
  assert "except **steps to target**" in text
  summary = text.split("## Summary")[1].split("## Division")[0]
  assert "| `gd` | 2 | `A` | 1.000 | 1/1 | 2 |" in summary
  assert "| `adam` | 2 | `constant` | 1.000 | 1/1 | 1 |" in summary


def test_a_division_without_its_reference_gets_no_speedup(tmp_path):
  _run(tmp_path / "gc", submission="constant", division="gd",
       objective=[2, 2, 2, 0.5])
  _run(tmp_path / "ab", submission="B", division="adam", objective=[2, 0.5])
  boards = leaderboard.build_divisions(
      trials_lib.load_trials([str(tmp_path)]), references=["constant"])
  assert boards["adam"].speedups == {}  # gd's constant is not adam's
  assert any("no trials" in n for n in boards["adam"].notes)


@pytest.mark.slow
def test_the_bench_runs_each_division_against_its_own_targets(tmp_path):
  tuned = str(tmp_path / "tuned.json")
  point = lambda hp: {"hparams": hp, "seed": 0}
  cdat = {"sigma": 2.0, "beta": 0.9, "eps": 0.0, "estimator": "jvp",
          "every_k": 1}
  tuning.write({WL: {"constant": point({"learning_rate": 0.128,
                                        "base_optimizer": "gd"}),
                     "cdat": point(dict(cdat, base_optimizer="gd"))}},
               {"protocol": {}}, tuned, division="gd")
  adam_lr = registry.get(WL, targets_path=targets.targets_path(
      "adam")).target_info["best_learning_rate"]
  tuning.write({WL: {"constant": point({"learning_rate": adam_lr,
                                        "base_optimizer": "adam"}),
                     "cdat": point(dict(cdat, base_optimizer="adam"))}},
               {"protocol": {}}, tuned, division="adam")
  out = tmp_path / "out"
  bench_cli.main(["edgeperf-bench", f"--output_dir={out}",
                  f"--workloads={WL}", "--submissions=constant,cdat",
                  f"--tuned_points={tuned}", "--budget_factor=1.5",
                  "--top=1", "--repeats=2", "--jobs=1", "--noprogress"])
  trials = pd.read_csv(out / "trials.csv")
  assert len(trials) == 6  # 2 entries × 2 divisions, each leader again
  for division in ("gd", "adam"):
    mine = trials[trials["division"] == division]
    stored = registry.get(WL, targets_path=targets.targets_path(
        division)).target_train_loss
    assert mine["target"].unique() == pytest.approx([stored])
    assert mine[mine["submission"] == "constant"]["reached"].all()
    assert (out / f"performance_profiles_{division}.png").exists()
    assert (out / f"curves_{division}_{WL}.png").exists()
  text = (out / "leaderboard.md").read_text()
  assert text.count("## Division") == 2 and "## Summary" in text
  assert "Spread over repeats" in text and "Tuned points" in text


@pytest.mark.slow
def test_tuning_writes_each_divisions_points_with_provenance(tmp_path):
  path = str(tmp_path / "tuned.json")
  done = tuning.run_tuning(
      str(tmp_path / "sweep"), workloads=[WL], submissions=["constant"],
      divisions=["gd", "adam"], num_trials=2, num_studies=1, grid_limit=1,
      budget_factor=1.0, path=path, progress=False)
  data = tuning.read(path)
  for division in ("gd", "adam"):
    point = tuning.points_of(data, division)[WL]["constant"]
    assert point["hparams"]["base_optimizer"] == division
    assert point["trials"] == 2
    prov = tuning.tunings_of(data, division)[point["tuned_by"]]
    assert prov["protocol"]["division"] == division
    assert prov["protocol"]["budgets"].startswith("step budgets "
                                                  "linreg_digits 200")
    chosen = done[division]["points"][WL]["constant"]
    assert (chosen["hparams"], chosen["seed"]) == (point["hparams"],
                                                   point["seed"])


def test_a_constant_cut_by_its_time_budget_is_not_called_stale():
  row = dict(workload=WL, division="adam", submission="constant", study=0,
             reached=False, target=0.1, final_objective=0.2)
  slow = pd.DataFrame([dict(row, message="time budget spent after 350 "
                            "steps")])
  with pytest.raises(bench.SlowMachineError, match="linreg_digits \\(adam\\)"
                     ".*time budget spent after 350 steps.*quiet machine"):
    bench.check_reference(slow)
  stale = pd.DataFrame([dict(row, message="step budget 400 spent")])
  with pytest.raises(bench.StaleTargetsError, match="targets are stale"):
    bench.check_reference(stale)
