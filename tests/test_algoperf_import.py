"""AlgoPerf JAX submissions run unmodified on edgeperf workloads.

The submissions under tests/algoperf_submissions/ were written here against
AlgoPerf's API; each curve is checked against the same rule written as a
plain optax loop on the workload's objective (same initial point, same
batches), so the whole import path — loading, hyperparameters, workload
members, step loop — is checked, not only that it runs.
"""

import json
import os
import subprocess
import sys

import jax
import numpy as np
import optax
import pytest

from edgeperf.harness import owned_steps
from edgeperf.submissions import loader
from edgeperf.submissions.algoperf_api import load as algoperf_load

HERE = os.path.dirname(os.path.abspath(__file__))
SUBS = os.path.join(HERE, "algoperf_submissions")
WORKLOAD = "linreg_digits"


def _sub(name):
  return os.path.join(SUBS, name)


def _run(get_workload, path, hparams=None, steps=4, eval_every=None,
         run_dir=None, workload=WORKLOAD):
  w = get_workload(workload)
  sub = loader.load(path)
  spec = sub.spec(hparams or {})
  return w, owned_steps.run(w, spec, seed=0, max_steps=steps,
                            eval_every=eval_every or steps, progress=False,
                            run_dir=run_dir,
                            submission={"name": sub.name, "path": sub.path})


def _reference(w, rate_fn, steps, tx=None):
  """f(w_t) of gradient steps on the data loss (a full batch), w_0 the
  workload's init at seed 0: rate_fn(t) · gradient, or ``tx``'s updates."""
  batch = w.full_train_batch()
  params = w.init(jax.random.key(0))
  grad_fn = jax.jit(jax.grad(w.data_loss))
  loss = jax.jit(w.loss)
  state = None if tx is None else tx.init(params)
  out = []
  for t in range(steps):
    out.append(float(loss(params, batch)))
    grad = grad_fn(params, batch)
    if tx is None:
      params = jax.tree.map(lambda p, g, t=t: p - rate_fn(t) * g, params,
                            grad)
    else:
      updates, state = tx.update(grad, state, params)
      params = optax.apply_updates(params, updates)
  return np.asarray(out)


# --------------------------------------------------------------- loading --

def test_importing_edgeperf_registers_no_algoperf_module():
  code = ("import sys, edgeperf, edgeperf.submissions.loader as l, "
          "edgeperf.harness.owned_steps\n"
          "assert not [m for m in sys.modules if m.split('.')[0] == "
          "'algoperf'], 'registered on import'\n"
          f"l.load({_sub('complete')!r})\n"
          "assert not [m for m in sys.modules if m.split('.')[0] == "
          "'algoperf'], 'left registered after loading'\n")
  subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_the_two_apis_are_told_apart_by_their_entry_points(tmp_path):
  assert algoperf_load.is_algoperf(_sub("adamw/submission.py"))
  native = os.path.join(os.path.dirname(loader.__file__), "constant",
                        "submission.py")
  assert not algoperf_load.is_algoperf(native)
  both = tmp_path / "both.py"
  both.write_text("def make_tuner(): pass\ndef init_optimizer_state(): pass\n"
                  "def update_params(): pass\n")
  assert not algoperf_load.is_algoperf(str(both))  # make_tuner wins


def test_a_real_algoperf_package_is_used_when_importable(tmp_path,
                                                         monkeypatch):
  package = tmp_path / "site" / "algoperf"
  package.mkdir(parents=True)
  (package / "__init__.py").write_text("")
  (package / "spec.py").write_text(
      "class TrainingCompleteError(Exception):\n  pass\n")
  monkeypatch.syspath_prepend(str(tmp_path / "site"))
  for name in [m for m in sys.modules if m.split(".")[0] == "algoperf"]:
    monkeypatch.delitem(sys.modules, name)
  try:
    tuner = loader.load(_sub("complete")).build()
    assert tuner.spec.__file__ == str(package / "spec.py")
  finally:
    for name in [m for m in sys.modules if m.split(".")[0] == "algoperf"]:
      del sys.modules[name]


