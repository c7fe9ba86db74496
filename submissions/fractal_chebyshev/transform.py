"""The fractal Chebyshev schedule (Agarwal, Goel & Zhang 2021)."""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from edgeperf import _checks
from edgeperf.submissions import api
from edgeperf.submissions import curvature

ORDERS = ("fractal", "increasing", "decreasing")


def fractal_order(n: int) -> np.ndarray:
  """The fractal permutation σ_n of {1..n} (Agarwal, Goel & Zhang 2021).

  σ_1 = [1], σ_{2n} = interleave(σ_n, 2n + 1 − σ_n); e.g. σ_4 = [1, 4, 2, 3],
  σ_8 = [1, 8, 4, 5, 2, 7, 3, 6].  ``n`` must be a power of 2.
  """
  _checks.integer("n", n, low=1)
  if n & (n - 1):
    raise ValueError(f"the fractal order needs a power of 2, got {n}")
  sigma = np.array([1])
  while len(sigma) < n:
    m = 2 * len(sigma)
    out = np.empty(m, dtype=np.int64)
    out[0::2], out[1::2] = sigma, m + 1 - sigma
    sigma = out
  return sigma


def chebyshev_node_cosines(horizon: int, order: str = "fractal") -> np.ndarray:
  """cos((2i − 1)π / (2T)) for i = σ(1..T): the Chebyshev nodes on [−1, 1].

  ``fractal`` uses :func:`fractal_order`; ``increasing`` takes i = T..1
  (step sizes 1/γ_i increasing), ``decreasing`` i = 1..T.
  """
  _checks.one_of("order", order, ORDERS)
  if order == "fractal":
    idx = fractal_order(horizon)
  else:
    _checks.integer("horizon", horizon, low=1)
    idx = (np.arange(1, horizon + 1) if order == "decreasing" else
           np.arange(horizon, 0, -1))
  return np.cos((2 * idx - 1) * np.pi / (2 * horizon))


class FractalChebyshevState(NamedTuple):
  """State of :func:`scale_by_fractal_chebyshev`."""

  stats: api.TunerStats  # learning_rate f32[] = η_t = 1/γ_σ(t mod T)
  count: jax.Array  # i32[], steps taken
  max_curvature: jax.Array  # f[], M (given, or estimated at step 0)


def scale_by_fractal_chebyshev(
    horizon: int, *, min_curvature_ratio: float,
    max_curvature: float | None = None, order: str = "fractal",
    num_iters: int = 20, seed: int = 0, unroll: bool = False) -> api.Tuner:
  """Fractal Chebyshev schedule (Agarwal, Goel & Zhang 2021).

  η_t = 1/γ_{σ(j)}, j = t mod T + 1 (the cycle repeats after T steps), with
  γ_i = (M + m)/2 + (M − m)/2 · cos((2i − 1)π/(2T)), the Chebyshev nodes of
  [m, M], in the fractal order σ_T.  On a quadratic with spectrum in [m, M],
  T such GD steps shrink the error by at most 1/T_T((M + m)/(M − m)) (T_T the
  Chebyshev polynomial) whatever the order; the fractal order keeps the
  intermediate iterates bounded in floating point.

  Args:
    horizon: T, a power of 2.
    min_curvature_ratio: m/M ∈ (0, 1).
    max_curvature: M > 0, or None to estimate it as λ_max(∇²f(w_0)) by
      ``num_iters`` Lanczos HVPs in a refresh the harness runs once, before
      step 0 (counted in ``hvp_evals``).  For
      non-GD directions M should be the preconditioned curvature; the
      estimate is of ∇²f itself.
    order: ``fractal`` (default), or ``increasing`` / ``decreasing`` step
      sizes (the unstable sorted orders, for comparison).
    num_iters: HVPs of the step-0 estimate.
    seed: seed of the estimate's start vector.
    unroll: unroll its Lanczos loop (same arithmetic; see
      :func:`edgeperf.submissions.curvature.lanczos.lanczos_fixed`).
  """
  cosines = chebyshev_node_cosines(horizon, order)
  _checks.number("min_curvature_ratio", min_curvature_ratio, low=0.0,
                 high=1.0, low_open=True, high_open=True)
  if max_curvature is not None:
    _checks.positive("max_curvature", max_curvature)
  _checks.integer("num_iters", num_iters, low=1)

  def init(params):
    dtype = api.float_dtype(params)
    big_m = 0.0 if max_curvature is None else max_curvature
    return FractalChebyshevState(
        stats=api.tuner_stats(0.0), count=jnp.asarray(0, jnp.int32),
        max_curvature=jnp.asarray(big_m, dtype))

  def refresh(state, params, *, value_fn=None, **extra):
    del extra
    _checks.required_extras("scale_by_fractal_chebyshev refresh",
                            value_fn=value_fn, params=params)
    lam = curvature.top_eigenvalue(value_fn, params, num_iters=num_iters,
                                   key=jax.random.PRNGKey(seed),
                                   method="lanczos", unroll=unroll)
    return state._replace(
        max_curvature=jnp.abs(lam).astype(state.max_curvature.dtype))

  def update(updates, state, params=None, **extra):
    del params, extra
    dtype = state.max_curvature.dtype
    big_m = state.max_curvature
    small_m = min_curvature_ratio * big_m
    cos = jnp.asarray(cosines, dtype)[state.count % horizon]
    gamma = 0.5 * (big_m + small_m) + 0.5 * (big_m - small_m) * cos
    eta = api.safe_div(jnp.asarray(1.0, dtype), gamma).astype(dtype)
    return optax.tree.scale(eta, updates), FractalChebyshevState(
        stats=api.tuner_stats(eta), count=state.count + 1,
        max_curvature=big_m)

  tx = optax.GradientTransformationExtraArgs(init, update)
  if max_curvature is not None:
    return tx
  return api.with_refresh(tx, refresh, every_k=None,
                          cost={"hvp_evals": num_iters})
