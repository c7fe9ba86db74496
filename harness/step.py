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
from edgeperf.submissions import api
from edgeperf.workloads import base

CHUNK_MODES = ("scan", "scan_unrolled", "loop")
"""How steps are chained between evaluations (see the module docstring)."""

Record = dict[str, jax.Array]
StepFn = Callable[[Any, Any, Mapping[str, jax.Array]], tuple[Any, Any, Record]]


def tuner_update(tx: optax.GradientTransformationExtraArgs,
                 value_fn: Callable[[Any], jax.Array], params: Any,
                 opt_state: Any) -> tuple[jax.Array, Any, Any, Any]:
  """One call of a tuner at w_t, with the harness's calling convention.

  Returns:
    ``(f_t, g_t, Δ_t, s_{t+1})``: the objective, its gradient, the step
    the tuner returned (w_{t+1} = w_t + Δ_t) and its new state.
  """
  value, grad = jax.value_and_grad(value_fn)(params)
  delta, opt_state = tx.update(grad, opt_state, params, value=value,
                               grad=grad, value_fn=value_fn)
  return value, grad, delta, opt_state


def make_train_step(workload: base.Workload,
                    tx: optax.GradientTransformationExtraArgs) -> StepFn:
  """Returns the (un-jitted) step ``(params, opt_state, batch) -> (params,
  opt_state, record)`` of ``tx`` on ``workload``'s objective."""

  def step(params, opt_state, batch):
    def value_fn(p):
      return workload.loss(p, batch)

    value, _, updates, opt_state = tuner_update(tx, value_fn, params,
                                                opt_state)
    params = optax.apply_updates(params, updates)
    record = {"objective": value, **api.step_info(opt_state)}
    return params, opt_state, record

  return step


class CompiledChunk:
  """Runs ``length`` steps from (params, opt_state); compiled ahead of time.

  Call with ``(params, opt_state, data)`` where ``data`` is the full batch
  (full-batch regime) or the chunk's batches stacked on axis 0 (mini-batch).
  Returns ``(params, opt_state, records)`` with records stacked to
  ``[length]``.  ``compile_s`` is the wall time compilation took.
  """

  def __init__(self, step: StepFn, mode: str, length: int, full_batch: bool,
               example_args: tuple[Any, Any, Any]):
    _checks.one_of("chunk mode", mode, CHUNK_MODES)
    self.mode, self.length, self.full_batch = mode, length, full_batch
    start = time.perf_counter()
    if mode == "loop":
      params, opt_state, data = example_args
      one = data if full_batch else jax.tree.map(lambda x: x[0], data)
      self._step = jax.jit(step).lower(params, opt_state, one).compile()
    else:
      unroll = mode == "scan_unrolled"

      def chunk(params, opt_state, data):
        if full_batch:
          def body(carry, _):
            p, s, r = step(*carry, data)
            return (p, s), r
          xs = None
        else:
          def body(carry, batch):
            p, s, r = step(*carry, batch)
            return (p, s), r
          xs = data
        (params, opt_state), records = jax.lax.scan(
            body, (params, opt_state), xs, length=length,
            unroll=length if unroll else 1)
        return params, opt_state, records

      self._chunk = jax.jit(chunk).lower(*example_args).compile()
    self.compile_s = time.perf_counter() - start

  def __call__(self, params, opt_state, data):
    if self.mode != "loop":
      return self._chunk(params, opt_state, data)
    records = []
    for i in range(self.length):
      batch = data if self.full_batch else jax.tree.map(lambda x: x[i], data)
      params, opt_state, record = self._step(params, opt_state, batch)
      records.append(record)
    stacked = jax.tree.map(lambda *xs: jnp.stack(xs), *records)
    return params, opt_state, stacked
