"""Learning-rate tuners as optax transformations (PAPER.md, "Tuners").

Every transform here is the *scale* half of a tuner: it sits at the end of
``optax.chain(api.base_direction(name), scale_by_x(...))``, receives the base
direction ``updates = u_t`` and returns the step η_t · u_t.  Extra arguments
are those the harness passes (see :mod:`edgeperf.submissions.api`): ``value``
= f(w_t), ``grad`` = g_t = ∇f(w_t) and ``value_fn`` = f on the current batch.
Each state carries an :class:`~edgeperf.submissions.api.TunerStats` as its
first field (the learning rate applied this step and the extra evaluations it
cost), so :func:`~edgeperf.submissions.api.step_info` reads it.

Tuners (paper equation numbers are those of the 2024 paper):

* :func:`scale_by_cdat` — CDAT, Eq. 8 (σ = 1 is quadratically greedy, Eq. 3),
  with EMAs, amortised (every-k) and secant denominators.
* :func:`scale_by_armijo` — backtracking Armijo linesearch, Eq. 1 / App. C.
* :func:`scale_by_polyak` — Polyak stepsize, Eq. 14.
* :func:`scale_by_hypergradient` — multiplicative hypergradient descent, Eq. 15.
* :func:`scale_by_exact_sharpness` — η = σ / λ_max(∇²f), Eq. 16.
* :func:`scale_by_learning_rate_schedule` with :func:`warmup_schedule` —
  prefixed warm-up schedules (App. C.5).
* :func:`scale_by_fractal_chebyshev` — the fractal Chebyshev schedule of
  Agarwal, Goel & Zhang (2021), PAPER.md tuner 9.
* :func:`expose_learning_rate` — wraps an optax.contrib parameter-free
  optimizer so that its effective learning rate lands in ``TunerStats``.

All of them assume they are the *last* transform of the chain, so that the
harness applies exactly what they return: w_{t+1} = w_t + η_t u_t (the
secant and hypergradient rules use that identity one step later).
"""

from __future__ import annotations

import math
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from edgeperf.submissions import api
from edgeperf.submissions import curvature

# ---------------------------------------------------------------- helpers --


def _require(transform: str, **extras: Any) -> None:
  """Fails loudly when a required extra argument was not passed."""
  missing = [k for k, v in extras.items() if v is None]
  if missing:
    raise ValueError(
        f"{transform}.update needs the keyword argument(s) {missing}; call it "
        "as tx.update(grad, state, params, value=f(w), grad=∇f(w), "
        "value_fn=f) (the harness's step does; a chain forwards them)")


def _float_dtype(tree: Any) -> Any:
  """The widest floating dtype among the leaves (f32 if none is float)."""
  dtypes = [jnp.asarray(x).dtype for x in jax.tree.leaves(tree)
            if jnp.issubdtype(jnp.asarray(x).dtype, jnp.floating)]
  return jnp.result_type(*dtypes) if dtypes else jnp.float32


def _scalar(x: Any, dtype: Any) -> jax.Array:
  return jnp.asarray(x, dtype)


def _check_positive(name: str, x: Any) -> None:
  if not (isinstance(x, (int, float)) and x > 0):
    raise ValueError(f"{name} must be a number > 0, got {x!r}")


def _check_unit(name: str, x: Any, *, closed: bool = False) -> None:
  ok = isinstance(x, (int, float)) and (0 <= x <= 1 if closed else 0 <= x < 1)
  if not ok:
    interval = "[0, 1]" if closed else "[0, 1)"
    raise ValueError(f"{name} must be a number in {interval}, got {x!r}")


def _check_int(name: str, x: Any, low: int) -> None:
  if not isinstance(x, int) or isinstance(x, bool) or x < low:
    raise ValueError(f"{name} must be an int >= {low}, got {x!r}")


def _safe_div(num: jax.Array, den: jax.Array) -> jax.Array:
  """num / den where den > 0, else 0 (no NaN in either branch's gradient)."""
  ok = den > 0
  return jnp.where(ok, num / jnp.where(ok, den, 1.0), 0.0)


# ------------------------------------------------------------------- CDAT --

