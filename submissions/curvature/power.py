"""Power iteration on a symmetric operator: one step, two drivers.

v_0 = v0/‖v0‖; each step w = A v_k, λ_k = v_kᵀw, v_{k+1} = w/‖w‖.  It
converges to the eigenvalue of largest *modulus*, which is λ_max whenever
``λ_max ≥ |λ_min|`` (the usual case in training).  It is the papers' reference
solver (Roulet et al. 2024, App. B: "up to 1000 iterations, stop at 1e-3
relative change").

* :func:`power_step` — the one step both drivers share.
* :func:`power_fixed` — exactly ``num_iters`` steps (``lax.scan``), every λ_k.
* :func:`power_until` — until ``|λ_k − λ_{k−1}| ≤ tol·|λ_k|``
  (``lax.while_loop``).
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from edgeperf import _checks
from edgeperf.submissions.curvature import operators


class Eigenpair(NamedTuple):
  """A top eigenpair estimate and what it cost."""

  value: jax.Array  # f[], estimate of λ_max
  vector: jax.Array  # f[n], unit eigenvector estimate (flat)
  num_hvps: jax.Array  # i32[], matvecs (Hessian-vector products) spent
  residual: jax.Array  # f[], ‖Av − λv‖ (Lanczos bound) or last |Δλ| (power)


def power_step(matvec: operators.MatVec,
               v: jax.Array) -> tuple[jax.Array, jax.Array]:
  """One step from a unit vector: ``(Av/‖Av‖, vᵀAv)`` (v kept if Av = 0)."""
  w = matvec(v)
  lam = jnp.vdot(v, w)
  norm = jnp.linalg.norm(w)
  return jnp.where(norm > 0, w / jnp.where(norm > 0, norm, 1.0), v), lam


def power_fixed(matvec: operators.MatVec, v0: jax.Array,
                num_iters: int) -> tuple[jax.Array, jax.Array]:
  """Exactly ``num_iters`` steps (fixed cost, static shapes).

  Returns:
    ``(v, history)``: the last unit vector and f[num_iters], the Rayleigh
    quotient λ_k after each step (the estimate is ``history[-1]``).
  """
  _checks.integer("the iteration count", num_iters, low=1)
  v = v0 / jnp.linalg.norm(v0)
  return jax.lax.scan(lambda v, _: power_step(matvec, v), v, None,
                      length=num_iters)


def power_until(matvec: operators.MatVec, v0: jax.Array, *,
                tol: float = 1e-3, max_iters: int = 1000) -> Eigenpair:
  """Steps until ``|λ_k − λ_{k−1}| ≤ tol·|λ_k|`` or ``max_iters`` matvecs.

  Returns:
    :class:`Eigenpair` with value λ_k (Rayleigh quotient), the unit vector
    A v_k/‖A v_k‖ (one matvec past λ's vector: the better eigenvector),
    matvecs used and the last ``|λ_k − λ_{k−1}|``.
  """
  _checks.positive("tol", tol)
  _checks.integer("the iteration count", max_iters, low=1)
  inf = jnp.asarray(jnp.inf, v0.dtype)

  def cond(state):
    _, lam, lam_prev, i = state
    converged = jnp.abs(lam - lam_prev) <= tol * jnp.abs(lam)
    return (i < max_iters) & ((i < 2) | ~converged)

  def body(state):
    v, lam, _, i = state
    v_new, lam_new = power_step(matvec, v)
    return v_new, lam_new, lam, i + 1

  state = (v0 / jnp.linalg.norm(v0), inf, inf, jnp.asarray(0, jnp.int32))
  v_out, lam, lam_prev, iters = jax.lax.while_loop(cond, body, state)
  return Eigenpair(value=lam, vector=v_out, num_hvps=iters,
                   residual=jnp.abs(lam - lam_prev))
