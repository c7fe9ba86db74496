"""Compiled programs kept across runs: one compilation serves a whole search.

A tuner's float hyperparameters enter its compiled step as values (the
tuner is rebuilt from them inside the program, see
:func:`edgeperf.harness.step.make_train_step`), when its code can trace them:
:meth:`ProgramCache.resolve` tries each, and bakes in those that need a
Python value (e.g. a warm-up fraction turned into a step count).  A worker
that runs many trials keeps one :class:`ProgramCache`, so trials that
differ only in such values reuse the same compiled chunks, initialisation
and evaluation programs; what was injected is recorded in ``meta.json``.
"""

from __future__ import annotations

from typing import Any, Callable

import jax
import jax.numpy as jnp

from edgeperf.harness import step as step_lib
from edgeperf.submissions import loader
from edgeperf.workloads import base


def values(spec: loader.TunerSpec) -> dict[str, jax.Array]:
  """The dynamic hyperparameters as f32 arrays (the programs' arguments)."""
  return {k: jnp.asarray(v, jnp.float32) for k, v in spec.dynamic.items()}


class ProgramCache:
  """Train steps, compiled chunks and traceability verdicts, by what they
  depend on (workload object, tuner program key, chunk shape)."""

  def __init__(self):
    self._resolved: dict[tuple, set[str]] = {}  # names to bake in
    self._steps: dict[tuple, step_lib.StepFn] = {}
    self._chunks: dict[tuple, step_lib.CompiledChunk] = {}
    self._evaluations: dict[base.Workload, Callable[..., Any]] = {}
    self.compiled = 0  # chunks compiled (for tests and reports)

  def resolve(self, workload: base.Workload, spec: loader.TunerSpec,
              params: Any, opt_state: Any, batch: Any) -> loader.TunerSpec:
    """``spec`` with the dynamic hyperparameters its code cannot trace made
    static (tried once per workload and tuner program)."""
    if not spec.dynamic:
      return spec
    key = (workload, spec.program_key())
    if key not in self._resolved:
      names = set(spec.dynamic)
      # Usually every one traces: one trace says so.  Else each alone.
      ok = names if self._traces(workload, spec, params, opt_state,
                                 batch) else {
          n for n in names if self._traces(
              workload, spec.with_static(names - {n}), params, opt_state,
              batch)}
      if 1 < len(ok) < len(names) and not self._traces(
          workload, spec.with_static(names - ok), params, opt_state, batch):
        ok = set()
      self._resolved[key] = names - ok
    return spec.with_static(self._resolved[key])

  @staticmethod
  def _traces(workload, spec, params, opt_state, batch) -> bool:
    step = step_lib.make_train_step(workload, spec)
    flags = {False, step_lib.refresh_schedule(spec)(0)}
    try:
      for refresh in flags:
        jax.eval_shape(lambda p, s, b, h, r=refresh: step(p, s, b, h, r),
                       params, opt_state, batch, values(spec))
    except Exception:  # pylint: disable=broad-except  # any tracing failure
      return False
    return True

  def step(self, workload: base.Workload,
           spec: loader.TunerSpec) -> step_lib.StepFn:
    key = (workload, spec.program_key())
    if key not in self._steps:
      self._steps[key] = step_lib.make_train_step(workload, spec)
    return self._steps[key]

  def evaluation(self, workload: base.Workload) -> Callable[..., Any]:
    """The jitted ``workload.metrics`` (one per workload, so a worker's
    trials share its compilations: 0.3 s a trial on ``linreg_digits``)."""
    if workload not in self._evaluations:
      self._evaluations[workload] = jax.jit(workload.metrics)
    return self._evaluations[workload]

  def chunk(self, workload: base.Workload, spec: loader.TunerSpec,
            mode: str, structure: tuple, full_batch: bool,
            make: Callable[[], step_lib.CompiledChunk]
            ) -> tuple[step_lib.CompiledChunk, bool]:
    """The compiled chunk for this shape, made on first use; also whether
    it was compiled now."""
    key = (workload, spec.program_key(), mode, structure, full_batch)
    fresh = key not in self._chunks
    if fresh:
      self._chunks[key] = make()
      self.compiled += 1
    return self._chunks[key], fresh
