"""The real TFDS loaders, run offline on tfds.testing.mock_data."""

import numpy as np
import pytest
import tensorflow_datasets as tfds

from edgeperf import workloads
from edgeperf.harness import runner
from edgeperf.submissions import loader
from edgeperf.workloads import datasets


@pytest.mark.parametrize("name,shape", [("mnist", (28, 28, 1)),
                                        ("cifar10", (32, 32, 3))])
def test_tfds_images(name, shape):
  with tfds.testing.mock_data(num_examples=12):
    data = datasets.tfds_images(name, "train", limit=10)
  assert data["inputs"].shape == (10,) + shape
  assert data["inputs"].dtype == np.float32
  assert 0.0 <= data["inputs"].min() and data["inputs"].max() <= 1.0
  assert data["targets"].dtype == np.int32


def test_tfds_text():
  with tfds.testing.mock_data(num_examples=1):
    text = datasets.tfds_text("tiny_shakespeare", "train")
  assert isinstance(text, str) and text


@pytest.mark.parametrize("name", workloads.TFDS)
def test_tfds_workloads_train(name, monkeypatch):
  # The mock's random text is short: shrink the blocks the LM asks for.
  if name == "charlm_tinyshakespeare_tfds":
    monkeypatch.setattr(datasets, "tfds_text",
                        lambda *a, **k: "To be, or not to be? " * 1000)
  with tfds.testing.mock_data(num_examples=1200):
    workload = workloads.get(name)
  tx = loader.load("constant").build({"learning_rate": 0.01})
  result = runner.run(workload, tx, max_steps=3, eval_every=3,
                      chunk_mode="loop", progress=False)
  assert result.steps_run == 3
  assert np.all(np.isfinite(result.steps["objective"]))


def test_missing_tfds_data_says_how_to_get_it(tmp_path):
  with pytest.raises(datasets.DataUnavailableError, match="not prepared"):
    datasets.tfds_images("mnist", "train", data_dir=str(tmp_path))
