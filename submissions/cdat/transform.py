"""CDAT: curvature-dynamics-aware tuning (Roulet et al. 2024, Eq. 8).

η_t = σ · ñ_t / d̃_t with n_t = max(−∇f(w_t)ᵀu_t, 0) and
d_t = |u_tᵀ∇²f(w_t)u_t| + ε.  σ = 1 is the quadratically greedy rule (Eq. 3),
σ = 2 the largest step whose quadratic model does not increase f (Eq. 7).

The curvature u_tᵀ∇²f(w_t)u_t comes from a refresh (the suite's
:class:`~edgeperf.submissions.api.RefreshingTransformation` contract), run by
the harness every k steps; ``update`` only reads the state.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax

from edgeperf import _checks
from edgeperf.submissions import api
from edgeperf.submissions import curvature
from edgeperf.submissions.curvature import secant

ESTIMATORS = curvature.ESTIMATORS + ("secant",)
"""Denominator estimators of :func:`scale_by_cdat`."""


class CDATState(NamedTuple):
  """State of :func:`scale_by_cdat`."""

  stats: api.TunerStats  # learning_rate f[] = η_t (counters: the harness's)
  count: jax.Array  # i32[], steps taken so far (t)
  numerator_ema: jax.Array  # f[], biased EMA of n_t = max(−gᵀu, 0)
  denominator_ema: jax.Array  # f[], biased EMA of d̂_t
  fresh: jax.Array  # bool[], a refresh ran just before this step's update
  fresh_curvature: jax.Array  # f[], u_tᵀ∇²f(w_t)u_t from the last refresh
  prev_quotient: jax.Array  # f[], d̂_{t−1}/‖u_{t−1}‖² (carried when the free
  #   estimate is unavailable)
  prev_lr: jax.Array  # f[], η_{t−1}
  prev: secant.Step | None  # step t−1 for the free estimate (None: k = 1)
  calibration: secant.Calibration | None  # what the refreshes found of the
  #   free estimate (None: k = 1)


REFRESH_WARMUP = 100
"""Steps refreshed every step before amortisation starts (k > 1): the
early transient, where curvature along u moves by factors of 10 from one
step to the next and no free estimate follows it."""


def scale_by_cdat(sigma: float = 2.0, *, eps: float = 0.0, beta: float = 0.0,
                  estimator: str = "jvp", every_k: int = 1,
                  refresh_warmup: int = REFRESH_WARMUP
                  ) -> api.RefreshingTransformation:
  """Curvature-dynamics-aware tuning, CDAT (Roulet et al. 2024, Eq. 8).

  η_t = σ · ñ_t / d̃_t with n_t = max(−∇f(w_t)ᵀu_t, 0) and the denominator
  d_t = |u_tᵀ∇²f(w_t)u_t| + ε, each smoothed by an EMA
  ñ_{t+1} = (1 − β) n_t + β ñ_t (the value used at step t includes n_t, and
  is divided by 1 − β^{t+1}: with ñ_0 = 0 and ε = 0 the correction cancels in
  the ratio, so this is the paper's rule).  σ = 1 is the quadratically greedy
  rule (Eq. 3, the minimiser of q(η) = f + η gᵀu + ½η² uᵀHu); σ = 2 is "on
  edge", the largest η with q(η) ≤ f(w) (Eq. 7).  η = 0 where the
  denominator is 0.

  The exact curvature u_tᵀ∇²f(w_t)u_t is computed by the transformation's
  refresh, along the direction u_t of the step it precedes, with
  ``estimator``: ``jvp`` (forward-over-forward, App. C), ``hvp``
  (forward-over-reverse), ``rev_rev`` or ``taylor`` (a second-order
  Taylor-mode pass); its cost is declared in ``refresh_cost``.

  Amortised curvature (``every_k`` = k > 1): the refresh runs at every
  step before ``refresh_warmup``, then at steps k, 2k, …; at those steps
  d_t is exact.  In between, d_t = ĉ_t‖u_t‖² with a free Rayleigh-quotient
  estimate from the last step (it stores u_{t−1} and g_{t−1}):
  :func:`edgeperf.submissions.curvature.secant.calibrated_quotient`, the
  Hermite end-point curvature corrected by what the refreshes measured of
  it, where they found it accurate; elsewhere the conservative
  max(|value secant|, end-point curvature, secant lower bound).  Each
  refresh compares the free estimates with the exact value
  (:func:`~edgeperf.submissions.curvature.secant.calibrate`).  ``secant``
  is the same free estimate with ``jvp`` refreshes in the warm-up only.  In
  the mini-batch regime the secants mix in the batch-to-batch change of f.
  With k = 1 every step is exact: the paper's Eq. 8 verbatim.

  Args:
    sigma: scale σ > 0.
    eps: ε ≥ 0 added to the denominator (0 in the paper).
    beta: EMA parameter β ∈ [0, 1) for numerator and denominator.
    estimator: one of :data:`ESTIMATORS`.
    every_k: refresh period k ≥ 1 (must be 1 with ``secant``, which
      refreshes at step 0 only, or in its warm-up).
    refresh_warmup: steps refreshed every step before amortisation starts
      (k > 1 or ``secant``; nothing changes with k = 1).

  Returns:
    A refreshing transformation whose update needs ``grad`` (and, with
    k > 1 or ``secant``, ``value``); its refresh needs ``value_fn``.
  """
  _checks.positive("sigma", sigma)
  _checks.non_negative("eps", eps)
  _checks.number("beta", beta, low=0.0, high=1.0, high_open=True)
  _checks.one_of("CDAT estimator", estimator, ESTIMATORS)
  api.check_every_k(every_k)
  api.check_warmup(refresh_warmup)
  if estimator == "secant" and every_k != 1:
    raise ValueError("every_k must be 1 with estimator='secant' (one jvp "
                     f"refresh at step 0, free estimates after), got {every_k}")
  exact_estimator = "jvp" if estimator == "secant" else estimator
  period = None if estimator == "secant" else every_k
  free = period != 1  # steps without a refresh use the free estimate
  warmup = refresh_warmup if free else 0

  def init(params):
    dtype = api.float_dtype(params)
    zero = jnp.asarray(0.0, dtype)
    prev, calibration = secant.initial_memory(params, dtype, free=free)
    return CDATState(
        stats=api.tuner_stats(0.0), count=jnp.asarray(0, jnp.int32),
        numerator_ema=zero, denominator_ema=zero, fresh=jnp.asarray(False),
        fresh_curvature=zero, prev_quotient=zero, prev_lr=zero, prev=prev,
        calibration=calibration)

  def refresh(state, params, *, updates, value_fn=None, **extra):
    del extra
    _checks.required_extras("scale_by_cdat refresh", value_fn=value_fn,
                            params=params)
    uhu = curvature.uhu(exact_estimator, value_fn, params, updates)
    return state._replace(
        fresh=jnp.asarray(True),
        fresh_curvature=uhu.astype(state.numerator_ema.dtype))

  def update(updates, state, params=None, *, value=None, grad=None,
             **extra):
    del params, extra
    needed = dict(grad=grad)
    if free:
      needed["value"] = value
    _checks.required_extras("scale_by_cdat", **needed)
    dtype = state.numerator_ema.dtype
    slope = optax.tree.vdot(grad, updates).astype(dtype)
    numerator = jnp.maximum(-slope, 0.0)
    d_hat = jnp.abs(state.fresh_curvature)
    prev, quotient = state.prev, state.prev_quotient
    calibration = state.calibration
    if free:
      now = secant.Step(value=jnp.asarray(value, dtype), slope=slope,
                        sqnorm=optax.tree.vdot(updates, updates).astype(dtype),
                        grad=grad, direction=updates)
      est = secant.estimates(now, state.prev, state.prev_lr)
      exact = api.safe_div(d_hat, now.sqnorm)
      calibration = jax.tree.map(
          lambda new, old: jnp.where(state.fresh, new, old),
          secant.calibrate(calibration, est, exact),
          secant.aged(calibration))
      c_hat = jnp.where(est.valid,
                        secant.calibrated_quotient(est, calibration),
                        state.prev_quotient)
      d_hat = jnp.where(state.fresh, d_hat, c_hat * now.sqnorm)
      quotient = api.safe_div(d_hat, now.sqnorm)
      prev = now
    d = d_hat + eps
    t1 = (state.count + 1).astype(dtype)
    num_ema = beta * state.numerator_ema + (1.0 - beta) * numerator
    den_ema = beta * state.denominator_ema + (1.0 - beta) * d
    correction = 1.0 - beta**t1
    eta = sigma * api.safe_div(num_ema / correction, den_ema / correction)
    new_state = CDATState(
        stats=api.tuner_stats(eta), count=state.count + 1,
        numerator_ema=num_ema, denominator_ema=den_ema,
        fresh=jnp.asarray(False), fresh_curvature=state.fresh_curvature,
        prev_quotient=quotient, prev_lr=eta.astype(dtype), prev=prev,
        calibration=calibration)
    return optax.tree.scale(eta, updates), new_state

  return api.with_refresh(
      optax.GradientTransformationExtraArgs(init, update), refresh,
      every_k=period, cost=curvature.EVALS[exact_estimator], warmup=warmup)
