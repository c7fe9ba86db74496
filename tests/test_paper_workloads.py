"""The paper workloads in the registry, on TFDS's mock data (offline): every
preset loads at ``size=small`` with the shapes of its recipe; the mini-batch
presets take the larger split; missing or short data is one clear line; and
one runs end to end through the harness."""

import jax
import numpy as np
import pytest
import tensorflow_datasets as tfds

from edgeperf import workloads
from edgeperf.harness import runner
from edgeperf.submissions import loader
from edgeperf.workloads import datasets
from edgeperf.workloads import paper_presets
from edgeperf.workloads import registry


@pytest.fixture(scope="module")
def small():
  """Every paper workload at size small, full batch, from mock data."""
  with tfds.testing.mock_data(num_examples=1200):
    return {name: workloads.get(name, size="small")
            for name in workloads.PAPER}


@pytest.mark.parametrize("name", workloads.PAPER)
def test_small_presets_load_from_mock_tfds(small, name):
  workload = small[name]
  p = paper_presets.preset(name, "small")
  assert workload.regime.is_full_batch and workload.weight_decay == 1e-5
  assert workload.num_train == p.num_train
  assert len(workload.eval["inputs"]) == p.num_eval
  assert workload.loss_type == p.loss_type
  inputs = workload.train["inputs"]
  if p.dataset == "tiny_shakespeare":
    context = workload.model.block_size
    assert inputs.shape == (p.num_train, context) and inputs.dtype == np.int32
    np.testing.assert_array_equal(workload.train["targets"][:, :-1],
                                  inputs[:, 1:])
    assert workload.num_classes == workload.model.vocab_size
  else:
    side = {"cifar10": 32, "mnist": 28, "imagenette": p.image}[p.dataset]
    assert inputs.shape[1:3] == (side, side) and inputs.dtype == np.float32
    assert 0.0 <= inputs.min() and inputs.max() <= 1.0
  # The model takes the data and the objective is a scalar (shapes only).
  params = workload.param_shapes()
  batch = {k: v[:2] for k, v in workload.train.items()}
  assert jax.eval_shape(workload.loss, params, batch).shape == ()


def test_sizes_are_per_workload():
  assert registry.sizes("vit_ti32_cifar10") == ("small", "paper")
  assert registry.sizes("mlp_mnist") == ("small", "medium", "large")
  with pytest.raises(ValueError, match="unknown size 'medium': size must "
                     r"be one of \('small', 'paper'\)"):
    workloads.get("vit_ti32_cifar10", size="medium")
  with pytest.raises(ValueError, match="unknown size 'paper'"):
    workloads.get("mlp_mnist", size="paper")


def test_mini_batch_presets_take_the_larger_split():
  with tfds.testing.mock_data(num_examples=4096):
    workload = workloads.get("resnet50_cifar10", size="small",
                             batch_size=128)
  assert workload.num_train == 4096 and workload.key.endswith("/b128")
  # Paper size: the whole 50,000-example train split, 10,000 test.
  p = paper_presets.preset("resnet50_cifar10", "paper")
  train, evals, _ = paper_presets.abstract(p, mini_batch=True)
  assert len(train["inputs"]) == 50_000 and len(evals["inputs"]) == 10_000
  train, _, _ = paper_presets.abstract(p, mini_batch=False)
  assert len(train["inputs"]) == 4096


def test_imagenette_is_center_cropped_and_deterministic():
  with tfds.testing.mock_data(num_examples=6):
    a = datasets.tfds_imagenette("train", limit=4, crop=64)
    b = datasets.tfds_imagenette("train", limit=4, crop=64)
  assert a["inputs"].shape == (4, 64, 64, 3)
  assert 0.0 <= a["inputs"].min() and a["inputs"].max() <= 1.0
  assert set(np.unique(a["targets"])) <= set(range(10))
  np.testing.assert_array_equal(a["inputs"], b["inputs"])


def test_center_crop_resizes_the_smaller_side_and_centres():
  image = np.zeros((300, 400, 3), np.uint8)
  image[140:160, 190:210] = 255  # a white square in the middle
  out = datasets.center_crop(image, 224, 256)
  assert out.shape == (224, 224, 3) and out.dtype == np.uint8
  ys, xs = np.nonzero(out[..., 0] > 127)
  assert abs(ys.mean() - 111.5) < 1.5 and abs(xs.mean() - 111.5) < 1.5
  np.testing.assert_array_equal(datasets.center_crop(image, 100, None),
                                image[100:200, 150:250])
  with pytest.raises(ValueError, match="smaller than the 500x500 crop"):
    datasets.center_crop(image, 500, None)


def test_missing_data_names_the_build_command(tmp_path):
  with pytest.raises(datasets.DataUnavailableError) as info:
    workloads.get("vit_ti32_imagenette", size="paper",
                  data_dir=str(tmp_path))
  text = str(info.value)
  assert "\n" not in text
  assert "'imagenette/full-size' (split 'train') is not prepared" in text
  assert "tfds build imagenette --config=full-size" in text


def test_a_short_split_is_refused():
  with tfds.testing.mock_data(num_examples=300):
    with pytest.raises(datasets.DataUnavailableError,
                       match="cifar10/train has 300 examples; the preset "
                       "needs 512"):
      workloads.get("mlp1024_cifar10", size="small")


def test_a_paper_workload_runs_through_the_harness(small, tmp_path):
  tx = loader.load("constant").build({"learning_rate": 0.01})
  result = runner.run(small["mlp1024_cifar10"], tx, seed=1, max_steps=4,
                      eval_every=2, run_dir=str(tmp_path / "run"),
                      progress=False)
  assert result.steps_run == 4 and result.status == "completed"
  objective = result.steps["objective"].to_numpy()
  assert np.all(np.isfinite(objective)) and objective[-1] < objective[0]
  assert len(result.evals) == 3  # steps 0, 2, 4