def test_both_search_space_forms_are_read():
  space = loader.load(_sub("adamw")).search_space
  by_name = {h.name: h for h in space.hyperparameters}
  assert (by_name["learning_rate"].low, by_name["learning_rate"].high,
          by_name["learning_rate"].scale) == (1e-4, 1e-2, "log")
  assert by_name["beta2"].values == (0.999,)
  listed = loader.load(_sub("schedule/jax/submission.py"))
  assert listed.name == "schedule"  # AlgoPerf's <name>/jax/ layout
  assert [h.name for h in listed.search_space.hyperparameters] == [
      algoperf_load.POINT]
  point = listed.build({algoperf_load.POINT: 1}).hyperparameters
  assert (point.learning_rate, point.warmup_factor) == (0.2, 0.25)


# ------------------------------------------------------------------- runs --

def test_adamw_follows_optax_adamw(get_workload, tmp_path):
  hp = {"learning_rate": 3e-3, "weight_decay": 0.01}
  w, result = _run(get_workload, _sub("adamw"), hp, steps=5,
                   run_dir=str(tmp_path / "run"))
  tx = optax.adamw(3e-3, b1=0.9, b2=0.999, eps=1e-8, weight_decay=0.01)
  np.testing.assert_allclose(result.steps["objective"],
                             _reference(w, None, 5, tx), rtol=2e-6)
  assert result.steps_run == 5 and result.compile_time_s > 0
  assert np.all(np.diff(result.steps["time_s"]) > 0)
  meta = json.loads((tmp_path / "run" / "meta.json").read_text())
  assert meta["submission"]["api"] == "algoperf"
  assert meta["algoperf_spec"] == "edgeperf shim"
  status = json.loads((tmp_path / "run" / "status.json").read_text())
  assert status["status"] == result.status and status["steps_run"] == 5


def test_schedule_from_step_hint(get_workload):
  # step_hint is the run's step budget: warmup 0.25 · 8 = 2 steps
  w, result = _run(get_workload, _sub("schedule/jax/submission.py"),
                   {algoperf_load.POINT: 1}, steps=8)
  schedule = optax.join_schedules(
      [optax.linear_schedule(0.0, 0.2, 2), optax.cosine_decay_schedule(0.2, 6)],
      [2])
  np.testing.assert_allclose(result.steps["objective"],
                             _reference(w, schedule, 8), rtol=2e-6)
  # warmup starts at rate 0: the first step leaves the parameters alone
  assert result.steps["objective"][1] == result.steps["objective"][0]


def test_dropout_rng_and_model_state_are_threaded(get_workload):
  # the submission asserts that model_state counts the steps it saw
  w, result = _run(get_workload, _sub("dropout_state"),
                   {"dropout_rate": 0.1}, steps=4)
  assert result.status != "error"
  np.testing.assert_allclose(result.steps["objective"],
                             _reference(w, lambda t: 0.1, 4), rtol=2e-6)


def test_prepare_for_eval_gives_the_evaluated_and_continued_point(
    get_workload):
  w, result = _run(get_workload, _sub("eval_average"), steps=6,
                   eval_every=3)
  batch = w.full_train_batch()
  params = w.init(jax.random.key(0))
  grad_fn = jax.jit(jax.grad(w.data_loss))
  iterates = [params]
  for _ in range(3):
    params = jax.tree.map(lambda p, g: p - 0.5 * g, params,
                          grad_fn(params, batch))
    iterates.append(params)
  average = jax.tree.map(lambda *xs: sum(xs) / len(xs), *iterates)
  at_3 = result.evals.set_index("step").loc[3, "train_objective"]
  np.testing.assert_allclose(at_3, float(w.loss(average, batch)), rtol=2e-6)
  assert at_3 < float(w.loss(params, batch)) or at_3 > float(
      w.loss(params, batch))  # the average, not the last iterate
  # training goes on from what prepare_for_eval returned
  np.testing.assert_allclose(result.steps["objective"][3], at_3, rtol=1e-6)


