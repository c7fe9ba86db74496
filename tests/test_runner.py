"""The harness: target detection, divergence, determinism, the run folder."""

import dataclasses
import json
import os
import signal

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pandas as pd
import pytest

from edgeperf import workloads
from edgeperf.harness import programs
from edgeperf.harness import rundir
from edgeperf.harness import runner
from edgeperf.harness import trainer as trainer_lib
from edgeperf.submissions import api
from edgeperf.submissions import loader
from edgeperf.submissions.constant import ConstantLRState


def _gd(lr):
  return loader.load("constant").build({"learning_rate": lr})


def test_same_seed_same_curve_other_seed_other_curve(get_workload):
  w = get_workload("mlp_mnist")
  a = runner.run(w, _gd(0.05), seed=7, max_steps=30, eval_every=10,
                 progress=False)
  b = runner.run(w, _gd(0.05), seed=7, max_steps=30, eval_every=10,
                 progress=False)
  c = runner.run(w, _gd(0.05), seed=8, max_steps=30, eval_every=10,
                 progress=False)
  np.testing.assert_array_equal(a.steps["objective"], b.steps["objective"])
  np.testing.assert_array_equal(a.evals["eval_objective"],
                                b.evals["eval_objective"])
  assert not np.array_equal(a.steps["objective"], c.steps["objective"])


def test_chunk_modes_agree(get_workload):
  w = get_workload("linreg_digits")
  curves = [runner.run(w, _gd(0.1), max_steps=20, eval_every=10,
                       chunk_mode=mode, progress=False).steps["objective"]
            for mode in ("scan", "scan_unrolled", "loop")]
  np.testing.assert_allclose(curves[0], curves[1], rtol=1e-5)
  np.testing.assert_allclose(curves[0], curves[2], rtol=1e-5)


def test_target_detection_is_running_mean_crossing_and_sticky(get_workload):
  w = get_workload("linreg_digits")
  free = runner.run(w, _gd(0.1), max_steps=60, eval_every=20,
                    stop_at_target=False, progress=False)
  objective = free.steps["objective"].to_numpy()
  target = float(objective[33])
  mean5 = np.convolve(objective, np.ones(5) / 5)[4:len(objective)]
  expected = 4 + int(np.flatnonzero(mean5 <= target)[0])
  w_target = dataclasses.replace(w, target_train_loss=target)
  result = runner.run(w_target, _gd(0.1), max_steps=60, eval_every=20,
                      progress=False)
  assert result.status == "target_reached"
  assert result.target_step == expected
  assert result.steps_run == 40  # stops at the end of the chunk holding it
  assert result.target_time_s == pytest.approx(
      result.steps["time_s"].iloc[expected])
  assert result.target_time_s <= result.submission_time_s


def test_budget_exhausted_and_completed(get_workload):
  w = get_workload("linreg_digits")
  hard = dataclasses.replace(w, target_train_loss=-1.0)
  assert runner.run(hard, _gd(0.1), max_steps=10, progress=False
                    ).status == "budget_exhausted"
  none = dataclasses.replace(w, target_train_loss=None)
  assert runner.run(none, _gd(0.1), max_steps=10, progress=False
                    ).status == "completed"
  slow = dataclasses.replace(w, target_train_loss=-1.0, time_budget_s=1e-9)
  result = runner.run(slow, _gd(0.1), max_steps=40, eval_every=10,
                      progress=False)
  assert result.status == "budget_exhausted" and result.steps_run == 10
  assert "time budget" in result.message


def test_loop_wall_time_covers_the_clock_and_not_the_compilation(
    get_workload):
  """The chunk loop's wall time holds every clocked step (and the
  evaluations), so it is never below the submission clock; compilation
  before the loop (the memory budget's first chunk) is not taken off it
  twice."""
  w = dataclasses.replace(get_workload("linreg_digits"),
                          target_train_loss=None)
  result = runner.run(w, _gd(0.1), max_steps=20, eval_every=10,
                      progress=False)
  assert result.compile_time_s > 0
  assert result.loop_wall_s >= result.submission_time_s > 0


