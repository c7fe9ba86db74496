"""CDAT: curvature-dynamics-aware tuning (Roulet et al. 2024, Eq. 8).

η_t = σ · ñ_t / d̃_t with n_t = max(−∇f(w_t)ᵀu_t, 0) and
d_t = |u_tᵀ∇²f(w_t)u_t| + ε.  σ = 1 is the quadratically greedy rule (Eq. 3),
σ = 2 the largest step whose quadratic model does not increase f (Eq. 7).
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax

from edgeperf import _checks
from edgeperf.submissions import api
from edgeperf.submissions import curvature

ESTIMATORS = curvature.ESTIMATORS + ("secant",)
"""Denominator estimators of :func:`scale_by_cdat`."""

_EXACT_COST = {"jvp": dict(jvp_evals=2), "hvp": dict(hvp_evals=1),
               "rev_rev": dict(hvp_evals=1)}


class CDATState(NamedTuple):
  """State of :func:`scale_by_cdat`."""

  stats: api.TunerStats  # learning_rate f32[] = η_t; eval counters i32[]
  count: jax.Array  # i32[], steps taken so far (t)
  numerator_ema: jax.Array  # f[], ñ: biased EMA of n_t = max(−gᵀu, 0)
  denominator_ema: jax.Array  # f[], biased EMA of d_t (fresh, k = 1) or of
  #   the Rayleigh quotient uᵀHu/‖u‖² (amortised / secant)
  denominator_updates: jax.Array  # i32[], updates of denominator_ema so far
  prev_value: jax.Array  # f[], f(w_{t−1}) (secant)
  prev_step: jax.Array  # f[], η_{t−1} (secant)
  prev_slope: jax.Array  # f[], g_{t−1}ᵀu_{t−1} (secant)
  prev_sqnorm: jax.Array  # f[], ‖u_{t−1}‖² (secant)


def scale_by_cdat(
    sigma: float = 2.0, *, eps: float = 0.0, beta: float = 0.0,
    estimator: str = "jvp",
    every_k: int = 1) -> optax.GradientTransformationExtraArgs:
  """Curvature-dynamics-aware tuning, CDAT (Roulet et al. 2024, Eq. 8).

  η_t = σ · ñ_t / d̃_t with n_t = max(−∇f(w_t)ᵀu_t, 0) and
  d_t = |u_tᵀ∇²f(w_t)u_t| + ε, each optionally smoothed by an EMA
  ñ_{t+1} = (1 − β) n_t + β ñ_t (the value used at step t includes n_t, and
  is divided by 1 − β^{t+1}: with ñ_0 = 0 and ε = 0 the correction cancels in
  the ratio, so this is the paper's rule).  σ = 1 is the quadratically greedy
  rule (Eq. 3, the minimiser of q(η) = f + η gᵀu + ½η² uᵀHu); σ = 2 is "on
  edge", the largest η with q(η) ≤ f(w) (Eq. 7).  η = 0 where the
  denominator is 0.

  Denominator estimators (``estimator``; cost per refresh in the counters):

  * ``jvp`` — forward-over-forward ∂(∂f(·)[u])(w)[u] (App. C; 2 jvp passes).
  * ``hvp`` — uᵀ(∇²f u), forward-over-reverse (1 HVP).
  * ``rev_rev`` — reverse-over-reverse (1 HVP).
  * ``secant`` — free, one step late: the next step's ``value`` is
    f(w_{t+1}) = f(w_t + η_t u_t), so
    u_tᵀHu_t ≈ 2(f(w_{t+1}) − f(w_t) − η_t g_tᵀu_t)/η_t² (exact on
    quadratics).  Step 0 has no previous step: one ``jvp`` bootstraps it (2
    jvp evals, counted).  In mini-batch f(w_{t+1}) and f(w_t) are on
    different batches, so the estimate mixes in the batch-to-batch change.

  Amortisation: with ``every_k`` = k > 1 an exact estimator runs only at
  steps t ≡ 0 (mod k), inside ``lax.cond`` (other steps do not pay for it).
  A stale (or, for ``secant``, one-step-late) estimate was measured along an
  older direction, so it is kept as a Rayleigh quotient c = uᵀHu/‖u‖²
  (EMA-smoothed over refreshes with the same β, bias-corrected) and applied
  as d_t = |ĉ| ‖u_t‖² + ε.  For k = 1 with an exact estimator, d_t itself is
  smoothed, exactly as in the paper; for β = 0 the two coincide.

  Args:
    sigma: scale σ > 0.
    eps: ε ≥ 0 added to the denominator (0 in the paper).
    beta: EMA parameter β ∈ [0, 1) for numerator and denominator.
    estimator: one of :data:`ESTIMATORS`.
    every_k: refresh period k ≥ 1 of an exact denominator (must be 1 for
      ``secant``, which is refreshed every step for free).

  Returns:
    A transformation whose update needs ``grad`` and ``value_fn`` (and
    ``value`` for ``secant``).
  """
  _checks.positive("sigma", sigma)
  _checks.non_negative("eps", eps)
  _checks.number("beta", beta, low=0.0, high=1.0, high_open=True)
  _checks.one_of("CDAT estimator", estimator, ESTIMATORS)
  _checks.integer("every_k", every_k, low=1)
  if estimator == "secant" and every_k != 1:
    raise ValueError("every_k must be 1 with estimator='secant' (the secant "
                     f"is refreshed every step at no cost), got {every_k}")
  rayleigh = estimator == "secant" or every_k > 1

  def init(params):
    dtype = api.float_dtype(params)
    zero = jnp.asarray(0.0, dtype)
    izero = jnp.asarray(0, jnp.int32)
    return CDATState(
        stats=api.tuner_stats(0.0), count=izero, numerator_ema=zero,
        denominator_ema=zero, denominator_updates=izero, prev_value=zero,
        prev_step=zero, prev_slope=zero, prev_sqnorm=zero)

  def update(updates, state, params=None, *, value=None, grad=None,
             value_fn=None, **extra):
    del extra
    needed = dict(grad=grad, value_fn=value_fn, params=params)
    if estimator == "secant":
      needed["value"] = value
    _checks.required_extras("scale_by_cdat", **needed)
    dtype = state.numerator_ema.dtype
    slope = optax.tree.vdot(grad, updates).astype(dtype)
    sqnorm = optax.tree.vdot(updates, updates).astype(dtype)
    numerator = jnp.maximum(-slope, 0.0)
    num_ema = beta * state.numerator_ema + (1.0 - beta) * numerator
    num_hat = num_ema / (1.0 - beta ** (state.count + 1).astype(dtype))
    zero_i = jnp.asarray(0, jnp.int32)
    jvp_evals = hvp_evals = zero_i

    def exact(name):
      return curvature.uhu(name, value_fn, params, updates).astype(dtype)

    if not rayleigh:  # Eq. 8 verbatim: EMA of d_t = |uᵀHu| + ε.
      d = jnp.abs(exact(estimator)) + eps
      den_ema = beta * state.denominator_ema + (1.0 - beta) * d
      den_updates = state.denominator_updates + 1
      denominator = den_ema / (1.0 - beta ** den_updates.astype(dtype))
      cost = _EXACT_COST[estimator]
      jvp_evals = jnp.asarray(cost.get("jvp_evals", 0), jnp.int32)
      hvp_evals = jnp.asarray(cost.get("hvp_evals", 0), jnp.int32)
    else:
      safe_sq = jnp.where(sqnorm > 0, sqnorm, 1.0)
      if estimator == "secant":
        def bootstrap():
          return exact("jvp") / safe_sq, sqnorm > 0

        def secant():
          uhu = curvature.uhu_secant(
              jnp.asarray(value, dtype), state.prev_value, state.prev_slope,
              state.prev_step)
          ok = (state.prev_step != 0) & (state.prev_sqnorm > 0)
          return api.safe_div(uhu, state.prev_sqnorm), ok

        first = state.count == 0
        quotient, valid = jax.lax.cond(first, bootstrap, secant)
        jvp_evals = jnp.where(first, 2, 0).astype(jnp.int32)
      else:
        refresh = state.count % every_k == 0

        def fresh():
          return exact(estimator) / safe_sq, sqnorm > 0

        def stale():
          return jnp.asarray(0.0, dtype), jnp.asarray(False)

        quotient, valid = jax.lax.cond(refresh, fresh, stale)
        cost = _EXACT_COST[estimator]
        jvp_evals = jnp.where(refresh, cost.get("jvp_evals", 0),
                              0).astype(jnp.int32)
        hvp_evals = jnp.where(refresh, cost.get("hvp_evals", 0),
                              0).astype(jnp.int32)
      valid = valid & jnp.isfinite(quotient)
      den_ema = jnp.where(
          valid, beta * state.denominator_ema + (1.0 - beta) * quotient,
          state.denominator_ema)
      den_updates = state.denominator_updates + valid.astype(jnp.int32)
      correction = 1.0 - beta ** den_updates.astype(dtype)
      c_hat = api.safe_div(den_ema, correction)
      denominator = jnp.abs(c_hat) * sqnorm + eps
    eta = sigma * api.safe_div(num_hat, denominator)
    new_updates = optax.tree.scale(eta, updates)
    stats = api.tuner_stats(eta, jvp_evals=jvp_evals, hvp_evals=hvp_evals)
    value_now = (jnp.asarray(value, dtype) if value is not None
                 else state.prev_value)
    new_state = CDATState(
        stats=stats, count=state.count + 1, numerator_ema=num_ema,
        denominator_ema=den_ema, denominator_updates=den_updates,
        prev_value=value_now, prev_step=eta.astype(dtype), prev_slope=slope,
        prev_sqnorm=sqnorm)
    return new_updates, new_state

  return optax.GradientTransformationExtraArgs(init, update)
