"""Shared setup of the denominator cost profile (fixtures local to this folder).

What is profiled, per standard workload at its ``small`` preset, on the full
training batch (f(w) = workload.loss(w, batch)):

* ``f``: the objective alone;
* ``value_and_grad``: f and ∇f (one constant-learning-rate step's work);
* ``jvp_of_jvp``, ``hvp``, ``rev_rev``: the CDAT denominator uᵀ∇²f(w)u (paper
  Eq. 8, App. C) by forward-over-forward, forward-over-reverse and
  reverse-over-reverse autodiff (:mod:`edgeperf.submissions.curvature`);
* ``secant``: 2(f(w + ηu) − f(w) − η∇f(w)ᵀu)/η², given f(w) and ∇f(w), i.e.
  the marginal cost of one extra objective evaluation;
* ``fused_<m>``: value_and_grad and denominator ``m`` in ONE jitted function
  (what a CDAT step compiles), against ``separate_<m>``: the jitted
  value_and_grad then the jitted denominator, two dispatches.

The direction is u = −∇f(w) (the CDAT direction for gradient descent); uᵀHu is
even in u, so the separate path passes ∇f itself as the tangent.

Everything is compiled ahead of time with ``jax.jit(fn).lower(*args).compile()``
(params, batch and tangents are jit ARGUMENTS, never closure constants: XLA
would pre-compute on constants), which also gives XLA's
``memory_analysis()``; the compiled executables are what the benchmarks call.
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
import types
from typing import Any, Callable

import jax
import jax.numpy as jnp
import optax
import pytest

from edgeperf import workloads
from edgeperf.submissions import curvature

EXACT = {
    "jvp_of_jvp": curvature.uhu_jvp_of_jvp,
    "hvp": curvature.uhu_hvp,
    "rev_rev": curvature.uhu_rev_rev,
}
"""Exact uᵀ∇²f(w)u estimators, by profile name."""

DENOMINATORS = (*EXACT, "secant")
METHODS = ("f", "value_and_grad", *DENOMINATORS,
           *(f"fused_{d}" for d in DENOMINATORS),
           *(f"separate_{d}" for d in DENOMINATORS))
"""Every profiled method, in table order."""

CORRECTNESS_EXAMPLES = 16
"""Training examples of the float64 correctness runs (the maths checked do not
depend on the batch; the full batch in float64 would overrun the test budget)."""

SECANT_STEP = 1e-2
"""η of the profiled secant estimate (does not change its cost)."""

Objective = Callable[[Any, Any], jax.Array]


def make_functions(objective: Objective) -> dict[str, Callable[..., Any]]:
  """The profiled functions of ``objective(params, batch)``, not yet jitted.

  Signatures (every input is a jit argument):
    f, value_and_grad: (params, batch).
    jvp_of_jvp, hvp, rev_rev: (params, batch, u) ↦ uᵀ∇²f(w)u.
    secant: (params, batch, value, grad, step) ↦ secant estimate along
      u = −grad, given value = f(w) and grad = ∇f(w).
    fused_<m>: (params, batch) [, step for the secant] ↦ (value, grad, uᵀHu)
      with u = −∇f(w), all in one function.

  Args:
    objective: scalar objective f(params, batch).

  Returns:
    name ↦ function.
  """

  def value_fn_of(batch):
    return lambda w: objective(w, batch)

  def value_and_grad(params, batch):
    return jax.value_and_grad(objective)(params, batch)

  def secant(params, batch, value, grad, step):
    u = optax.tree.scale(-1.0, grad)
    value_next = objective(optax.tree.add_scale(params, step, u), batch)
    grad_dot_u = optax.tree.vdot(grad, u)
    return curvature.uhu_secant(value_next, value, grad_dot_u, step)

  fns: dict[str, Callable[..., Any]] = {
      "f": objective, "value_and_grad": value_and_grad, "secant": secant}

  def exact(estimator):
    def denominator(params, batch, u):
      return estimator(value_fn_of(batch), params, u)
    return denominator

  def fused_exact(estimator):
    def fused(params, batch):
      value, grad = value_and_grad(params, batch)
      u = optax.tree.scale(-1.0, grad)
      return value, grad, estimator(value_fn_of(batch), params, u)
    return fused

  def fused_secant(params, batch, step):
    value, grad = value_and_grad(params, batch)
    return value, grad, secant(params, batch, value, grad, step)

  for name, estimator in EXACT.items():
    fns[name] = exact(estimator)
    fns[f"fused_{name}"] = fused_exact(estimator)
  fns["fused_secant"] = fused_secant
  return fns


def cast_floats(tree: Any, dtype: Any) -> Any:
  """Casts the floating-point leaves of ``tree`` to ``dtype`` (ints kept)."""
  return jax.tree.map(
      lambda x: jnp.asarray(x, dtype)
      if jnp.issubdtype(jnp.asarray(x).dtype, jnp.floating) else jnp.asarray(x),
      tree)


def memory_stats(compiled: Any) -> dict[str, int | None]:
  """XLA's memory analysis of a compiled executable, in bytes.

  ``None`` values where the backend reports no analysis.
  """
  try:
    stats = compiled.memory_analysis()
  except Exception:  # pylint: disable=broad-except  (backend-dependent)
    stats = None
  fields = {"temp_bytes": "temp_size_in_bytes",
            "argument_bytes": "argument_size_in_bytes",
            "output_bytes": "output_size_in_bytes",
            "alias_bytes": "alias_size_in_bytes",
            "code_bytes": "generated_code_size_in_bytes"}
  return {k: (None if stats is None else int(getattr(stats, v, 0) or 0))
          for k, v in fields.items()}


FAST_COMPILE_CPU = {"xla_backend_optimization_level": 0,
                    "xla_llvm_disable_expensive_passes": True}
"""XLA CPU options of the float64 correctness runs: halve compile time, same
maths (timings are never taken with them)."""


@contextlib.contextmanager
def precision(x64: bool):
  """``jax.enable_x64(True)`` when ``x64``, else nothing (default config)."""
  if x64:
    with jax.enable_x64(True):
      yield
  else:
    yield


@dataclasses.dataclass
class Compiled:
  """An AOT-compiled function with its arguments, memory and compile time."""

  name: str
  executable: Any
  args: tuple[Any, ...]
  memory: dict[str, int | None]
  compile_s: float
  x64: bool

  def __call__(self, *args):
    """Runs on ``args`` (default: the compiled-for arguments), blocked."""
    with precision(self.x64):
      return jax.block_until_ready(self.executable(*(args or self.args)))


@dataclasses.dataclass
class Profile:
  """One workload's compiled profile functions, with their arguments.

  Attributes:
    workload: the workload.
    x64: whether params, batch and every executable are float64.
    params, batch: the jit arguments (float64 floats when ``x64``).
    value, grad: f(w) and ∇f(w).
    uhu: uᵀ∇²f(w)u for u = −∇f(w) by forward-over-forward (the reference).
    compiled: method name ↦ :class:`Compiled` (not the ``separate_`` ones).
  """

  workload: Any
  x64: bool
  params: Any
  batch: Any
  value: jax.Array
  grad: Any
  uhu: jax.Array
  compiled: dict[str, Compiled]

  def thunk(self, method: str) -> Callable[[], Any]:
    """A zero-argument callable running ``method`` to completion.

    ``separate_<m>`` runs value_and_grad, then denominator ``m`` on its
    output (two dispatches, blocked at the end); others run one executable.
    """
    if method in self.compiled:
      return self.compiled[method]
    if not method.startswith("separate_"):
      raise ValueError(f"unknown method {method!r}; expected one of {METHODS}")
    name = method.removeprefix("separate_")
    vg = self.compiled["value_and_grad"].executable
    den = self.compiled[name].executable
    params, batch = self.params, self.batch
    step = self.compiled["secant"].args[-1]
    x64 = self.x64
    if name == "secant":
      def run():
        with precision(x64):
          value, grad = vg(params, batch)
          return jax.block_until_ready(
              (value, grad, den(params, batch, value, grad, step)))
    else:
      def run():
        with precision(x64):
          value, grad = vg(params, batch)
          # uᵀHu is even in u: the tangent ∇f gives the value of u = −∇f.
          return jax.block_until_ready((value, grad, den(params, batch, grad)))
    return run

  def memory(self, method: str) -> dict[str, int | None]:
    """Memory of ``method``; for ``separate_<m>`` the larger temp of the two
    calls, their outputs added (∇f stays alive into the second call)."""
    if method in self.compiled:
      return dict(self.compiled[method].memory)
    name = method.removeprefix("separate_")
    a = self.compiled["value_and_grad"].memory
    b = self.compiled[name].memory
    if a["temp_bytes"] is None or b["temp_bytes"] is None:
      return {k: None for k in a}
    return {"temp_bytes": max(a["temp_bytes"], b["temp_bytes"]),
            "argument_bytes": a["argument_bytes"],
            "output_bytes": a["output_bytes"] + b["output_bytes"],
            "alias_bytes": a["alias_bytes"] + b["alias_bytes"],
            "code_bytes": a["code_bytes"] + b["code_bytes"]}


def build_profile(workload: Any, *, x64: bool = False,
                  num_examples: int | None = None, seed: int = 0) -> Profile:
  """Initialises ``workload`` and AOT-compiles every profiled function.

  Each executable is called once after compiling (warm-up), out of the clock.

  Args:
    workload: a :class:`edgeperf.workloads.base.Workload`.
    x64: build params and batch inside ``jax.enable_x64(True)`` with their
      floats cast to float64, and compile in float64 (correctness runs; on
      CPU with :data:`FAST_COMPILE_CPU`).  False: default float32 (profiles).
    num_examples: use the first ``num_examples`` training examples (None:
      the full training batch, as profiled).
    seed: PRNG seed of the initial parameters.
  """
  with precision(x64):
    dtype = jnp.float64 if x64 else jnp.float32
    params = cast_floats(workload.init(jax.random.key(seed)), dtype)
    batch = workload.full_train_batch()
    if num_examples is not None:
      batch = {k: v[:num_examples] for k, v in batch.items()}
    batch = cast_floats(batch, dtype)
    fns = make_functions(workload.loss)
    options = (FAST_COMPILE_CPU
               if x64 and jax.devices()[0].platform == "cpu" else None)
    compiled: dict[str, Compiled] = {}

    def compile_one(name, *args):
      start = time.perf_counter()
      executable = jax.jit(fns[name]).lower(*args).compile(
          compiler_options=options)
      elapsed = time.perf_counter() - start
      entry = Compiled(name, executable, args, memory_stats(executable),
                       elapsed, x64)
      out = entry()  # warm-up
      compiled[name] = entry
      return out

    value, grad = compile_one("value_and_grad", params, batch)
    compile_one("f", params, batch)
    step = jnp.asarray(SECANT_STEP, dtype)
    uhu = None
    for name in EXACT:
      out = compile_one(name, params, batch, grad)
      uhu = out if name == "jvp_of_jvp" else uhu
      compile_one(f"fused_{name}", params, batch)
    compile_one("secant", params, batch, value, grad, step)
    compile_one("fused_secant", params, batch, step)
  return Profile(workload, x64, params, batch, value, grad, uhu, compiled)


@pytest.fixture(scope="session")
def profile_cache(get_workload):
  """``(name, x64=False) ↦ Profile``, each built once per session.

  ``x64=False``: float32 on the full training batch (the profile);
  ``x64=True``: float64 on :data:`CORRECTNESS_EXAMPLES` examples.
  Workloads come from ``tests/conftest.py``'s session-wide ``get_workload``.
  """
  cache: dict[tuple[str, bool], Profile] = {}

  def get(name, x64=False):
    if (name, x64) not in cache:
      cache[(name, x64)] = build_profile(
          get_workload(name), x64=x64,
          num_examples=CORRECTNESS_EXAMPLES if x64 else None)
    return cache[(name, x64)]

  return get


def pytest_benchmark_update_machine_info(config, machine_info):
  """Adds the accelerator (JAX's first device) to the saved machine info."""
  del config
  device = jax.devices()[0]
  machine_info["jax"] = {
      "version": jax.__version__,
      "platform": device.platform,
      "device_kind": device.device_kind,
      "device_count": jax.device_count(),
  }


def pytest_generate_tests(metafunc):
  """Parametrizes ``workload_name`` (every embedded workload) and
  ``profiled_method`` (every entry of :data:`METHODS`) in this folder."""
  if "workload_name" in metafunc.fixturenames:
    metafunc.parametrize("workload_name", workloads.EMBEDDED)
  if "profiled_method" in metafunc.fixturenames:
    metafunc.parametrize("profiled_method", METHODS)


@pytest.fixture(scope="session")
def profile_lib():
  """This module's helpers for the test files (conftest is not importable
  under ``--import-mode=importlib``)."""
  return types.SimpleNamespace(
      EXACT=EXACT, DENOMINATORS=DENOMINATORS, METHODS=METHODS,
      make_functions=make_functions, cast_floats=cast_floats,
      build_profile=build_profile, precision=precision)