CDAT_ESTIMATORS = ("jvp", "hvp", "rev_rev", "secant")
"""Denominator estimators of :func:`scale_by_cdat` (``curvature`` names plus
``secant``)."""

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
  """Curvature-dynamics-aware tuning, CDAT (paper Eq. 8).

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
    estimator: one of :data:`CDAT_ESTIMATORS`.
    every_k: refresh period k ≥ 1 of an exact denominator (must be 1 for
      ``secant``, which is refreshed every step for free).

  Returns:
    A transformation whose update needs ``grad`` and ``value_fn`` (and
    ``value`` for ``secant``).
  """
  _check_positive("sigma", sigma)
  if not (isinstance(eps, (int, float)) and eps >= 0):
    raise ValueError(f"eps must be a number >= 0, got {eps!r}")
  _check_unit("beta", beta)
  if estimator not in CDAT_ESTIMATORS:
    raise ValueError(f"unknown CDAT estimator {estimator!r}; expected one of "
                     f"{CDAT_ESTIMATORS}")
  _check_int("every_k", every_k, 1)
  if estimator == "secant" and every_k != 1:
    raise ValueError("every_k must be 1 with estimator='secant' (the secant "
                     f"is refreshed every step at no cost), got {every_k}")
  rayleigh = estimator == "secant" or every_k > 1

  def init(params):
    dtype = _float_dtype(params)
    zero = _scalar(0.0, dtype)
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
    _require("scale_by_cdat", **needed)
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
          return _safe_div(uhu, state.prev_sqnorm), ok

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
      c_hat = _safe_div(den_ema, correction)
      denominator = jnp.abs(c_hat) * sqnorm + eps
    eta = sigma * _safe_div(num_hat, denominator)
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


def scale_by_quadratically_greedy(
    **kwargs: Any) -> optax.GradientTransformationExtraArgs:
  """Quadratically greedy rule (paper Eq. 3): CDAT with σ = 1.

  η_t = −∇f(w_t)ᵀu_t / (u_tᵀ∇²f(w_t)u_t), the minimiser of the quadratic
  model along u_t (clipped at 0 for ascent directions, as CDAT does).
  Keyword arguments other than σ are those of :func:`scale_by_cdat`.
  """
  if "sigma" in kwargs:
    raise ValueError("the quadratically greedy rule fixes sigma = 1; use "
                     "scale_by_cdat for other scales")
  return scale_by_cdat(1.0, **kwargs)


# ----------------------------------------------------------------- Armijo --


class ArmijoState(NamedTuple):
  """State of :func:`scale_by_armijo`."""

  stats: api.TunerStats  # learning_rate f32[] = η_t^ls; value_evals i32[]
  prev_learning_rate: jax.Array  # f[], η_{t−1}^ls (0 before the first step)
  accepted: jax.Array  # bool[], whether the last search met the criterion


