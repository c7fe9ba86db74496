"""Backtracking linesearch on the Armijo criterion (Roulet et al. 2024, Eq. 1
and App. C)."""

from __future__ import annotations

import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax

from edgeperf import _checks
from edgeperf.submissions import api


class ArmijoState(NamedTuple):
  """State of :func:`scale_by_armijo`."""

  stats: api.TunerStats  # learning_rate f32[] = η_t^ls; value_evals i32[]
  prev_learning_rate: jax.Array  # f[], η_{t−1}^ls (0 before the first step)
  accepted: jax.Array  # bool[], whether the last search met the criterion


def scale_by_armijo(
    *, c: float = 1e-4, delta: float = 0.0, c_plus: float = math.inf,
    c_minus: float = 0.8, max_backtracking_steps: int = 100,
    max_learning_rate: float = 1.0) -> optax.GradientTransformationExtraArgs:
  """Backtracking linesearch on the Armijo criterion (Eq. 1, App. C).

  Accepts η when f(w + ηu) ≤ (1 + δ) f(w) + c η ∇f(w)ᵀu.  The search starts
  at η_{t,0} = min(c₊ η_{t−1}, η_max) (η_max = 1 in the paper; c₊ = +∞ or no
  previous step: start at η_max) and returns
  η_t = max{c₋^k η_{t,0} : k ≤ K, criterion holds}.  If no k ≤ K
  (``max_backtracking_steps``) passes, the last trial c₋^K η_{t,0} is taken
  (0 if f is not finite there).  Each trial costs one objective evaluation
  (``value_evals``).  The paper searches "until accepted" in full batch and
  caps at 30 steps in mini-batch.

  optax.scale_by_backtracking_linesearch has the same criterion (rtol = δ,
  slope_rtol = c) but is not used: with c₊ = +∞ its guess c₊·η_{t−1} is NaN
  after a zero step, and it exposes no evaluation count.

  Args:
    c: slope coefficient c ≥ 0 (paper grid {0, 1e-4, 0.5}).
    delta: relative slack δ ≥ 0 (paper: {0, 1e-3} for c = 0, else 0).
    c_plus: increase factor c₊ ≥ 1, or ``math.inf`` (paper {4, +∞}).
    c_minus: decrease factor c₋ ∈ (0, 1) (paper {0.8, 0.9}).
    max_backtracking_steps: K ≥ 0, the most shrinks per step.
    max_learning_rate: η_max > 0, the cap on the initial guess.
  """
  _checks.non_negative("c", c)
  _checks.non_negative("delta", delta)
  _checks.number("c_plus", c_plus, low=1.0)
  _checks.number("c_minus", c_minus, low=0.0, high=1.0, low_open=True,
                 high_open=True)
  _checks.integer("max_backtracking_steps", max_backtracking_steps, low=0)
  _checks.positive("max_learning_rate", max_learning_rate)

  def init(params):
    dtype = api.float_dtype(params)
    return ArmijoState(stats=api.tuner_stats(0.0),
                       prev_learning_rate=jnp.asarray(0.0, dtype),
                       accepted=jnp.asarray(True))

  def update(updates, state, params=None, *, value=None, grad=None,
             value_fn=None, **extra):
    del extra
    _checks.required_extras("scale_by_armijo", value=value, grad=grad,
                            value_fn=value_fn, params=params)
    dtype = state.prev_learning_rate.dtype
    value = jnp.asarray(value, dtype)
    slope = optax.tree.vdot(grad, updates).astype(dtype)
    prev = state.prev_learning_rate
    if math.isinf(c_plus):
      guess = jnp.asarray(max_learning_rate, dtype)
    else:
      guess = jnp.where(prev > 0, jnp.minimum(c_plus * prev,
                                              max_learning_rate),
                        max_learning_rate).astype(dtype)

    def trial(eta):
      new_value = value_fn(optax.tree.add_scale(params, eta, updates))
      new_value = jnp.asarray(new_value, dtype)
      ok = new_value <= (1.0 + delta) * value + c * eta * slope
      return new_value, ok & jnp.isfinite(new_value)

    def cond(carry):
      k, _, _, ok = carry
      return (~ok) & (k < max_backtracking_steps)

    def body(carry):
      k, eta, _, _ = carry
      eta = (c_minus * eta).astype(dtype)
      new_value, ok = trial(eta)
      return k + 1, eta, new_value, ok

    first_value, first_ok = trial(guess)
    k, eta, new_value, ok = jax.lax.while_loop(
        cond, body, (jnp.asarray(0, jnp.int32), guess, first_value, first_ok))
    eta = jnp.where(ok | jnp.isfinite(new_value), eta, 0.0).astype(dtype)
    new_updates = optax.tree.scale(eta, updates)
    stats = api.tuner_stats(eta, value_evals=k + 1)
    return new_updates, ArmijoState(stats=stats, prev_learning_rate=eta,
                                    accepted=ok)

  return optax.GradientTransformationExtraArgs(init, update)
