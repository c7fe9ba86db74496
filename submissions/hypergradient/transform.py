"""Multiplicative hypergradient descent (Roulet et al. 2024, Eq. 15; Baydin
et al. 2017)."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from edgeperf import _checks
from edgeperf.submissions import api


class HypergradientState(NamedTuple):
  """State of :func:`scale_by_hypergradient`."""

  stats: api.TunerStats  # learning_rate f32[] = η_t; no extra evaluations
  count: jax.Array  # i32[], steps taken
  learning_rate: jax.Array  # f[], η_{t−1} (η_0 before the first step)
  prev_updates: Any  # pytree like params, u_{t−1}


def scale_by_hypergradient(
    learning_rate: float, *,
    beta: float = 1e-2) -> optax.GradientTransformationExtraArgs:
  """Multiplicative hypergradient descent (Eq. 15).

  η_{t+1} = η_t (1 − β ∇f(w_t + η_t u_t)ᵀu_t / (‖∇f(w_t + η_t u_t)‖ ‖u_t‖)).
  ∇f(w_t + η_t u_t) = ∇f(w_{t+1}) is the ``grad`` of the next call, so the
  rule costs no extra evaluation: at step t ≥ 1, η_t is computed from
  g_t and the stored u_{t−1}; step 0 uses η_0 = ``learning_rate``.  The
  cosine is taken as 0 when either norm is 0.  In mini-batch g_t and u_{t−1}
  come from consecutive batches (as in Baydin et al.).

  Args:
    learning_rate: η_0 > 0.
    beta: hyper learning rate β ∈ [0, 1] (paper {1e-3, 1e-2, 1e-1, 1}).
  """
  _checks.positive("learning_rate", learning_rate)
  _checks.number("beta", beta, low=0.0, high=1.0)

  def init(params):
    dtype = api.float_dtype(params)
    return HypergradientState(
        stats=api.tuner_stats(learning_rate),
        count=jnp.asarray(0, jnp.int32),
        learning_rate=jnp.asarray(learning_rate, dtype),
        prev_updates=optax.tree.zeros_like(params))

  def update(updates, state, params=None, *, grad=None, **extra):
    del params, extra
    _checks.required_extras("scale_by_hypergradient", grad=grad)
    dtype = state.learning_rate.dtype
    dot = optax.tree.vdot(grad, state.prev_updates).astype(dtype)
    norms = (optax.tree.norm(grad) * optax.tree.norm(state.prev_updates))
    cosine = api.safe_div(dot, norms.astype(dtype))
    eta = jnp.where(state.count > 0,
                    state.learning_rate * (1.0 - beta * cosine),
                    state.learning_rate).astype(dtype)
    new_updates = optax.tree.scale(eta, updates)
    prev = jax.tree.map(lambda u, p: u.astype(p.dtype), updates,
                        state.prev_updates)
    return new_updates, HypergradientState(
        stats=api.tuner_stats(eta), count=state.count + 1, learning_rate=eta,
        prev_updates=prev)

  return optax.GradientTransformationExtraArgs(init, update)
