"""The training step and the chunk runners that chain steps between evaluations.

One step at w_t (Roulet et al. 2024 notation)::

    f_t, g_t = value_and_grad(f)(w_t)
    Δ_t, s_{t+1} = tx.update(g_t, s_t, w_t, value=f_t, grad=g_t, value_fn=f)
    w_{t+1} = w_t + Δ_t            # Δ_t = η_t u_t

and records ``{"objective": f_t, "learning_rate": η_t, <eval counters>}``.

Chunk modes (:data:`CHUNK_MODES`): ``scan`` (one ``lax.scan`` per chunk),
``scan_unrolled`` (the same, fully unrolled) and ``loop`` (a Python loop of
one jitted step; on a CPU a conv gradient inside a plain scan ran ~36×
slower).  Each workload names the mode that measured fastest for it.
"""

from __future__ import annotations

import time
from typing import Any, Callable, Mapping

import jax
import jax.numpy as jnp
import optax

from edgeperf import _checks
from edgeperf.harness import memory as memory_lib
from edgeperf.harness import parallel
from edgeperf.submissions import api
from edgeperf.submissions import loader
from edgeperf.workloads import base

CHUNK_MODES = ("scan", "scan_unrolled", "loop")
"""How steps are chained between evaluations (see the module docstring)."""

Record = dict[str, jax.Array]
StepFn = Callable[[Any, Any, Mapping[str, jax.Array]], tuple[Any, Any, Record]]


def tuner_update(tx: Any, value_fn: Callable[[Any], jax.Array], params: Any,
                 opt_state: Any, *, refresh: bool = False
                 ) -> tuple[jax.Array, Any, Any, Any]:
  """One call of a tuner at w_t, with the harness's calling convention.

  With ``refresh`` (a step where a :class:`~edgeperf.submissions.api.
  RefreshingTransformation` refreshes), ``tx.refresh`` runs first, on the
  same f(w_t) and g_t.

  Returns:
    ``(f_t, g_t, Δ_t, s_{t+1})``: the objective, its gradient, the step
    the tuner returned (w_{t+1} = w_t + Δ_t) and its new state.
  """
  value, grad = jax.value_and_grad(value_fn)(params)
  extra = dict(value=value, grad=grad, value_fn=value_fn)
  delta, opt_state = api.update_with_refresh(tx, grad, opt_state, params,
                                             refresh=refresh, **extra)
  return value, grad, delta, opt_state


def as_spec(tuner: Any) -> loader.TunerSpec:
  """A :class:`~edgeperf.submissions.loader.TunerSpec`, or a built tuner
  wrapped as one (nothing enters its programs as a value)."""
  if isinstance(tuner, loader.TunerSpec):
    return tuner
  return loader.TunerSpec.fixed(tuner)


def make_train_step(workload: base.Workload, tuner: Any) -> StepFn:
  """Returns the (un-jitted) step ``(params, opt_state, batch, hp=None,
  refresh=False) -> (params, opt_state, record)`` of a tuner on
  ``workload``'s objective.

  ``tuner`` is a built tuner or a :class:`~edgeperf.submissions.loader.
  TunerSpec`; ``hp`` holds the values of its dynamic hyperparameters (the
  tuner is built from them inside the program, so they are arguments of
  the compiled step, not constants).  ``refresh`` (a Python bool, static)
  runs the tuner's curvature refresh first and adds its cost to the
  record's counters.
  """
  spec = as_spec(tuner)
  built = spec.build()
  cost = dict(built.refresh_cost) if api.is_refreshing(built) else {}

  def step(params, opt_state, batch, hp=None, refresh=False):
    def value_fn(p):
      return workload.loss(p, batch)

    tx = spec.build(hp) if hp else built
    value, _, updates, opt_state = tuner_update(tx, value_fn, params,
                                                opt_state, refresh=refresh)
    params = optax.apply_updates(params, updates)
    record = {"objective": value, **api.step_info(opt_state)}
    if refresh:
      for name, count in cost.items():
        record[name] = record[name] + count
    return params, opt_state, record

  return step


def refresh_schedule(tuner: Any) -> Callable[[int], bool]:
  """``step -> whether the tuner refreshes before it`` (never for a plain
  transformation)."""
  tx = as_spec(tuner).build()
  if not api.is_refreshing(tx):
    return lambda step: False
  every_k, warmup = tx.every_k, tx.warmup
  return lambda step: api.refreshes_at(every_k, step, warmup)


def segments(start: int, length: int,
             refreshes: Callable[[int], bool]) -> tuple[tuple[int, int], ...]:
  """The static structure of steps [start, start + length): runs of
  ``(count, size)``, each ``count`` groups of ``size`` steps whose first step
  refreshes — except a leading run with ``count`` 0 and ``size`` the steps
  before the first refresh.  E.g. k = 4, steps [2, 15):
  ``((0, 2), (2, 4), (1, 3))``: 2 plain steps, 2 groups of (refresh + 3),
  then 1 group of (refresh + 2)."""
  points = [i for i in range(length) if refreshes(start + i)]
  out = []
  head = points[0] if points else length
  if head:
    out.append((0, head))
  sizes = [b - a for a, b in zip(points, points[1:] + [length])]
  for size in sizes:
    if out and out[-1][0] and out[-1][1] == size:
      out[-1] = (out[-1][0] + 1, size)
    else:
      out.append((1, size))
  return tuple(out)