def test_a_loop_mode_chunk_stops_at_the_time_budget(get_workload):
  """Loop mode checks the time left after every step of a chunk that the
  last step time says would outlast it; a scan chunk cannot be cut."""
  for name, mode, expected in (("cnn_digits", "loop", 1),
                               ("linreg_digits", "scan", 10)):
    w = get_workload(name)
    plan = runner.RunPlan.make(w, max_steps=10, eval_every=10,
                               chunk_mode=mode, diag_every=0)
    trainer = trainer_lib.Trainer(w, _gd(0.1), 0, plan,
                                  programs.ProgramCache())
    trainer.start()
    trainer.step_s = 1.0  # as if the last chunk's steps took 1 s each
    recs, _ = trainer.run_chunk(0, 10, remaining_s=1e-9)
    assert len(recs["objective"]) == expected, mode
    assert trainer.step_s > 0  # measured again


def test_divergence_is_recorded_not_raised(get_workload, tmp_path):
  w = get_workload("linreg_digits")
  result = runner.run(w, _gd(50.0), max_steps=200, eval_every=50,
                      run_dir=str(tmp_path / "run"), progress=False)
  assert result.status == "diverged"
  assert not np.isfinite(result.steps["objective"].iloc[-1])
  assert np.all(np.isfinite(result.steps["objective"].iloc[:-1]))
  status = rundir.RunDir(tmp_path / "run").status()
  assert status["status"] == "diverged" and "non-finite" in status["message"]


def test_run_folder_files_and_columns(get_workload, tmp_path):
  w = get_workload("linreg_digits")
  run_dir = str(tmp_path / "run")
  result = runner.run(w, _gd(0.1), seed=3, max_steps=25, eval_every=10,
                      run_dir=run_dir, hparams={"learning_rate": 0.1},
                      submission={"name": "constant", "path": "x"},
                      progress=False)
  names = sorted(os.listdir(run_dir))
  assert names == ["evals.csv", "hparams.json", "meta.json", "status.json",
                   "steps.csv"]
  steps = pd.read_csv(os.path.join(run_dir, "steps.csv"))
  assert tuple(steps.columns) == rundir.STEP_COLUMNS
  assert steps["step"].tolist() == list(range(25))
  np.testing.assert_array_equal(steps["objective"], result.steps["objective"])
  np.testing.assert_allclose(steps["learning_rate"], 0.1, rtol=1e-6)
  assert np.all(np.diff(steps["time_s"]) > 0)
  evals = pd.read_csv(os.path.join(run_dir, "evals.csv"))
  assert evals["step"].tolist() == [0, 10, 20, 25]
  assert tuple(evals.columns) == rundir.EVAL_COLUMNS
  meta = json.load(open(os.path.join(run_dir, "meta.json")))
  assert meta["seed"] == 3 and meta["workload"]["name"] == "linreg_digits"
  assert len(meta["hardware_id"]) == 12 and meta["fingerprint"]["cpu_count"]
  assert meta["software"]["jax"] and meta["step_flops"] > 0
  assert json.load(open(os.path.join(run_dir, "hparams.json"))) == {
      "learning_rate": 0.1}
  # No diagnostics asked: none measured, none timed.
  assert json.load(open(os.path.join(run_dir, "status.json")))[
      "diag_time_s"] == 0.0 == result.diag_time_s
  with pytest.raises(FileExistsError, match="already holds a finished run"):
    runner.run(w, _gd(0.1), max_steps=5, run_dir=run_dir, progress=False)


def test_crash_is_recorded_as_error_and_leaves_no_complete_looking_table(
    get_workload, tmp_path):
  w = get_workload("linreg_digits")

  def exploding_update(updates, state, params=None, **extra):
    raise RuntimeError("tuner exploded")

  tx = optax.GradientTransformationExtraArgs(
      lambda p: ConstantLRState(api.tuner_stats(0.1)), exploding_update)
  run_dir = str(tmp_path / "run")
  with pytest.raises(RuntimeError, match="tuner exploded"):
    runner.run(w, tx, max_steps=10, run_dir=run_dir, progress=False)
  status = rundir.RunDir(run_dir).status()
  assert status["status"] == "error"
  assert "tuner exploded" in status["message"]
  assert "Traceback" in status["traceback"]


def test_interrupted_run_never_looks_complete(tmp_path):
  table = rundir.TableWriter(str(tmp_path / "steps.csv"), ("step", "x"))
  table.append([{"step": 0, "x": 1.0}])
  # A kill -9 here leaves only the .partial file and a 'running' status.
  assert os.listdir(tmp_path) == ["steps.csv.partial"]
  assert not rundir.RunDir(tmp_path).is_final()
  table.close()
  assert os.listdir(tmp_path) == ["steps.csv"]


