"""The workload contract, for every embedded workload."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from edgeperf import workloads
from edgeperf.harness import step as step_lib
from edgeperf.submissions import api
from edgeperf.submissions.constant import scale_by_constant_lr
from edgeperf.workloads import base
from edgeperf.workloads import datasets


@pytest.mark.parametrize("name", workloads.EMBEDDED)
def test_contract(get_workload, name):
  w = get_workload(name)
  assert w.regime.is_full_batch and w.size == "small"
  assert w.loss_type in base.LOSS_TYPES
  assert w.step_hint <= w.step_budget and w.time_budget_s > 0
  assert set(w.train) == set(w.eval) == {"inputs", "targets"}
  assert len(w.train["inputs"]) == len(w.train["targets"]) == w.num_train
  params = w.init(jax.random.key(0))
  outputs = w.model.apply(params, w.full_train_batch()["inputs"][:3])
  assert outputs.shape[0] == 3 and outputs.shape[-1] == w.num_classes
  assert int(w.train["targets"].max()) < w.num_classes
  loss = w.loss(params, w.full_train_batch())
  assert loss.shape == () and np.isfinite(loss)
  metrics = jax.jit(w.metrics)(params, w.eval_batch())
  assert 0.0 <= float(metrics["accuracy"]) <= 1.0


@pytest.mark.parametrize("name", workloads.EMBEDDED)
def test_loss_falls_under_small_step_gd(get_workload, name):
  w = get_workload(name)
  tx = optax.chain(api.base_direction("gd"), scale_by_constant_lr(0.05))
  params = w.init(jax.random.key(0))
  state = tx.init(params)
  batch = w.full_train_batch()
  step = jax.jit(step_lib.make_train_step(w, tx))
  losses = []
  for _ in range(8):
    params, state, record = step(params, state, batch)
    losses.append(float(record["objective"]))
  assert losses[-1] < losses[0]
  assert np.all(np.isfinite(losses))


def test_objective_includes_weight_decay(get_workload):
  w = get_workload("linreg_digits")
  params = w.init(jax.random.key(1))
  batch = w.full_train_batch()
  sq_norm = sum(float(jnp.sum(x**2)) for x in jax.tree.leaves(params))
  np.testing.assert_allclose(
      w.loss(params, batch),
      float(w.data_loss(params, batch)) + 0.5 * 1e-5 * sq_norm, rtol=1e-6)


def test_squared_loss_matches_closed_form(get_workload):
  w = get_workload("linreg_digits")
  params = w.init(jax.random.key(2))
  batch = {k: v[:5] for k, v in w.full_train_batch().items()}
  out = np.asarray(w.model.apply(params, batch["inputs"]))
  onehot = np.eye(10)[np.asarray(batch["targets"])]
  expected = 0.5 * np.mean(np.sum((out - onehot) ** 2, axis=1))
  np.testing.assert_allclose(w.data_loss(params, batch), expected, rtol=1e-5)


def test_mini_batch_order_is_seeded_and_covers_each_epoch(get_workload):
  full = get_workload("linreg_digits")
  w = dataclasses.replace(full, regime=workloads.Regime("mini_batch", 100))
  per_epoch = w.num_train // 100
  a = w.batch_indices(seed=3, start=0, count=per_epoch + 2)
  b = np.concatenate([w.batch_indices(3, 0, 5),
                      w.batch_indices(3, 5, per_epoch - 3)])
  np.testing.assert_array_equal(a, b)  # chunking does not change batches
  epoch = a[:per_epoch].ravel()
  assert len(set(epoch.tolist())) == epoch.size  # without replacement
  assert not np.array_equal(a[0], w.batch_indices(4, 0, 1)[0])


def test_registry_errors():
  with pytest.raises(ValueError, match="unknown workload 'nope'"):
    workloads.get("nope")
  with pytest.raises(ValueError, match="unknown size 'huge'"):
    workloads.get("linreg_digits", size="huge")
  with pytest.raises(ValueError, match="exceeds the 1437 training examples"):
    workloads.get("linreg_digits", batch_size=5000)
  with pytest.raises(ValueError, match="positive int batch_size"):
    workloads.Regime("mini_batch", 0)


def test_char_blocks_shift_by_one():
  vocab = datasets.char_vocabulary("abcdefgh")
  blocks = datasets.char_blocks("abcdefgh", vocab, block_len=3, num_blocks=2)
  np.testing.assert_array_equal(blocks["inputs"], [[0, 1, 2], [3, 4, 5]])
  np.testing.assert_array_equal(blocks["targets"], [[1, 2, 3], [4, 5, 6]])
  with pytest.raises(ValueError, match="need"):
    datasets.char_blocks("abc", vocab, block_len=3, num_blocks=2)


def test_embedded_data_is_real_and_balanced():
  mnist = datasets.mnist_5k()
  assert mnist["inputs"].shape == (5000, 28, 28, 1)
  assert np.bincount(mnist["targets"]).tolist() == [500] * 10
  assert 0.0 <= mnist["inputs"].min() and mnist["inputs"].max() <= 1.0
  text = datasets.english_prose()
  assert len(text) > 100_000 and "the" in text


def test_digits_read_without_sklearn_equal_load_digits():
  from sklearn import datasets as sk_datasets
  reference = sk_datasets.load_digits()
  ours = datasets.digits_8x8()
  np.testing.assert_allclose(ours["inputs"][..., 0], reference.images / 16.0,
                             rtol=1e-6)
  np.testing.assert_array_equal(ours["targets"], reference.target)