def scale_by_armijo(
    *, c: float = 1e-4, delta: float = 0.0, c_plus: float = math.inf,
    c_minus: float = 0.8, max_backtracking_steps: int = 100,
    max_learning_rate: float = 1.0) -> optax.GradientTransformationExtraArgs:
  """Backtracking linesearch on the Armijo criterion (paper Eq. 1, App. C).

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
  if not (isinstance(c, (int, float)) and c >= 0):
    raise ValueError(f"c must be a number >= 0, got {c!r}")
  if not (isinstance(delta, (int, float)) and delta >= 0):
    raise ValueError(f"delta must be a number >= 0, got {delta!r}")
  if not (isinstance(c_plus, (int, float)) and c_plus >= 1):
    raise ValueError(f"c_plus must be a number >= 1 or inf, got {c_plus!r}")
  if not (isinstance(c_minus, (int, float)) and 0 < c_minus < 1):
    raise ValueError(f"c_minus must be a number in (0, 1), got {c_minus!r}")
  _check_int("max_backtracking_steps", max_backtracking_steps, 0)
  _check_positive("max_learning_rate", max_learning_rate)

  def init(params):
    dtype = _float_dtype(params)
    return ArmijoState(stats=api.tuner_stats(0.0),
                       prev_learning_rate=_scalar(0.0, dtype),
                       accepted=jnp.asarray(True))

  def update(updates, state, params=None, *, value=None, grad=None,
             value_fn=None, **extra):
    del extra
    _require("scale_by_armijo", value=value, grad=grad, value_fn=value_fn,
             params=params)
    dtype = state.prev_learning_rate.dtype
    value = jnp.asarray(value, dtype)
    slope = optax.tree.vdot(grad, updates).astype(dtype)
    prev = state.prev_learning_rate
    if math.isinf(c_plus):
      guess = _scalar(max_learning_rate, dtype)
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


# ----------------------------------------------------------------- Polyak --

POLYAK_NORMALIZERS = ("grad", "direction")


class PolyakState(NamedTuple):
  """State of :func:`scale_by_polyak`."""

  stats: api.TunerStats  # learning_rate f32[] = η_t; no extra evaluations


def scale_by_polyak(
    *, f_star: float = 0.0, max_learning_rate: float = 1.0,
    normalizer: str = "grad") -> optax.GradientTransformationExtraArgs:
  """Polyak stepsize (paper Eq. 14).

  η_t = min{(f(w_t) − f*) / ‖∇f(w_t)‖², η_max}, clipped below at 0 (for
  f(w_t) < f*) and η_max where ∇f = 0.  For GD (u = −g) this is the paper's
  rule.  ``normalizer="direction"`` uses −∇f(w_t)ᵀu_t instead of ‖∇f‖²
  (the step that zeroes the linear model f + η gᵀu − f*, equal to Eq. 14 for
  GD and scale-consistent for preconditioned directions; η = 0 when u is not
  a descent direction).

  Args:
    f_star: f* (0 in the paper: networks can fit the data).
    max_learning_rate: η_max > 0 (paper: {1, 100}).
    normalizer: ``grad`` (Eq. 14) or ``direction``.
  """
  _check_positive("max_learning_rate", max_learning_rate)
  if not isinstance(f_star, (int, float)):
    raise ValueError(f"f_star must be a number, got {f_star!r}")
  if normalizer not in POLYAK_NORMALIZERS:
    raise ValueError(f"normalizer must be one of {POLYAK_NORMALIZERS}, got "
                     f"{normalizer!r}")

  def init(params):
    del params
    return PolyakState(stats=api.tuner_stats(0.0))

  def update(updates, state, params=None, *, value=None, grad=None, **extra):
    del params, extra, state
    _require("scale_by_polyak", value=value, grad=grad)
    dtype = _float_dtype(updates)
    gap = jnp.asarray(value, dtype) - f_star
    if normalizer == "grad":
      den = optax.tree.vdot(grad, grad).astype(dtype)
      eta = jnp.where(den > 0, _safe_div(gap, den), max_learning_rate)
    else:
      den = -optax.tree.vdot(grad, updates).astype(dtype)
      eta = _safe_div(gap, den)
    eta = jnp.clip(eta, 0.0, max_learning_rate).astype(dtype)
    return optax.tree.scale(eta, updates), PolyakState(api.tuner_stats(eta))

  return optax.GradientTransformationExtraArgs(init, update)


# ---------------------------------------------------------- hypergradient --


class HypergradientState(NamedTuple):
  """State of :func:`scale_by_hypergradient`."""

  stats: api.TunerStats  # learning_rate f32[] = η_t; no extra evaluations
  count: jax.Array  # i32[], steps taken
  learning_rate: jax.Array  # f[], η_{t−1} (η_0 before the first step)
  prev_updates: Any  # pytree like params, u_{t−1}


def scale_by_hypergradient(
    learning_rate: float, *,
    beta: float = 1e-2) -> optax.GradientTransformationExtraArgs:
  """Multiplicative hypergradient descent (paper Eq. 15; Baydin et al. 2017).

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
  _check_positive("learning_rate", learning_rate)
  _check_unit("beta", beta, closed=True)

  def init(params):
    dtype = _float_dtype(params)
    return HypergradientState(
        stats=api.tuner_stats(learning_rate),
        count=jnp.asarray(0, jnp.int32),
        learning_rate=_scalar(learning_rate, dtype),
        prev_updates=optax.tree.zeros_like(params))

  def update(updates, state, params=None, *, grad=None, **extra):
    del params, extra
    _require("scale_by_hypergradient", grad=grad)
    dtype = state.learning_rate.dtype
    dot = optax.tree.vdot(grad, state.prev_updates).astype(dtype)
    norms = (optax.tree.norm(grad) * optax.tree.norm(state.prev_updates))
    cosine = _safe_div(dot, norms.astype(dtype))
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


