"""A closed-loop edge controller: a PI law on log η holding the edge ratio.

Roulet et al. (2024) close "Stepping on the Edge" with CDAT as an open-loop
rule on a quadratic model (their Eq. 8) and suggest that "state feedback
schemes can be designed through the analysis of nonlinear dynamical systems
to ensure asymptotic stabilization" (their Sec. 7, citing Isidori, 1995).
This module is such a scheme.

**The measured signal.**  At step t the transformation knows g_t, the base
direction u_t, and an estimate d̂_t of the directional curvature
u_tᵀ∇²f(w_t)u_t.  The *edge ratio* of the rate it last applied is

    r_t = η_{t−1} · d̂_t / n_t,   n_t = −g_tᵀu_t,

η_{t−1} over the quadratically greedy step −gᵀu/uᵀHu (Roulet et al. 2024,
Eq. 3).  For a preconditioned gradient step u = −P⁻¹g, n = uᵀPu and r is
η·uᵀHu/uᵀPu, η times the Rayleigh quotient of the preconditioned Hessian
P^{−1/2}HP^{−1/2} (the sharpness that sets the edge of adaptive methods,
Cohen et al. 2022, "Adaptive Gradient Methods at the Edge of Stability"):
for GD (P = I) it is η·uᵀHu/‖u‖², and along the top eigenvector of a
quadratic it is η·λ_max, 2 at the edge of stability (Cohen et al. 2021).
With momentum (Adam's m̂) it stays the ratio to the greedy step, whose
value 2 is the on-edge step of Eq. 7.

**The law.**  With the error e_t = log(r_t / r*) and a set point r*
(2: the edge), a velocity-form PI law on log η (Åström & Murray 2008,
"Feedback Systems", Ch. 10, in discrete time):

    log η_t = log η_{t−1} − k_i e_t − k_p (e_t − e_{t−1}),

the change clipped to ±``max_log_change`` (a rate limit: one bad estimate
cannot move η by more than that factor).  k_i = 1, k_p = 0 gives
η_t = r* n_t / d̂_t: CDAT with σ = r* (Eq. 8), the law's deadbeat member.
The shipped gains put k_p = −k_i/2, i.e. log η_t = log η_{t−1} −
(k_i/2)(e_t + e_{t−1}): the integral acts on the two-step mean of the
error.  At the edge the iterate oscillates with period 2 (successive
updates point in opposite directions: Roulet et al. 2024, Fig. 6; the
self-stabilisation of Damian, Nichani & Lee, 2023, modulates the curvature
with the same period), and this law has zero gain at that frequency
(z = −1), so it tracks the slow drift of sharpness without chasing the
oscillation.  Its poles solve z² − (1 − k_i − k_p) z − k_p = 0 and lie in
the unit circle exactly when k_i > 0, |k_p| < 1 and k_i + 2k_p < 2
(Jury's test; :func:`stable_gains`); the closed loop on the paper's Eqs.
4–5 adds a slow pole 1 − 4c/k_i, c = 2a/λ², that stabilises the weight
along the top eigenvector (see the theory model in the reproduction).

**The curvature.**  d̂_t is exact (forward-over-forward autodiff, App. C)
at the refreshes, run by the harness through the refresh contract at every
step before ``refresh_warmup`` and then exactly every k = ``every_k``
steps; in between it is the free calibrated secant estimate of amortised
CDAT (:func:`edgeperf.submissions.curvature.secant.calibrated_quotient`),
a few dot products per step.  Where the signal is undefined (n_t ≤ 0: u_t
is not a descent direction, or d̂_t = 0) the integrator holds η.  The first
step is open loop (η_0 = r* n_0/d̂_0, CDAT's), so the loop starts on the
edge instead of winding up from an arbitrary rate.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax

from edgeperf import _checks
from edgeperf.submissions import api
from edgeperf.submissions import curvature
from edgeperf.submissions.curvature import secant

REFRESH_WARMUP = 100
"""Steps refreshed every step before amortisation (as amortised CDAT)."""
EVERY_K = 10
"""Refresh period after the warm-up (as amortised CDAT)."""
MAX_LOG_CHANGE = math.log(2.0)
"""Default rate limit: η changes by at most a factor 2 per step."""


class EdgeControllerState(NamedTuple):
  """State of :func:`scale_by_edge_controller`."""

  stats: api.TunerStats  # learning_rate f[] = η_t (counters: the harness's)
  count: jax.Array  # i32[], steps taken so far (t)
  log_lr: jax.Array  # f[], log η_{t−1}: the integrator
  prev_lr: jax.Array  # f[], η_{t−1} as applied (0: no step yet, open loop)
  prev_error: jax.Array  # f[], e_{t−1} = log(r_{t−1}/r*) (0 before step 1)
  ratio: jax.Array  # f[], r_t, the edge ratio measured at the last step
  fresh: jax.Array  # bool[], a refresh ran just before this step's update
  fresh_curvature: jax.Array  # f[], u_tᵀ∇²f(w_t)u_t from the last refresh
  prev_quotient: jax.Array  # f[], d̂_{t−1}/‖u_{t−1}‖² (carried where the free
  #   estimate is unavailable)
  prev: secant.Step | None  # step t−1 for the free estimate (None: k = 1)
  calibration: secant.Calibration | None  # what the refreshes found of the
  #   free estimate (None: k = 1)


def stable_gains(ki: float, kp: float) -> bool:
  """Whether the law's poles, z² − (1 − k_i − k_p)z − k_p = 0, lie strictly
  inside the unit circle: k_i > 0, |k_p| < 1, k_i + 2k_p < 2 (Jury)."""
  return ki > 0 and abs(kp) < 1 and ki + 2 * kp < 2


def _curvature(state: EdgeControllerState, now: secant.Step, free: bool
               ) -> tuple[jax.Array, jax.Array, secant.Calibration | None]:
  """(d̂_t, d̂_t/‖u_t‖², calibration): the refresh's exact value where one
  ran, else the calibrated secant estimate (amortised CDAT's)."""
  exact_quotient = api.safe_div(jnp.abs(state.fresh_curvature), now.sqnorm)
  if not free:
    return jnp.abs(state.fresh_curvature), exact_quotient, None
  est = secant.estimates(now, state.prev, state.prev_lr)
  calibration = jax.tree.map(
      lambda new, old: jnp.where(state.fresh, new, old),
      secant.calibrate(state.calibration, est, exact_quotient),
      secant.aged(state.calibration))
  free_quotient = jnp.where(est.valid,
                            secant.calibrated_quotient(est, calibration),
                            state.prev_quotient)
  quotient = jnp.where(state.fresh, exact_quotient, free_quotient)
  return quotient * now.sqnorm, quotient, calibration


def scale_by_edge_controller(
    set_point: float = 2.0, *, ki: float = 0.5, kp: float = -0.25,
    max_log_change: float = MAX_LOG_CHANGE, every_k: int = EVERY_K,
    refresh_warmup: int = REFRESH_WARMUP) -> api.RefreshingTransformation:
  """The edge controller (module docstring): a PI law on log η holding the
  edge ratio r_t = η_{t−1}·u_tᵀ∇²f u_t/(−g_tᵀu_t) at ``set_point``.

  Args:
    set_point: r* > 0 (2: the edge of stability).
    ki: integral gain k_i.
    kp: proportional gain k_p (on the error's change).  (k_i, k_p) must be
      stable (:func:`stable_gains`).
    max_log_change: largest |log η_t − log η_{t−1}| > 0 (``inf``: none).
    every_k: refresh period k ≥ 1 of the exact curvature (1: every step,
      no free estimate).
    refresh_warmup: steps refreshed every step before the period applies.

  Returns:
    A refreshing transformation whose update needs ``grad`` (and, with
    k > 1, ``value``); its refresh needs ``value_fn``.
  """
  _checks.positive("set_point", set_point)
  _checks.number("ki (integral gain)", ki)
  _checks.number("kp (proportional gain)", kp)
  if not stable_gains(ki, kp):
    raise ValueError(f"gains ki={ki}, kp={kp} are outside the stability "
                     "region (expected ki > 0, |kp| < 1, ki + 2 kp < 2)")
  _checks.positive("max_log_change", max_log_change)
  api.check_every_k(every_k)
  api.check_warmup(refresh_warmup)
  free = every_k != 1
  log_set_point = math.log(set_point)

  def init(params):
    dtype = api.float_dtype(params)
    zero = jnp.asarray(0.0, dtype)
    prev, calibration = secant.initial_memory(params, dtype, free=free)
    return EdgeControllerState(
        stats=api.tuner_stats(0.0), count=jnp.asarray(0, jnp.int32),
        log_lr=zero, prev_lr=zero, prev_error=zero, ratio=zero,
        fresh=jnp.asarray(False),
        fresh_curvature=zero, prev_quotient=zero, prev=prev,
        calibration=calibration)

  def refresh(state, params, *, updates, value_fn=None, **extra):
    del extra
    _checks.required_extras("scale_by_edge_controller refresh",
                            value_fn=value_fn, params=params)
    uhu = curvature.uhu("jvp", value_fn, params, updates)
    return state._replace(fresh=jnp.asarray(True),
                          fresh_curvature=uhu.astype(state.log_lr.dtype))

  def update(updates, state, params=None, *, value=None, grad=None,
             **extra):
    del params, extra
    needed = dict(grad=grad)
    if free:
      needed["value"] = value
    _checks.required_extras("scale_by_edge_controller", **needed)
    dtype = state.log_lr.dtype
    slope = optax.tree.vdot(grad, updates).astype(dtype)
    now = secant.Step(
        value=jnp.asarray(0.0 if value is None else value, dtype),
        slope=slope, sqnorm=optax.tree.vdot(updates, updates).astype(dtype),
        grad=grad, direction=updates)
    d_hat, quotient, calibration = _curvature(state, now, free)
    n = -slope
    defined = (n > 0) & (d_hat > 0)
    log_greedy = jnp.log(jnp.where(defined, n, 1.0)) - jnp.log(
        jnp.where(defined, d_hat, 1.0))  # log of the greedy step n/d̂
    first = ~(state.prev_lr > 0)  # no step yet: open loop
    error = jnp.where(defined, state.log_lr - log_greedy - log_set_point,
                      state.prev_error)
    change = jnp.clip(-ki * error - kp * (error - state.prev_error),
                      -max_log_change, max_log_change)
    log_lr = jnp.where(first, log_set_point + log_greedy,
                       state.log_lr + change)
    error = jnp.where(first, 0.0, error)
    # No rate yet and no signal: nothing to hold, so no step.
    eta = jnp.where(first & ~defined, 0.0, jnp.exp(log_lr))
    log_lr = jnp.where(first & ~defined, state.log_lr, log_lr)
    new_state = EdgeControllerState(
        stats=api.tuner_stats(eta), count=state.count + 1,
        log_lr=log_lr.astype(dtype), prev_lr=eta.astype(dtype),
        prev_error=error.astype(dtype),
        ratio=jnp.where(defined, jnp.exp(error + log_set_point),
                        state.ratio).astype(dtype),
        fresh=jnp.asarray(False), fresh_curvature=state.fresh_curvature,
        prev_quotient=quotient.astype(dtype),
        prev=now if free else None, calibration=calibration)
    return optax.tree.scale(eta, updates), new_state

  return api.with_refresh(
      optax.GradientTransformationExtraArgs(init, update), refresh,
      every_k=every_k, cost=curvature.EVALS["jvp"],
      warmup=refresh_warmup if free else 0)
