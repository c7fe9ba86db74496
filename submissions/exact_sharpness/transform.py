"""The exact-sharpness rule η = σ/λ_max (Roulet et al. 2024, Eq. 16)."""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax

from edgeperf import _checks
from edgeperf.submissions import api
from edgeperf.submissions import curvature


class ExactSharpnessState(NamedTuple):
  """State of :func:`scale_by_exact_sharpness`."""

  stats: api.TunerStats  # learning_rate f32[] = η_t
  count: jax.Array  # i32[], steps taken
  sharpness: jax.Array  # f[], λ_max from the last refresh
  key: jax.Array  # u32[2], PRNG key for the eigen-solver's start vectors


def scale_by_exact_sharpness(
    sigma: float = 2.0, *, every_k: int = 1, num_iters: int = 20,
    method: str = "lanczos", seed: int = 0,
    unroll: bool = False) -> api.RefreshingTransformation:
  """Exact-sharpness rule (Eq. 16): η_t = σ / λ_max(∇²f(w_t)).

  λ_max comes from ``num_iters`` Hessian-vector products of Lanczos (or power)
  iterations (:func:`edgeperf.submissions.curvature.top_eigenvalue`) in the
  transformation's refresh, which the harness runs at steps 0, k, 2k, …;
  ``update`` reuses the stored value.  η = σ/|λ| (0 if λ = 0).  The Hessian
  is that of f itself, not the preconditioned one: for RMSProp/Adam
  directions the relevant sharpness is λ_max(P^{-1/2}∇²f P^{-1/2}), which
  this rule does not see.

  Args:
    sigma: σ > 0 (σ = 2 performs poorly, σ ≈ 3 can beat constant rates).
    every_k: refresh period k ≥ 1.
    num_iters: HVPs per refresh.
    method: ``lanczos`` or ``power``.
    seed: seed of the start vectors.
    unroll: unroll the Lanczos loop (same arithmetic; for models whose
      gradients are slow inside compiled loops, see
      :func:`edgeperf.submissions.curvature.lanczos.lanczos_fixed`).
  """
  _checks.positive("sigma", sigma)
  api.check_every_k(every_k)
  _checks.integer("num_iters", num_iters, low=1)
  _checks.one_of("method", method, curvature.METHODS)
  _checks.integer("seed", seed, low=0)

  def init(params):
    dtype = api.float_dtype(params)
    return ExactSharpnessState(
        stats=api.tuner_stats(0.0), count=jnp.asarray(0, jnp.int32),
        sharpness=jnp.asarray(0.0, dtype), key=jax.random.PRNGKey(seed))

  def refresh(state, params, *, value_fn=None, **extra):
    del extra
    _checks.required_extras("scale_by_exact_sharpness refresh",
                            value_fn=value_fn, params=params)
    _, sub = jax.random.split(state.key)  # the key this step's update splits
    lam = curvature.top_eigenvalue(value_fn, params, num_iters=num_iters,
                                   key=sub, method=method, unroll=unroll)
    return state._replace(sharpness=lam.astype(state.sharpness.dtype))

  def update(updates, state, params=None, **extra):
    del params, extra
    dtype = state.sharpness.dtype
    key, _ = jax.random.split(state.key)
    eta = sigma * api.safe_div(jnp.asarray(1.0, dtype),
                               jnp.abs(state.sharpness))
    eta = eta.astype(dtype)
    return optax.tree.scale(eta, updates), ExactSharpnessState(
        stats=api.tuner_stats(eta), count=state.count + 1,
        sharpness=state.sharpness, key=key)

  return api.with_refresh(
      optax.GradientTransformationExtraArgs(init, update), refresh,
      every_k=every_k, cost={"hvp_evals": num_iters})