# -------------------------------------------------------- exact sharpness --


class ExactSharpnessState(NamedTuple):
  """State of :func:`scale_by_exact_sharpness`."""

  stats: api.TunerStats  # learning_rate f32[] = η_t; hvp_evals i32[]
  count: jax.Array  # i32[], steps taken
  sharpness: jax.Array  # f[], the latest λ_max estimate
  key: jax.Array  # u32[2], PRNG key for the eigen-solver's start vectors


def _top_eigenvalue(value_fn, params, *, num_iters, key, method):
  # Imported here: sharpness.py is an independent module (another owner).
  from edgeperf.submissions import sharpness  # pylint: disable=g-import-not-at-top
  return sharpness.top_eigenvalue(value_fn, params, num_iters=num_iters,
                                  key=key, method=method)


def scale_by_exact_sharpness(
    sigma: float = 2.0, *, every_k: int = 1, num_iters: int = 20,
    method: str = "lanczos",
    seed: int = 0) -> optax.GradientTransformationExtraArgs:
  """Exact-sharpness rule (paper Eq. 16): η_t = σ / λ_max(∇²f(w_t)).

  λ_max comes from ``num_iters`` Hessian-vector products of Lanczos (or power)
  iterations (:func:`edgeperf.submissions.sharpness.top_eigenvalue`),
  recomputed at steps t ≡ 0 (mod k) inside ``lax.cond`` and reused in
  between.  η = σ/|λ| (0 if λ = 0).  The Hessian is that of f itself, not
  the preconditioned one: for RMSProp/Adam directions the relevant sharpness
  is λ_max(P^{-1/2}∇²f P^{-1/2}) (PAPER.md), which this rule does not see.

  Args:
    sigma: σ > 0 (σ = 2 performs poorly, σ ≈ 3 can beat constant rates).
    every_k: refresh period k ≥ 1.
    num_iters: HVPs per refresh (counted in ``hvp_evals``).
    method: ``lanczos`` or ``power``.
    seed: seed of the start vectors.
  """
  _check_positive("sigma", sigma)
  _check_int("every_k", every_k, 1)
  _check_int("num_iters", num_iters, 1)
  if method not in ("lanczos", "power"):
    raise ValueError(f"method must be 'lanczos' or 'power', got {method!r}")
  _check_int("seed", seed, 0)

  def init(params):
    dtype = _float_dtype(params)
    return ExactSharpnessState(
        stats=api.tuner_stats(0.0), count=jnp.asarray(0, jnp.int32),
        sharpness=_scalar(0.0, dtype), key=jax.random.PRNGKey(seed))

  def update(updates, state, params=None, *, value_fn=None, **extra):
    del extra
    _require("scale_by_exact_sharpness", value_fn=value_fn, params=params)
    dtype = state.sharpness.dtype
    key, sub = jax.random.split(state.key)
    refresh = state.count % every_k == 0
    lam = jax.lax.cond(
        refresh,
        lambda: _top_eigenvalue(value_fn, params, num_iters=num_iters,
                                key=sub, method=method).astype(dtype),
        lambda: state.sharpness)
    eta = (sigma * _safe_div(jnp.asarray(1.0, dtype), jnp.abs(lam)))
    eta = eta.astype(dtype)
    stats = api.tuner_stats(eta, hvp_evals=jnp.where(refresh, num_iters, 0))
    return optax.tree.scale(eta, updates), ExactSharpnessState(
        stats=stats, count=state.count + 1, sharpness=lam, key=key)

  return optax.GradientTransformationExtraArgs(init, update)


# -------------------------------------------------------------- schedules --

SCHEDULE_SHAPES = ("constant", "linear", "cosine")


