"""The training state of one run and its compiled chunks
(:class:`Trainer`): parameters, tuner state, data placement, the clocked
chunk call and the off-the-clock evaluation.
"""

from __future__ import annotations

import math
import os
import time
from typing import Any, Callable, Mapping

import jax
import numpy as np

from edgeperf.harness import memory as memory_lib
from edgeperf.harness import memory_profile
from edgeperf.harness import parallel
from edgeperf.harness import pipeline
from edgeperf.harness import programs as programs_lib
from edgeperf.harness import run_plan
from edgeperf.harness import step as step_lib
from edgeperf.submissions import api
from edgeperf.workloads import base


REPEAT_FIRST_CALL_S = 1.0
"""A program's first execution (just compiled, or loaded from the
compilation cache) pays a one-time cost: 30 ms on ``linreg_digits``, whose
50-step chunk then takes 8 ms.  A first call shorter than this is run again
from the same inputs and the repeat is clocked (its one-time cost would be
3 % or more of it); a longer one is kept, its one-time cost a small part."""


EVAL_PIECE = 4096
"""Most examples evaluated in one call (but a full training batch is
evaluated whole); larger sets are evaluated in near-equal pieces and the
metrics averaged, weighted by piece size."""


def pieces(n: int) -> list[tuple[int, int]]:
  """(start, end) of near-equal pieces of ``n`` examples (≤ EVAL_PIECE)."""
  count = -(-n // EVAL_PIECE)
  bounds = np.linspace(0, n, count + 1).round().astype(int)
  return list(zip(bounds[:-1].tolist(), bounds[1:].tolist()))


class Trainer:
  """Parameters, tuner state, data placement and compiled chunks of one run.

  Built from abstract shapes first (nothing allocated): the tuner is
  resolved and the first chunk compiled, so :meth:`budget` can refuse a run
  that would not fit the device; :meth:`start` then initialises the
  parameters and puts the data on the devices (split over them when
  :func:`~edgeperf.harness.parallel.auto_plan` finds several).
  """

  def __init__(self, workload: base.Workload, tuner: Any, seed: int,
               plan: run_plan.RunPlan, programs: programs_lib.ProgramCache):
    self.workload, self.seed, self.mode = workload, seed, plan.chunk_mode
    self.programs = programs
    self.full_batch = workload.regime.is_full_batch
    self.chunks = list(plan.chunks())
    self.dp = parallel.auto_plan()
    self.batch = (workload.num_train if self.full_batch else
                  workload.regime.batch_size)
    replicated = None if self.dp is None else self.dp.replicated
    spec = step_lib.as_spec(tuner)
    self.tx = spec.build()
    self.abstract_params = parallel.abstract(workload.param_shapes(),
                                             replicated)
    self.abstract_opt_state = parallel.abstract(
        jax.eval_shape(self.tx.init, self.abstract_params), replicated)
    self.spec = programs.resolve(workload, spec, self.abstract_params,
                                 self.abstract_opt_state, self.one_batch())
    self.hp = programs_lib.values(self.spec)
    if self.dp is not None:
      self.hp = jax.device_put(self.hp, replicated)
    self.step_fn = programs.step(workload, self.spec)
    self.refreshes = step_lib.refresh_schedule(self.tx)
    self.compile_s = 0.0
    self.warmup_s = 0.0  # repeated first executions, off the clock
    self.step_s = 0.0  # seconds a step took in the last chunk
    self.params = self.opt_state = None
    self._train = None
    self._prefetch: pipeline.ChunkPrefetcher | None = None

  # -- shapes and placement ------------------------------------------------
  def _sharding(self, size: int, axis: int = 0) -> Any:
    return None if self.dp is None else self.dp.batch_sharding(size, axis)

  def abstract_data(self, length: int) -> Any:
    """The shapes (and shardings) of a chunk's data."""
    if self.full_batch:
      return parallel.abstract(self.workload.train,
                               self._sharding(self.batch))
    return {k: jax.ShapeDtypeStruct(
        (length, self.batch) + v.shape[1:], v.dtype,
        sharding=self._sharding(self.batch, 1))
            for k, v in self.workload.train.items()}

  def one_batch(self) -> Any:
    """One step's batch, abstract."""
    return memory_profile.abstract_batch(self.workload, self.dp)

  def data_parallel(self) -> dict[str, Any] | None:
    """For ``meta.json``: the data-parallel placement (None: one device)."""
    return None if self.dp is None else self.dp.describe(self.batch)

  # -- memory --------------------------------------------------------------
  def eval_sets(self) -> tuple[list[tuple[int, Any]], list[tuple[int, Any]]]:
    """The train and held-out sets as (size, device batch) pieces.  Full
    batch: the train set is the training batch itself, whole (a forward
    pass needs less memory than the step that fits)."""
    out = []
    for arrays in self._eval_arrays():
      n = len(arrays["inputs"])
      out.append([(b - a, jax.device_put(
          {k: v[a:b] for k, v in arrays.items()}, self._sharding(b - a)))
                  for a, b in pieces(n)])
    if self.full_batch:
      return [(self.batch, self._train)], out[0]
    return out[0], out[1]

  def _eval_arrays(self) -> list[Any]:
    """The host sets evaluation puts on the device."""
    if self.full_batch:
      return [self.workload.eval]
    return [self.workload.train, self.workload.eval]

  def _resident_bytes(self) -> int:
    """Bytes per device kept beside the chunk program: the prefetched
    chunks (mini-batch) and the evaluation sets."""
    devices = 1 if self.dp is None else self.dp.num_devices
    total = sum(memory_lib.array_bytes(arrays, devices)
                for arrays in self._eval_arrays())
    if not self.full_batch:
      longest = max(end - start for start, end in self.chunks)
      total += pipeline.DEPTH * memory_lib.array_bytes(
          self.abstract_data(longest), devices)
    return total

  def budget(self, limit: tuple[int | None, str] | None
             ) -> memory_lib.Budget:
    """Compiles the first chunk from abstract shapes and returns what the
    run will hold on each device against the free memory (``limit``:
    ``(bytes, source)``, default
    :func:`~edgeperf.harness.memory.device_limit`)."""
    start, end = self.chunks[0]
    chunk = self._compiled(start, end - start, self.abstract_params,
                           self.abstract_opt_state,
                           self.abstract_data(end - start))
    limit_bytes, source = limit or memory_lib.device_limit()
    return memory_lib.Budget(program=chunk.memory,
                             resident_bytes=self._resident_bytes(),
                             limit_bytes=limit_bytes, limit_source=source)

  # -- the run -------------------------------------------------------------
  def start(self) -> None:
    """Initialises parameters and tuner state and puts the data on the
    devices (full batch: once; mini-batch: the prefetch thread starts)."""
    params = self.workload.init(jax.random.key(self.seed))
    opt_state = self.tx.init(params)
    if self.dp is not None:
      params, opt_state = jax.device_put((params, opt_state),
                                         self.dp.replicated)
    self.params, self.opt_state = params, opt_state
    if self.full_batch:
      self._train = jax.device_put(dict(self.workload.train),
                                   self._sharding(self.batch))
    else:
      self._prefetch = pipeline.ChunkPrefetcher(
          self.workload, self.seed, [e - s for s, e in self.chunks],
          sharding=self._sharding(self.batch, 1))

  def close(self) -> None:
    if self._prefetch is not None:
      self._prefetch.close()

  def _compiled(self, start: int, length: int, *args: Any
                ) -> step_lib.CompiledChunk:
    structure = step_lib.segments(start, length, self.refreshes)
    chunk, fresh = self.programs.chunk(
        self.workload, self.spec, self.mode, structure, self.full_batch,
        lambda: step_lib.CompiledChunk(
            self.step_fn, self.mode, length, self.full_batch,
            (*args, self.hp), structure=structure))
    if fresh:
      self.compile_s += chunk.compile_s
    return chunk

  def run_chunk(self, start: int, end: int, remaining_s: float = math.inf
                ) -> tuple[dict[str, Any], float]:
    """Runs steps [start, end); returns their records (host numpy) and the
    clocked seconds.  In ``loop`` mode a chunk that the last step time says
    would outlast ``remaining_s`` (the time budget left) stops at the first
    step past it, so fewer records may come back."""
    length = end - start
    data = (self._train if self.full_batch else
            self._prefetch.take(start, length))
    chunk = self._compiled(start, length, self.params, self.opt_state, data)
    deadline = (remaining_s if self.mode == "loop" and
                self.step_s * length > remaining_s else None)
    out, elapsed = self._timed(chunk, data, deadline)
    if not chunk.warm:
      chunk.warm = True
      if elapsed < REPEAT_FIRST_CALL_S:  # its one-time cost off the clock:
        self.warmup_s += elapsed  # run it again from the same inputs
        out, elapsed = self._timed(chunk, data, deadline)
    self.params, self.opt_state, recs = out
    recs = jax.device_get(recs)
    self.step_s = elapsed / max(len(recs["objective"]), 1)
    return recs, elapsed

  def _timed(self, chunk: step_lib.CompiledChunk, data: Any,
             deadline_s: float | None = None
             ) -> tuple[tuple[Any, Any, Any], float]:
    """One clocked call from the current (params, state), which it leaves
    untouched (nothing is donated)."""
    tick = time.perf_counter()
    out = chunk(self.params, self.opt_state, data, self.hp, deadline_s)
    jax.block_until_ready(out)
    return out, time.perf_counter() - tick


def metrics(fn: Callable[..., Mapping[str, Any]], params: Any,
             pieces: list[tuple[int, Any]]) -> dict[str, float]:
  """``fn``'s metrics (means over examples) over a set given in pieces:
  the piece means averaged, weighted by piece size."""
  if len(pieces) == 1:
    return {k: float(v) for k, v in fn(params, pieces[0][1]).items()}
  total = sum(n for n, _ in pieces)
  sums: dict[str, float] = {}
  for n, batch in pieces:
    for k, v in fn(params, batch).items():
      sums[k] = sums.get(k, 0.0) + n * float(v)
  return {k: v / total for k, v in sums.items()}


def this_process() -> dict[str, Any]:
  cores = (sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
           else list(range(os.cpu_count() or 1)))
  return {"executor": "in-process", "cores": cores, "pid": os.getpid()}


def step_flops(step: step_lib.StepFn, params: Any, opt_state: Any,
               batch: Any, hp: Any = None) -> float | None:
  """FLOPs of one step from XLA's cost analysis of the lowered HLO, if static."""
  try:
    analysis = jax.jit(step).lower(params, opt_state, batch,
                                   hp or {}).cost_analysis()
  except Exception:  # pylint: disable=broad-except  # backend-dependent
    return None
  if isinstance(analysis, (list, tuple)):
    analysis = analysis[0] if analysis else None
  if not analysis or "flops" not in analysis:
    return None
  flops = float(analysis["flops"])
  return flops if flops > 0 else None


def step_rows(start: int, recs: Mapping[str, Any], times: np.ndarray,
               keep: int) -> list[dict[str, Any]]:
  rows = []
  for i in range(keep):
    row = {"step": start + i, "objective": float(recs["objective"][i]),
           "learning_rate": float(recs["learning_rate"][i]),
           "time_s": float(times[i])}
    row.update({name: int(recs[name][i]) for name in api.EVAL_COUNTERS})
    rows.append(row)
  return rows
