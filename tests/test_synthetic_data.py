"""The ``synthetic`` data source of the paper presets: random examples of the
presets' shapes, for cost measurement only — every run that scores or sets a
target refuses a workload built on them, in one line, before it writes
anything."""

import numpy as np
import pytest

from edgeperf import workloads
from edgeperf.harness import runner
from edgeperf.protocol import targets
from edgeperf.submissions import loader
from edgeperf.workloads import base
from edgeperf.workloads import paper_presets

NAME = "mlp256x3_mnist"


@pytest.fixture(scope="module")
def synthetic():
  return workloads.get(NAME, size="small", data_source="synthetic")


@pytest.mark.parametrize("name", ["resnet34_cifar10",
                                  "nanolm_tinyshakespeare",
                                  "vit_ti32_imagenette"])
def test_synthetic_batches_have_the_presets_shapes(name):
  p = paper_presets.preset(name, "small")
  want_train, want_eval, classes = paper_presets.abstract(p,
                                                          mini_batch=False)
  train, evals, got_classes = paper_presets.synthetic(p, mini_batch=False)
  assert got_classes == classes
  for got, want in ((train, want_train), (evals, want_eval)):
    for key in ("inputs", "targets"):
      assert got[key].shape == want[key].shape, (name, key)
      assert got[key].dtype == want[key].dtype, (name, key)
    assert got["targets"].min() >= 0 and got["targets"].max() < classes
    if got["inputs"].dtype == np.float32:
      assert 0.0 <= got["inputs"].min() and got["inputs"].max() < 1.0
  # Real examples, not a zero-stride view of one: they differ.
  assert np.ptp(train["inputs"][:, ...].reshape(len(train["inputs"]), -1)
                .sum(axis=1)) > 0


def test_synthetic_data_are_seeded():
  p = paper_presets.preset(NAME, "small")
  a, _, _ = paper_presets.synthetic(p, mini_batch=False)
  b, _, _ = paper_presets.synthetic(p, mini_batch=False)
  c, _, _ = paper_presets.synthetic(p, mini_batch=False, seed=1)
  np.testing.assert_array_equal(a["inputs"], b["inputs"])
  assert not np.array_equal(a["inputs"], c["inputs"])


def test_a_synthetic_workload_is_marked_and_has_no_target(synthetic):
  assert synthetic.synthetic and synthetic.target_train_loss is None
  assert "synthetic" in synthetic.description
  assert synthetic.num_train == paper_presets.preset(NAME, "small").num_train
  assert not workloads.get("linreg_digits").synthetic


def test_synthetic_is_only_for_the_paper_presets():
  with pytest.raises(ValueError, match="synthetic data are for the paper "
                     "presets.*linreg_digits has its own data"):
    workloads.get("linreg_digits", data_source="synthetic")
  with pytest.raises(ValueError, match="data source"):
    workloads.get(NAME, size="small", data_source="random")


def _one_line(error: Exception) -> str:
  message = str(error)
  assert "\n" not in message
  return message


def test_a_harness_run_refuses_synthetic_data(synthetic, tmp_path):
  tx = loader.load("constant").build({"learning_rate": 0.1})
  run_dir = tmp_path / "run"
  with pytest.raises(base.SyntheticDataError) as e:
    runner.run(synthetic, tx, run_dir=str(run_dir), max_steps=2,
               progress=False)
  assert _one_line(e.value) == (
      f"{NAME}/small/full: synthetic data are for cost measurement only; a "
      "harness run (it scores) needs the real data (data_source='tfds')")
  assert not run_dir.exists()  # refused before anything is written


def test_setting_a_target_refuses_synthetic_data(synthetic):
  with pytest.raises(base.SyntheticDataError, match="setting a target needs "
                     "the real data") as e:
    targets.grid_scores(synthetic, progress=False)
  _one_line(e.value)


def test_a_sweep_trial_on_synthetic_data_is_refused(synthetic, tmp_path):
  """Sweeps (and the tuning and bench protocols, which run sweeps) run each
  trial through a worker's ``runner.run``: a synthetic workload ends as an
  ``error`` trial with the refusal, not a scored run."""
  from edgeperf.harness.sweep import trial as trial_lib
  from edgeperf.harness.sweep import worker as worker_lib
  worker = worker_lib.Worker(cores=[0])
  key = (NAME, "small", None, None, None, False)  # no division file, timed
  worker._workloads[key] = synthetic  # what a synthetic source would load
  outcome = worker.run_trial(trial_lib.TrialTask(
      id="t", workload=NAME, size="small", submission="constant",
      hparams={"learning_rate": 0.1}, seed=0,
      run_dir=str(tmp_path / "trial"), max_steps=2, eval_every=1,
      log=str(tmp_path / "trial.log")))
  assert outcome.status == "error"
  assert "synthetic data are for cost measurement only" in outcome.message