def warmup_schedule(shape: str, *, peak_learning_rate: float,
                    warmup_steps: int, horizon: int) -> optax.Schedule:
  """Linear warm-up from 0 to the peak over ``warmup_steps``, then (App. C.5):

  * ``constant``: the peak for ever;
  * ``linear``: linear decay to 0 at step ``horizon``, then 0;
  * ``cosine``: cosine decay to 0 at step ``horizon``, then 0.
  """
  if shape not in SCHEDULE_SHAPES:
    raise ValueError(f"shape must be one of {SCHEDULE_SHAPES}, got {shape!r}")
  _check_positive("peak_learning_rate", peak_learning_rate)
  _check_int("warmup_steps", warmup_steps, 0)
  _check_int("horizon", horizon, 1)
  if warmup_steps > horizon:
    raise ValueError(f"warmup_steps ({warmup_steps}) exceeds the horizon "
                     f"({horizon})")
  if shape == "cosine":
    return optax.warmup_cosine_decay_schedule(
        0.0, peak_learning_rate, warmup_steps, horizon, end_value=0.0)
  warm = optax.linear_schedule(0.0, peak_learning_rate, max(warmup_steps, 1))
  if shape == "constant":
    after = optax.constant_schedule(peak_learning_rate)
  else:
    after = optax.linear_schedule(peak_learning_rate, 0.0,
                                  max(horizon - warmup_steps, 1))
  if warmup_steps == 0:
    return after
  return optax.join_schedules([warm, after], [warmup_steps])


class ScheduleState(NamedTuple):
  """State of :func:`scale_by_learning_rate_schedule`."""

  stats: api.TunerStats  # learning_rate f32[] = η_t = schedule(t)
  count: jax.Array  # i32[], steps taken


def scale_by_learning_rate_schedule(
    schedule: optax.Schedule) -> optax.GradientTransformationExtraArgs:
  """w_{t+1} = w_t + schedule(t) u_t, the rate exposed in TunerStats."""
  if not callable(schedule):
    raise ValueError(f"schedule must be callable step -> rate, got "
                     f"{schedule!r}")

  def init(params):
    del params
    return ScheduleState(stats=api.tuner_stats(schedule(0)),
                         count=jnp.asarray(0, jnp.int32))

  def update(updates, state, params=None, **extra):
    del params, extra
    eta = jnp.asarray(schedule(state.count), _float_dtype(updates))
    return optax.tree.scale(eta, updates), ScheduleState(
        stats=api.tuner_stats(eta), count=state.count + 1)

  return optax.GradientTransformationExtraArgs(init, update)


# ------------------------------------------------------ fractal Chebyshev --

CHEBYSHEV_ORDERS = ("fractal", "increasing", "decreasing")


def fractal_order(n: int) -> np.ndarray:
  """The fractal permutation σ_n of {1..n} (Agarwal, Goel & Zhang 2021).

  σ_1 = [1], σ_{2n} = interleave(σ_n, 2n + 1 − σ_n); e.g. σ_4 = [1, 4, 2, 3],
  σ_8 = [1, 8, 4, 5, 2, 7, 3, 6].  ``n`` must be a power of 2.
  """
  _check_int("n", n, 1)
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
  if order not in CHEBYSHEV_ORDERS:
    raise ValueError(f"order must be one of {CHEBYSHEV_ORDERS}, got "
                     f"{order!r}")
  if order == "fractal":
    idx = fractal_order(horizon)
  elif order == "decreasing":
    _check_int("horizon", horizon, 1)
    idx = np.arange(1, horizon + 1)
  else:
    _check_int("horizon", horizon, 1)
    idx = np.arange(horizon, 0, -1)
  return np.cos((2 * idx - 1) * np.pi / (2 * horizon))


class FractalChebyshevState(NamedTuple):
  """State of :func:`scale_by_fractal_chebyshev`."""

  stats: api.TunerStats  # learning_rate f32[] = η_t = 1/γ_σ(t mod T)
  count: jax.Array  # i32[], steps taken
  max_curvature: jax.Array  # f[], M (given, or estimated at step 0)