def test_self_tuning_gets_no_hyperparameters(get_workload):
  sub = loader.load(_sub("self_tuning"))
  assert sub.search_space.ruleset == "self"
  assert sub.build().hyperparameters is None
  w, result = _run(get_workload, _sub("self_tuning"), steps=4)
  np.testing.assert_allclose(result.steps["objective"],
                             _reference(w, lambda t: 0.1 * 0.5 ** (t // 2), 4),
                             rtol=2e-6)


def test_training_complete_error_ends_the_run(get_workload):
  _, result = _run(get_workload, _sub("complete"), steps=10, eval_every=2)
  assert result.steps_run == 4  # steps 0-3; step 3 raised
  assert "TrainingCompleteError) at step 3" in result.message
  assert list(result.evals["step"]) == [0, 2, 4]  # a final evaluation


# -------------------------------------------------------------- bad input --

def _folder(tmp_path, code, space):
  folder = tmp_path / "sub"
  folder.mkdir()
  (folder / "submission.py").write_text(code)
  if space is not None:
    (folder / "tuning_search_space.json").write_text(json.dumps(space))
  return folder


def test_a_file_with_neither_api_is_refused_naming_it(tmp_path):
  folder = _folder(tmp_path, "def update_params():\n  pass\n", {})
  with pytest.raises(loader.SubmissionError) as e:
    loader.load(folder)
  text = str(e.value)
  assert "\n" not in text and str(folder / "submission.py") in text
  assert "make_tuner" in text and "init_optimizer_state" in text


@pytest.mark.parametrize("space", [
    {"learning_rate": [0.1, 0.2]},
    {"learning_rate": {"min": 1, "max": 2}},
    {"learning_rate": {"min": 0.0, "max": 1.0, "scaling": "log"}},
    [], "0.1", [{"a": 1}, {"b": 2}]])
def test_a_search_space_of_neither_form_is_refused_naming_it(tmp_path,
                                                             space):
  code = open(_sub("complete/submission.py")).read()
  folder = _folder(tmp_path, code, space)
  with pytest.raises(loader.SubmissionError) as e:
    loader.load(folder)
  text = str(e.value)
  assert "\n" not in text
  assert text.startswith(str(folder / "tuning_search_space.json"))


def test_a_hyperparameter_missing_from_the_namedtuple_is_named(
    tmp_path, get_workload):
  code = open(_sub("complete/submission.py")).read()
  folder = _folder(tmp_path, code, {"lr": {"feasible_points": [0.1]}})
  with pytest.raises(AttributeError) as e:
    _run(get_workload, str(folder), steps=2)
  text = str(e.value)
  assert "\n" not in text
  assert text.startswith(str(folder / "submission.py"))
  assert "'learning_rate'" in text and "tuning_search_space.json" in text


def test_an_algoperf_module_the_shim_lacks_is_named(tmp_path):
  code = ("from algoperf import random_utils\n"
          "def init_optimizer_state(*a): pass\n"
          "def update_params(*a): pass\n")
  folder = _folder(tmp_path, code, None)
  with pytest.raises(loader.SubmissionError,
                     match=r"submission\.py: imports algoperf\.random_utils"):
    loader.load(folder)


def test_edgeperf_run_takes_an_algoperf_file(tmp_path, capsys):
  from edgeperf.cli import run as cli_run  # pylint: disable=g-import-not-at-top
  out = tmp_path / "run"
  rc = cli_run.main(["edgeperf-run", f"--workload={WORKLOAD}",
                     f"--submission={_sub('complete/submission.py')}",
                     f"--output_dir={out}", "--max_steps=2",
                     "--noprogress"])
  assert rc == 0
  summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
  assert summary["steps_run"] == 2
  bad = tmp_path / "bad"
  rc = cli_run.main(["edgeperf-run", f"--workload={WORKLOAD}",
                     f"--submission={_sub('adamw')}", f"--output_dir={bad}",
                     "--max_steps=2", "--noprogress"])
  err = capsys.readouterr().err.strip()
  assert rc == 1 and "\n" not in err
  assert "no value for hyperparameter(s) ['learning_rate', 'weight_decay']" \
      in err


@pytest.mark.slow
def test_a_sweep_samples_and_runs_an_algoperf_submission(tmp_path):
  from edgeperf.harness.sweep import runs as sweep  # pylint: disable=g-import-not-at-top
  request = sweep.SweepRequest(workloads=(WORKLOAD,),
                               submissions=(_sub("adamw"),), num_trials=2,
                               num_studies=1, seed=0, max_steps=3,
                               eval_every=3)
  outcomes = sweep.run_sweep(str(tmp_path / "sweep"), request, jobs=1,
                             progress=False)
  assert len(outcomes) == 2
  rates = set()
  for outcome in outcomes:
    assert outcome["status"] in ("completed", "budget_exhausted",
                                 "target_reached"), outcome["message"]
    run = tmp_path / "sweep" / outcome["run_dir"]
    meta = json.loads((run / "meta.json").read_text())
    assert meta["submission"]["api"] == "algoperf"
    assert 1e-4 <= meta["hparams"]["learning_rate"] <= 1e-2
    rates.add(meta["hparams"]["learning_rate"])
  assert len(rates) == 2  # two sampled points
