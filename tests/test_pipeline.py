"""The prefetching mini-batch pipeline: the workload's order for the same
seed whatever the chunking, each epoch covered without repeats, shutdown and
errors; and the runner's mini-batch path through it."""

import gc
import time

import flax.linen as nn
import jax
import numpy as np
import pytest

from edgeperf.harness import pipeline
from edgeperf.harness import programs as programs_lib
from edgeperf.harness import run_plan
from edgeperf.harness import runner
from edgeperf.harness import trainer
from edgeperf.submissions import loader
from edgeperf.workloads import base
from edgeperf.workloads import models


def _workload(n, b):
  rng = np.random.default_rng(0)
  train = {"inputs": rng.random((n, 3), dtype=np.float32),
           "targets": np.arange(n, dtype=np.int32)}  # targets = example ids
  return base.Workload(name="toy", size="small",
                       regime=base.Regime("mini_batch", b),
                       model=nn.Dense(2), loss_type="squared", num_classes=2,
                       train=train, eval=train, step_hint=1, step_budget=1,
                       time_budget_s=1.0)


def _ids(workload, seed, lengths, start=0):
  with pipeline.ChunkPrefetcher(workload, seed, lengths,
                                start=start) as chunks:
    items = [(s, n, jax.device_get(d)) for s, n, d in chunks]
  assert [(s, n) for s, n, _ in items] == list(zip(
      np.cumsum([start] + lengths[:-1]).tolist(), lengths))
  return np.concatenate([d["targets"] for _, _, d in items])


def test_chunks_are_the_workloads_batches_on_device():
  workload = _workload(103, 10)
  with pipeline.ChunkPrefetcher(workload, 7, [3, 5, 1, 11]) as chunks:
    for start, length, data in chunks:
      assert isinstance(data["inputs"], jax.Array)
      assert data["inputs"].shape == (length, 10, 3)
      expected = workload.stacked_batches(7, start, length)
      for k in expected:
        np.testing.assert_array_equal(np.asarray(data[k]), expected[k])


def test_same_seed_same_order_whatever_the_chunking():
  workload = _workload(64, 8)
  a = _ids(workload, 1, [4, 4, 4, 4])
  np.testing.assert_array_equal(a, _ids(workload, 1, [16]))
  np.testing.assert_array_equal(a, _ids(workload, 1, [1, 7, 8]))
  np.testing.assert_array_equal(a[5:], _ids(workload, 1, [6, 5], start=5))
  assert not np.array_equal(a, _ids(workload, 2, [16]))


@pytest.mark.parametrize("n,b", [(64, 8), (70, 8)])
def test_each_epoch_covers_each_example_once(n, b):
  per_epoch, epochs = n // b, 3
  ids = _ids(_workload(n, b), 11, [5] * (epochs * per_epoch // 5) +
             [epochs * per_epoch % 5])
  assert ids.shape == (epochs * per_epoch, b)
  for e in range(epochs):
    seen = ids[e * per_epoch:(e + 1) * per_epoch].ravel()
    assert len(np.unique(seen)) == len(seen) == per_epoch * b
  assert not np.array_equal(ids[:per_epoch], ids[per_epoch:2 * per_epoch])


def _wait_dead(alive, timeout=5.0):
  deadline = time.monotonic() + timeout
  while alive() and time.monotonic() < deadline:
    time.sleep(0.01)
  return not alive()


def test_an_early_stop_shuts_the_thread_down():
  workload = _workload(64, 8)
  prefetcher = pipeline.ChunkPrefetcher(workload, 0, [2] * 1000)
  with prefetcher as chunks:
    next(chunks)
    time.sleep(0.05)  # the producer now waits on the full queue
    assert prefetcher.alive
  assert _wait_dead(lambda: prefetcher.alive)
  with pytest.raises(StopIteration):
    next(prefetcher)
  dropped = pipeline.ChunkPrefetcher(workload, 0, [2] * 1000)
  next(dropped)
  thread = dropped._thread  # pylint: disable=protected-access
  del dropped
  gc.collect()
  assert _wait_dead(thread.is_alive)


def test_a_producer_exception_reaches_the_consumer(monkeypatch):
  real, calls = pipeline.gather_chunk, []

  def failing(*args):
    calls.append(args)
    if len(calls) == 3:
      raise ValueError("disk on fire")
    return real(*args)

  monkeypatch.setattr(pipeline, "gather_chunk", failing)
  prefetcher = pipeline.ChunkPrefetcher(_workload(64, 8), 0, [2] * 10)
  got = []
  with pytest.raises(RuntimeError, match="input pipeline failed: "
                     "ValueError: disk on fire") as info:
    for start, _, _ in prefetcher:
      got.append(start)
  assert got == [0, 2] and isinstance(info.value.__cause__, ValueError)
  assert _wait_dead(lambda: prefetcher.alive)


def test_bad_arguments_are_named():
  with pytest.raises(ValueError, match="positive"):
    pipeline.ChunkPrefetcher(_workload(8, 2), 0, [1, 0])
  with pytest.raises(ValueError, match="depth must be an int >= 1"):
    pipeline.ChunkPrefetcher(_workload(8, 2), 0, [1], depth=0)
  full = base.Workload(name="toy", size="small", regime=base.FULL_BATCH,
                       model=nn.Dense(2), loss_type="squared", num_classes=2,
                       train=_workload(8, 2).train, eval={}, step_hint=1,
                       step_budget=1, time_budget_s=1.0)
  with pytest.raises(ValueError, match="prefetching is for mini-batch"):
    pipeline.ChunkPrefetcher(full, 0, [1])


def test_long_mini_batch_chunks_are_cut(get_workload, monkeypatch):
  workload = get_workload("mlp_mnist", batch_size=128)
  step_bytes = 128 * (784 * 4 + 4)
  monkeypatch.setattr(run_plan, "CHUNK_DATA_BYTES", 7 * step_bytes + 1)
  plan = runner.RunPlan.make(workload, max_steps=20, eval_every=10,
                             chunk_mode=None, diag_every=0)
  assert plan.max_chunk == 7
  assert list(plan.chunks()) == [(0, 7), (7, 10), (10, 17), (17, 20)]


def test_evaluation_in_pieces_equals_one_piece(monkeypatch):
  rng = np.random.default_rng(0)
  data = {"inputs": rng.random((136, 5), dtype=np.float32),
          "targets": rng.integers(0, 3, 136).astype(np.int32)}
  workload = base.Workload(
      name="toy", size="small", regime=base.Regime("mini_batch", 16),
      model=models.MLP((8,), 3), loss_type="cross_entropy", num_classes=3,
      train={k: v[:96] for k, v in data.items()},
      eval={k: v[96:] for k, v in data.items()}, step_hint=1,
      step_budget=1, time_budget_s=60.0,
      init_compiler_options={"xla_backend_optimization_level": 0})
  tx = loader.load("constant").build({"learning_rate": 0.5})
  programs = programs_lib.ProgramCache()
  whole = runner.run(workload, tx, max_steps=6, eval_every=3, progress=False,
                     programs=programs)
  monkeypatch.setattr(trainer, "EVAL_PIECE", 25)  # 96 train: 4 pieces, 40: 2
  pieces = runner.run(workload, tx, max_steps=6, eval_every=3,
                      progress=False, programs=programs)
  np.testing.assert_array_equal(whole.steps["objective"],
                                pieces.steps["objective"])
  for column in ("train_objective", "train_accuracy", "eval_objective"):
    np.testing.assert_allclose(pieces.evals[column], whole.evals[column],
                               rtol=1e-5)