def scale_by_fractal_chebyshev(
    horizon: int, *, min_curvature_ratio: float,
    max_curvature: float | None = None, order: str = "fractal",
    num_iters: int = 20, seed: int = 0) -> optax.GradientTransformationExtraArgs:
  """Fractal Chebyshev schedule (Agarwal, Goel & Zhang 2021; PAPER.md 9).

  η_t = 1/γ_{σ(j)}, j = t mod T + 1 (the cycle repeats after T steps), with
  γ_i = (M + m)/2 + (M − m)/2 · cos((2i − 1)π/(2T)), the Chebyshev nodes of
  [m, M], in the fractal order σ_T.  On a quadratic with spectrum in [m, M],
  T such GD steps shrink the error by at most 1/T_T((M + m)/(M − m)) (T_T the
  Chebyshev polynomial) whatever the order; the fractal order keeps the
  intermediate iterates bounded in floating point.

  Args:
    horizon: T, a power of 2.
    min_curvature_ratio: m/M ∈ (0, 1).
    max_curvature: M > 0, or None to estimate it at step 0 as λ_max(∇²f(w_0))
      by ``num_iters`` Lanczos HVPs (counted in ``hvp_evals``).  For
      non-GD directions M should be the preconditioned curvature; the
      estimate is of ∇²f itself.
    order: ``fractal`` (default), or ``increasing`` / ``decreasing`` step
      sizes (the unstable sorted orders, for comparison).
    num_iters: HVPs of the step-0 estimate.
    seed: seed of the estimate's start vector.
  """
  cosines = chebyshev_node_cosines(horizon, order)
  if not (isinstance(min_curvature_ratio, (int, float)) and
          0 < min_curvature_ratio < 1):
    raise ValueError("min_curvature_ratio must be a number in (0, 1), got "
                     f"{min_curvature_ratio!r}")
  if max_curvature is not None:
    _check_positive("max_curvature", max_curvature)
  _check_int("num_iters", num_iters, 1)

  def init(params):
    dtype = _float_dtype(params)
    big_m = 0.0 if max_curvature is None else max_curvature
    return FractalChebyshevState(
        stats=api.tuner_stats(0.0), count=jnp.asarray(0, jnp.int32),
        max_curvature=_scalar(big_m, dtype))

  def update(updates, state, params=None, *, value_fn=None, **extra):
    del extra
    dtype = state.max_curvature.dtype
    hvp_evals = jnp.asarray(0, jnp.int32)
    big_m = state.max_curvature
    if max_curvature is None:
      _require("scale_by_fractal_chebyshev", value_fn=value_fn, params=params)
      first = state.count == 0
      big_m = jax.lax.cond(
          first,
          lambda: jnp.abs(_top_eigenvalue(
              value_fn, params, num_iters=num_iters,
              key=jax.random.PRNGKey(seed), method="lanczos")).astype(dtype),
          lambda: state.max_curvature)
      hvp_evals = jnp.where(first, num_iters, 0).astype(jnp.int32)
    small_m = min_curvature_ratio * big_m
    cos = jnp.asarray(cosines, dtype)[state.count % horizon]
    gamma = 0.5 * (big_m + small_m) + 0.5 * (big_m - small_m) * cos
    eta = _safe_div(jnp.asarray(1.0, dtype), gamma).astype(dtype)
    return optax.tree.scale(eta, updates), FractalChebyshevState(
        stats=api.tuner_stats(eta, hvp_evals=hvp_evals),
        count=state.count + 1, max_curvature=big_m)

  return optax.GradientTransformationExtraArgs(init, update)


# ------------------------------------------------- parameter-free peers --


class ExposedState(NamedTuple):
  """State of :func:`expose_learning_rate`."""

  stats: api.TunerStats  # learning_rate f32[] = the inner's effective rate
  inner: Any  # the wrapped optimizer's state


def expose_learning_rate(
    inner: optax.GradientTransformation,
    learning_rate_fn: Callable[[Any, Any], jax.Array],
) -> optax.GradientTransformationExtraArgs:
  """Wraps ``inner``; TunerStats.learning_rate = learning_rate_fn(old, new).

  ``old`` and ``new`` are the inner state before and after the update, so
  the function can read whichever the inner applied (e.g. DoG's rate from
  the new state, Prodigy's d from the old one).  No extra evaluations.
  """
  inner = optax.with_extra_args_support(inner)

  def init(params):
    return ExposedState(stats=api.tuner_stats(0.0), inner=inner.init(params))

  def update(updates, state, params=None, **extra):
    new_updates, new_inner = inner.update(updates, state.inner, params,
                                          **extra)
    rate = learning_rate_fn(state.inner, new_inner)
    return new_updates, ExposedState(stats=api.tuner_stats(rate),
                                     inner=new_inner)

  return optax.GradientTransformationExtraArgs(init, update)