def test_mini_batch_run_checks_target_on_full_train_objective(get_workload):
  w = dataclasses.replace(get_workload("linreg_digits"),
                          regime=workloads.Regime("mini_batch", 128))
  free = runner.run(w, _gd(0.1), max_steps=40, eval_every=10,
                    stop_at_target=False, progress=False)
  target = float(free.evals["train_objective"].iloc[2])  # at step 20
  hit = runner.run(dataclasses.replace(w, target_train_loss=target),
                   _gd(0.1), max_steps=40, eval_every=10, progress=False)
  assert hit.status == "target_reached" and hit.target_step <= 20
  np.testing.assert_array_equal(free.steps["objective"].iloc[:20],
                                hit.steps["objective"].iloc[:20])


def _signal_at(step, signum):
  """A pass-through transform that sends ``signum`` to this process when
  step ``step`` runs (step -1: while the tuner is initialised)."""

  def init(params):
    del params
    if step < 0:
      os.kill(os.getpid(), signum)
    return optax.ScaleByScheduleState(count=jnp.zeros([], jnp.int32))

  def fire(count):
    if int(count) == step:
      os.kill(os.getpid(), signum)

  def update(updates, state, params=None, **extra):
    del params, extra
    jax.debug.callback(fire, state.count)
    return updates, optax.ScaleByScheduleState(count=state.count + 1)

  return optax.chain(optax.GradientTransformationExtraArgs(init, update),
                     _gd(0.1))


@pytest.mark.usefixtures("stop_signals_catchable")
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_stops_the_run_at_a_chunk_boundary_as_interrupted(
    get_workload, tmp_path, signum):
  w = get_workload("linreg_digits")
  run_dir = tmp_path / "run"
  handler = signal.getsignal(signum)
  with pytest.raises(runner.RunInterrupted) as info:
    runner.run(w, _signal_at(15, signum), max_steps=100, eval_every=10,
               run_dir=str(run_dir), progress=False)
  assert info.value.signum == signum
  assert signal.getsignal(signum) is handler  # the caller's handler is back
  status = rundir.RunDir(run_dir).status()
  name = signal.Signals(signum).name
  assert status["status"] == "interrupted" and "finished_at" in status
  assert status["message"] == (f"interrupted by {name} after "
                               f"{status['steps_run']} steps")
  assert "traceback" not in status
  # Stopped after the chunk under way: tables final and agreeing with it.
  assert sorted(os.listdir(run_dir)) == ["evals.csv", "hparams.json",
                                         "meta.json", "status.json",
                                         "steps.csv"]
  steps = pd.read_csv(run_dir / "steps.csv")
  assert 20 <= status["steps_run"] < 100 and status["steps_run"] % 10 == 0
  assert steps["step"].tolist() == list(range(status["steps_run"]))
  evals = pd.read_csv(run_dir / "evals.csv")
  assert evals["step"].iloc[-1] == status["steps_run"]


def test_a_run_interrupted_before_its_first_step_is_replaceable(
    get_workload, tmp_path):
  w = get_workload("linreg_digits")
  folder = rundir.RunDir(tmp_path / "run")
  with pytest.raises(runner.RunInterrupted):
    runner.run(w, _signal_at(-1, signal.SIGTERM), max_steps=10,
               run_dir=folder.path, progress=False)
  status = folder.status()
  assert status["status"] == "interrupted" and status["steps_run"] == 0
  assert rundir.REPLACEABLE_NOTE in status["message"]
  assert folder.is_replaceable()
  result = runner.run(w, _gd(0.1), max_steps=10, run_dir=folder.path,
                      progress=False)
  assert folder.status()["status"] == result.status != "interrupted"


def test_fingerprint_tells_cpus_with_other_vector_units_apart(tmp_path):
  from edgeperf.harness import fingerprint
  cpuinfo = ("processor\t: 0\ncpu family\t: 25\nmodel\t\t: 17\n"
             "model name\t: AMD EPYC\nflags\t\t: fpu sse4_2 avx avx2 {}\n\n"
             "processor\t: 1\ncpu family\t: 99\n")
  wide, narrow = tmp_path / "wide", tmp_path / "narrow"
  wide.write_text(cpuinfo.format("avx512f avx512bw"))
  narrow.write_text(cpuinfo.format(""))
  assert fingerprint.cpu_details(str(wide)) == {
      "cpu_family_model": "25/17", "cpu_vector": "avx512f"}
  assert fingerprint.cpu_details(str(narrow))["cpu_vector"] == "avx2"
  assert fingerprint.cpu_details(str(tmp_path / "missing")) == {
      "cpu_family_model": "?/?", "cpu_vector": "unknown"}
