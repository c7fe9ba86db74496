"""One compilation serves a whole learning-rate search: float
hyperparameters enter the compiled programs as values."""

import json

from jax import monitoring
import numpy as np

from edgeperf.harness import programs
from edgeperf.harness import runner
from edgeperf.submissions import loader


def test_four_point_learning_rate_sweep_compiles_once(get_workload):
  w = get_workload("linreg_digits")
  constant = loader.load("constant")
  cache = programs.ProgramCache()
  for lr in (0.01, 0.02, 0.04, 0.08):
    injected = runner.run(w, constant.spec({"learning_rate": lr}),
                          max_steps=20, eval_every=20, stop_at_target=False,
                          progress=False, programs=cache)
    baked = runner.run(w, constant.build({"learning_rate": lr}),
                       max_steps=20, eval_every=20, stop_at_target=False,
                       progress=False)
    np.testing.assert_allclose(injected.steps["objective"],
                               baked.steps["objective"], rtol=1e-6)
    np.testing.assert_allclose(injected.steps["learning_rate"], lr,
                               rtol=1e-6)
  assert cache.compiled == 1  # one 20-step chunk program for all four


def test_values_the_code_cannot_trace_are_baked_in(get_workload):
  w = get_workload("linreg_digits")
  sub = loader.load("warmup_schedule")
  cache = programs.ProgramCache()
  hparams = {"peak_learning_rate": 0.1, "shape": "linear",
             "warmup_fraction": 0.1, "horizon_fraction": 0.5}
  result = runner.run(w, sub.spec(hparams, num_steps=20), max_steps=20,
                      stop_at_target=False, progress=False, programs=cache)
  spec = cache.resolve(w, sub.spec(hparams, num_steps=20), None, None, None)
  # round(warmup_fraction · horizon) needs a Python number: baked in; the
  # peak rate is only multiplied: a value.
  assert set(spec.dynamic) == {"peak_learning_rate"}
  assert {"warmup_fraction", "horizon_fraction"} <= set(spec.static)
  assert result.steps["learning_rate"].iloc[1] > 0


def test_a_second_trial_compiles_nothing(get_workload, tmp_path):
  """After a worker's first trial, a trial at another learning rate
  compiles no program at all (chunks, evaluation, initialisation, FLOPs),
  and needs no warm-up execution: its programs are warm."""
  compiles = []

  def listen(name, secs, **kw):
    del secs, kw
    if name == "/jax/core/compile/backend_compile_duration":
      compiles.append(name)

  monitoring.register_event_duration_secs_listener(listen)
  try:
    w = get_workload("linreg_digits")
    constant = loader.load("constant")
    cache = programs.ProgramCache()
    counts = []
    for i, lr in enumerate((0.01, 0.02)):
      compiles.clear()
      runner.run(w, constant.spec({"learning_rate": lr}), max_steps=40,
                 eval_every=20, stop_at_target=False, progress=False,
                 programs=cache, run_dir=str(tmp_path / f"trial_{i}"))
      counts.append(len(compiles))
  finally:
    monitoring.unregister_event_duration_listener(listen)
  assert counts[0] > 0 and counts[1] == 0
  warmups = [json.loads((tmp_path / f"trial_{i}" / "status.json").read_text())
             ["warmup_time_s"] for i in range(2)]
  assert warmups[0] > 0 and warmups[1] == 0