class CompiledChunk:
  """Runs ``length`` steps from (params, opt_state); compiled ahead of time.

  Call with ``(params, opt_state, data)`` where ``data`` is the full batch
  (full-batch regime) or the chunk's batches stacked on axis 0 (mini-batch).
  Returns ``(params, opt_state, records)`` with records stacked to
  ``[length]``.  ``compile_s`` is the wall time compilation took;
  ``memory`` XLA's memory analysis of the compiled program (the larger of
  the plain and refresh steps in ``loop`` mode), or None.  ``warm`` says
  whether it has run once (a program's first execution pays a one-time
  cost, :data:`edgeperf.harness.trainer.REPEAT_FIRST_CALL_S`).  The example
  arguments may be ``jax.ShapeDtypeStruct``s (with their shardings):
  compiling allocates nothing.

  A refreshing tuner's refreshes are part of the static structure
  (:func:`segments` of the chunk's steps from ``start``): in scan modes an
  outer ``lax.scan`` over groups whose body is one refresh step then a scan
  of plain steps, so no step branches on whether to refresh.
  """

  def __init__(self, step: StepFn, mode: str, length: int, full_batch: bool,
               example_args: tuple[Any, ...], *,
               structure: tuple[tuple[int, int], ...] | None = None):
    _checks.one_of("chunk mode", mode, CHUNK_MODES)
    self.mode, self.length, self.full_batch = mode, length, full_batch
    self.structure = structure or ((0, length),)
    if sum(max(c, 1) * s for c, s in self.structure) != length:
      raise ValueError(f"chunk structure {self.structure} does not cover "
                       f"{length} steps")
    start = time.perf_counter()
    params, opt_state, data, *hp = example_args
    hp = hp[0] if hp else {}
    if mode == "loop":
      one = data if full_batch else jax.tree.map(parallel.drop_leading_axis,
                                                 data)
      self._steps = {
          r: jax.jit(lambda p, s, b, h, r=r: step(p, s, b, h, r)).lower(
              params, opt_state, one, hp).compile()
          for r in self._refresh_flags()}
      programs = list(self._steps.values())
    else:
      unroll = mode == "scan_unrolled"
      self._chunk = jax.jit(lambda p, s, d, h: _scan_chunk(
          step, self.structure, p, s, d, h, full_batch, unroll)).lower(
              params, opt_state, data, hp).compile()
      programs = [self._chunk]
    self.compile_s = time.perf_counter() - start
    self.memory = memory_lib.largest(
        [memory_lib.of_compiled(p) for p in programs])
    self.warm = False  # executed at least once (the runner sets it)

  def _refresh_flags(self) -> set[bool]:
    return {False} | {True for count, _ in self.structure if count}

  def _refreshing(self) -> list[bool]:
    flags = []
    for count, size in self.structure:
      group = [bool(count)] + [False] * (size - 1)
      flags += group * max(count, 1)
    return flags

  def __call__(self, params, opt_state, data, hp=None, deadline_s=None):
    """Runs the chunk.  ``deadline_s`` (``loop`` mode only): stop after the
    first step that ends this many seconds after the call (each step then
    waits for its result), so a time budget ends within a step rather than
    a chunk; fewer than ``length`` records come back."""
    hp = hp or {}
    if self.mode != "loop":
      return self._chunk(params, opt_state, data, hp)
    records, start = [], time.perf_counter()
    for i, refresh in enumerate(self._refreshing()):
      batch = data if self.full_batch else jax.tree.map(lambda x: x[i], data)
      params, opt_state, record = self._steps[refresh](params, opt_state,
                                                        batch, hp)
      records.append(record)
      if deadline_s is not None:
        jax.block_until_ready(record)
        if time.perf_counter() - start >= deadline_s:
          break
    stacked = jax.tree.map(lambda *xs: jnp.stack(xs), *records)
    return params, opt_state, stacked


def _scan_chunk(step, structure, params, opt_state, data, hp, full_batch,
                unroll):
  """The scan-mode program of :class:`CompiledChunk`."""

  def scan_steps(carry, xs, length, refresh_first):
    def body(carry, batch):
      p, s, r = step(*carry, data if full_batch else batch, hp)
      return (p, s), r

    records = []
    if refresh_first:
      first = None if full_batch else jax.tree.map(lambda x: x[0], xs)
      p, s, r = step(*carry, data if full_batch else first, hp, True)
      carry, records = (p, s), [jax.tree.map(lambda x: x[None], r)]
      xs = None if full_batch else jax.tree.map(lambda x: x[1:], xs)
      length -= 1
    if length:
      carry, r = jax.lax.scan(body, carry, xs, length=length,
                              unroll=length if unroll else 1)
      records.append(r)
    return carry, jax.tree.map(lambda *r: jnp.concatenate(r), *records)

  carry, pos, records = (params, opt_state), 0, []
  for count, size in structure:
    n = max(count, 1)
    xs = None if full_batch else jax.tree.map(
        lambda x, pos=pos, n=n, size=size: x[pos:pos + n * size].reshape(
            (n, size) + x.shape[1:]), data)
    if count == 0:
      carry, r = scan_steps(carry, None if xs is None else jax.tree.map(
          lambda x: x[0], xs), size, False)
    else:
      carry, r = jax.lax.scan(
          lambda c, x, size=size: scan_steps(c, x, size, True), carry, xs,
          length=count)
      r = jax.tree.map(lambda x: x.reshape((-1,) + x.shape[2:]), r)
    records.append(r)
    pos += n * size
  return (*carry, jax.tree.map(lambda *r: jnp.concatenate(r), *records))
