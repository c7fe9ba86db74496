"""Free estimates of the directional curvature from consecutive steps.

Between two curvature refreshes a tuner sees, at every step, only f(w_t),
g_t = ∇f(w_t) and its direction u_t.  With the last step s = η_{t−1}u_{t−1}
and the gradient change y = g_t − g_{t−1}, three free Rayleigh-quotient
estimates ĉ ≈ u_tᵀ∇²f u_t/‖u_t‖² follow (O(#params) work: a few dot
products and one or two stored vectors):

* the value secant along u_{t−1} (exact on quadratics),
  ``vsec = 2(f_t − f_{t−1} − η_{t−1}g_{t−1}ᵀu_{t−1}) / (η_{t−1}²‖u_{t−1}‖²)``;
* the gradient secant ``gsec = sᵀy/‖s‖²`` and, reading the two secants as
  a cubic model of f along the segment (curvature varying linearly,
  φ''(τ) = a + bτ: vsec = a + b/3, gsec = a + b/2), the curvature at the
  segment's end, the current point: ``end = 4·gsec − 3·vsec``;
* the secant lower bound along the *new* direction: for a positive
  semi-definite segment-average Hessian H̄ with H̄s = y, Cauchy–Schwarz gives
  u_tᵀH̄u_t ≥ (u_tᵀy)²/(sᵀy), so ``klb = (u_tᵀy)²/(sᵀy ‖u_t‖²)`` (the
  curvature of the BFGS rank-one term yyᵀ/sᵀy, Nocedal & Wright 2006,
  Eq. 6.19).  It sees a sharp direction that the last step amplified into
  u_t, which the secants along u_{t−1} cannot.

:func:`hermite_krylov_quotient` takes ĉ = max(|vsec|, end, klb): each is a
lower estimate of a different part of the curvature, and an underestimate is
what makes a step size too large.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax


def _div(num: jax.Array, den: jax.Array) -> jax.Array:
  ok = den != 0
  return jnp.where(ok, num / jnp.where(ok, den, 1.0), 0.0)


class Step(NamedTuple):
  """What one step leaves for the next step's free curvature estimate."""

  value: jax.Array  # f(w_t)
  slope: jax.Array  # g_tᵀu_t
  sqnorm: jax.Array  # ‖u_t‖²
  grad: Any  # g_t (params-shaped)
  direction: Any  # u_t (params-shaped)


def hermite_krylov_quotient(now: Step, prev: Step,
                            prev_step: jax.Array) -> tuple[jax.Array,
                                                           jax.Array]:
  """ĉ_t = max(|vsec|, end, klb) (see the module docstring).

  Args:
    now: step t (f(w_t), g_tᵀu_t, ‖u_t‖², g_t, u_t).
    prev: the same at step t − 1.
    prev_step: η_{t−1} (w_t = w_{t−1} + η_{t−1}u_{t−1}).

  Returns:
    ``(ĉ_t, valid)``: ``valid`` is False where there is no previous step
    (η_{t−1} = 0 or u_{t−1} = 0) or the estimate is not finite.
  """
  dtype = now.slope.dtype
  g_uprev = optax.tree.vdot(now.grad, prev.direction).astype(dtype)
  gprev_u = optax.tree.vdot(prev.grad, now.direction).astype(dtype)
  vsec = _div(2.0 * (now.value - prev.value - prev_step * prev.slope),
              prev_step**2 * prev.sqnorm)
  gsec = _div(g_uprev - prev.slope, prev_step * prev.sqnorm)
  v = jnp.abs(vsec)
  end = 4.0 * gsec - 3.0 * vsec
  end = jnp.where(end > 0, end, v)
  s_y = prev_step * (g_uprev - prev.slope)  # sᵀy
  u_y = now.slope - gprev_u  # u_tᵀy
  klb = jnp.where(s_y > 0, _div(u_y**2, s_y * now.sqnorm), 0.0)
  quotient = jnp.maximum(jnp.maximum(v, end), klb)
  valid = (prev_step > 0) & (prev.sqnorm > 0) & jnp.isfinite(quotient)
  return quotient, valid
