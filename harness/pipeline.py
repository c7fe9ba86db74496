"""The mini-batch input pipeline: each chunk's batches assembled on the host
and moved to the device in a background thread, ahead of the step.

The order is the workload's (:meth:`edgeperf.workloads.base.Workload.
batch_indices`): epoch e visits the examples in the order of
``np.random.default_rng([seed, e]).permutation(n)``, ``n // b`` batches per
epoch, the incomplete last batch dropped.  Same seed, same batches,
whatever the chunking.

Usage (the runner's mini-batch path)::

    with ChunkPrefetcher(workload, seed, lengths, sharding=s) as chunks:
      for start, length, data in chunks:   # data: device arrays
        params, opt_state, recs = chunk(params, opt_state, data)

Each item holds the batches of steps [start, start + length) stacked on a
new leading axis (``{"inputs": [length, b, ...], ...}``), already on the
device (``jax.device_put``, with ``sharding`` when given) and transferred
(the thread waits for it), so the step never waits on the host.  At most
``depth`` chunks wait on the device.  ``close()`` (or leaving the ``with``
block, or dropping the iterator) stops and joins the thread; an exception
in the thread is raised by the consumer's next ``next()``, chained.
"""

from __future__ import annotations

import queue
import threading
import time
import weakref
from typing import Any, Iterator, Sequence

import jax
import numpy as np

from edgeperf.workloads import base

Chunk = tuple[int, int, dict[str, jax.Array]]
DEPTH = 2
"""Chunks waiting on the device: the next one is ready while the current
one runs, and one more is being assembled."""


def aligned_empty(shape: Sequence[int], dtype: Any,
                  alignment: int = 64) -> np.ndarray:
  """An uninitialised array whose data start on an ``alignment`` boundary.

  On the CPU backend ``jax.device_put`` of a 64-byte-aligned numpy array
  can alias it instead of copying, so chunks are gathered into fresh
  aligned buffers that are never written again.
  """
  dtype = np.dtype(dtype)
  nbytes = int(np.prod(shape)) * dtype.itemsize
  raw = np.empty(nbytes + alignment, np.uint8)
  offset = (-raw.ctypes.data) % alignment
  return raw[offset:offset + nbytes].view(dtype).reshape(tuple(shape))


def gather_chunk(workload: base.Workload, seed: int, start: int,
                 count: int) -> dict[str, np.ndarray]:
  """Host arrays of mini-batch steps [start, start + count), stacked
  ``[count, b, ...]`` (what ``Workload.stacked_batches`` returns, in fresh
  aligned buffers)."""
  idx = workload.batch_indices(seed, start, count)
  out = {}
  for k, v in workload.train.items():
    v = np.asarray(v)
    out[k] = np.take(v, idx, axis=0,
                     out=aligned_empty(idx.shape + v.shape[1:], v.dtype))
  return out


class _Failure:
  """An exception of the producer thread, carried to the consumer."""

  def __init__(self, error: BaseException):
    self.error = error


_DONE = object()


def _produce(out: queue.Queue, stop: threading.Event,
             workload: base.Workload, seed: int, start: int,
             lengths: Sequence[int], target: Any) -> None:
  """The producer thread (holds no reference to the iterator)."""

  def put(item) -> bool:
    while not stop.is_set():
      try:
        out.put(item, timeout=0.05)
        return True
      except queue.Full:
        continue
    return False

  try:
    for length in lengths:
      if stop.is_set():
        return
      data = jax.device_put(gather_chunk(workload, seed, start, length),
                            target)
      jax.block_until_ready(data)  # the transfer, off the step's path
      if not put((start, length, data)):
        return
      start += length
    put(_DONE)
  except BaseException as e:  # pylint: disable=broad-except
    put(_Failure(e))


def _shutdown(stop: threading.Event, q: queue.Queue,
              thread: threading.Thread, timeout: float = 10.0) -> None:
  stop.set()
  deadline = time.monotonic() + timeout
  while True:
    try:  # unblock a producer waiting on a full queue; free device buffers
      while True:
        q.get_nowait()
    except queue.Empty:
      pass
    if not thread.is_alive() or time.monotonic() >= deadline:
      return
    thread.join(timeout=0.05)


class ChunkPrefetcher(Iterator[Chunk]):
  """Device-resident chunks of a mini-batch workload, prefetched in a thread.

  Args:
    workload: a mini-batch workload (its train arrays, batch size, order).
    seed: the run's seed (fixes the per-epoch permutations).
    lengths: chunk lengths in order; chunk i covers steps
      [start + sum(lengths[:i]), start + sum(lengths[:i + 1])).
    start: the first step.
    depth: most chunks waiting on the device (:data:`DEPTH`).
    sharding: a ``jax.sharding.Sharding`` for every array, or None (the
      default device).
  """

  def __init__(self, workload: base.Workload, seed: int,
               lengths: Sequence[int], *, start: int = 0, depth: int = DEPTH,
               sharding: Any = None):
    if workload.regime.is_full_batch:
      raise ValueError(f"{workload.name}: prefetching is for mini-batch "
                       "regimes; a full batch is put on the device once")
    if not isinstance(depth, int) or depth < 1:
      raise ValueError(f"depth must be an int >= 1, got {depth!r}")
    lengths = [int(n) for n in lengths]
    if any(n <= 0 for n in lengths):
      raise ValueError(f"chunk lengths must be positive, got {lengths}")
    self._queue: queue.Queue = queue.Queue(maxsize=depth)
    self._stop = threading.Event()
    self._finished = False
    self._thread = threading.Thread(
        target=_produce, name="edgeperf-prefetch", daemon=True,
        args=(self._queue, self._stop, workload, seed, start, lengths,
              sharding))
    self._thread.start()
    # Stops the thread if the iterator is dropped without close().
    self._finalizer = weakref.finalize(self, _shutdown, self._stop,
                                       self._queue, self._thread)

  def __iter__(self) -> "ChunkPrefetcher":
    return self

  def __next__(self) -> Chunk:
    if self._finished:
      raise StopIteration
    while True:
      try:
        item = self._queue.get(timeout=0.1)
        break
      except queue.Empty:
        if not self._thread.is_alive() and self._queue.empty():
          self._finished = True
          raise RuntimeError("the prefetch thread ended without a "
                             "result") from None
    if item is _DONE:
      self.close()
      raise StopIteration
    if isinstance(item, _Failure):
      self.close()
      raise RuntimeError(
          f"input pipeline failed: {type(item.error).__name__}: "
          f"{item.error}") from item.error
    return item

  def take(self, start: int, length: int) -> dict[str, jax.Array]:
    """The next chunk, checked to cover steps [start, start + length)."""
    got_start, got_length, data = next(self)
    if (got_start, got_length) != (start, length):
      raise RuntimeError(f"input pipeline out of step: asked for steps "
                         f"[{start}, {start + length}), it holds "
                         f"[{got_start}, {got_start + got_length})")
    return data

  def close(self, timeout: float = 10.0) -> None:
    """Stops and joins the producer; idempotent."""
    self._finished = True
    _shutdown(self._stop, self._queue, self._thread, timeout)

  @property
  def alive(self) -> bool:
    """Whether the producer thread is still running."""
    return self._thread.is_alive()

  def __enter__(self) -> "ChunkPrefetcher":
    return self

  def __exit__(self, *exc) -> None:
    self.close()
