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


def _unavailable(data_dir):
  with pytest.raises(datasets.DataUnavailableError) as info:
    datasets.tfds_images("mnist", "train", data_dir=data_dir)
  text = str(info.value)
  assert "\n" not in text and "already prepared" not in text, text
  assert "tfds build mnist --file_format=array_record" in text
  assert info.value.__cause__ is None and info.value.__suppress_context__
  return text


def test_missing_tfds_data_says_how_to_get_it(tmp_path):
  assert (f"not prepared: data_dir {str(tmp_path)!r} holds no 'mnist' "
          "folder") in _unavailable(str(tmp_path))
  (tmp_path / "mnist" / "3.0.1").mkdir(parents=True)
  assert (f"{tmp_path / 'mnist'} holds no prepared version"
          in _unavailable(str(tmp_path)))


def test_a_data_dir_that_does_not_exist_is_named(tmp_path):
  missing = str(tmp_path / "nowhere")
  assert (f"data_dir {missing!r} does not exist"
          in _unavailable(missing))


def test_no_data_dir_names_the_default(tmp_path, monkeypatch):
  default = str(tmp_path / "tensorflow_datasets")
  monkeypatch.setattr(tfds.core.constants, "DATA_DIR", default)
  assert (f"TFDS's default data_dir {default!r} (no data_dir given) does "
          "not exist" in _unavailable(None))
