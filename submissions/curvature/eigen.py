"""The sharpness λ_max(∇²f(w)): a solver applied to the Hessian operator.

* :func:`top_eigenvalue` — exactly ``num_iters`` Hessian-vector products:
  fixed cost and static shapes, usable inside ``jit`` and ``lax.scan`` (the
  exact-sharpness rule of Roulet et al. 2024, Eq. 16, and the fractal
  Chebyshev schedule's M).
* :func:`top_eigenpair` — to a tolerance, with the eigenvector (the
  diagnostics: sharpness, its alignment with the update).

For RMSProp/Adam the relevant quantity is the *preconditioned* sharpness
λ_max(P^{-1/2}∇²f P^{-1/2}), P = diag(sqrt(ν) + ε): pass
``diag_preconditioner``.
"""

from __future__ import annotations

from typing import Any

import jax
from jax.flatten_util import ravel_pytree

from edgeperf import _checks
from edgeperf.submissions.curvature import directional
from edgeperf.submissions.curvature import lanczos
from edgeperf.submissions.curvature import operators
from edgeperf.submissions.curvature import power

METHODS = ("lanczos", "power")
"""Names of the eigen-solvers."""


def _operator_and_start(value_fn, params, key, diag_preconditioner):
  matvec, dim, unravel = operators.hessian_operator(
      value_fn, params, diag_preconditioner=diag_preconditioner)
  flat, _ = ravel_pytree(params)
  return matvec, dim, unravel, operators.start_vector(key, dim, flat.dtype)


def top_eigenvalue(value_fn: directional.ValueFn, params: Any, *,
                   num_iters: int, key: jax.Array, method: str = "lanczos",
                   diag_preconditioner: Any | None = None,
                   unroll: bool = False) -> jax.Array:
  """λ_max(∇²f(w)) from exactly ``num_iters`` Hessian-vector products.

  Args:
    value_fn: params ↦ scalar objective f.
    params: the point w.
    num_iters: HVPs to spend (Python int ≥ 1); Lanczos caps it at the number
      of parameters.
    key: PRNG key of the Gaussian start vector.
    method: ``"lanczos"`` (top Ritz value) or ``"power"`` (the Rayleigh
      quotient after ``num_iters`` steps: the eigenvalue of largest modulus).
    diag_preconditioner: optional pytree of P's diagonal (entries > 0).
    unroll: unroll the Lanczos loop
      (:func:`~edgeperf.submissions.curvature.lanczos.lanczos_fixed`).

  Returns:
    The estimate, a scalar of the params' (flattened) dtype.
  """
  _checks.one_of("method", method, METHODS)
  _checks.integer("the iteration count", num_iters, low=1)
  matvec, dim, _, v0 = _operator_and_start(value_fn, params, key,
                                           diag_preconditioner)
  if method == "lanczos":
    result = lanczos.lanczos_fixed(matvec, v0, min(num_iters, dim),
                                   unroll=unroll)
    return lanczos.top_ritz(result).value
  _, history = power.power_fixed(matvec, v0, num_iters)
  return history[-1]


def top_eigenpair(value_fn: directional.ValueFn, params: Any, *,
                  key: jax.Array, method: str = "lanczos", tol: float = 1e-3,
                  max_iters: int | None = None,
                  diag_preconditioner: Any | None = None
                  ) -> tuple[jax.Array, Any, jax.Array]:
  """Tolerance-based λ_max and its eigenvector as a params-shaped pytree.

  Args:
    value_fn, params, key, diag_preconditioner: as :func:`top_eigenvalue`.
    method: ``"lanczos"`` (stop on relative Ritz residual ≤ tol, at most 100
      iterations by default) or ``"power"`` (the papers' reference: stop on
      relative change ≤ tol, at most 1000 iterations by default).
    tol: relative tolerance.
    max_iters: most HVPs (defaults above).

  Returns:
    ``(λ_max, eigenvector pytree (unit norm), number of HVPs)``.
  """
  _checks.one_of("method", method, METHODS)
  matvec, _, unravel, v0 = _operator_and_start(value_fn, params, key,
                                               diag_preconditioner)
  if method == "lanczos":
    pair = lanczos.lanczos_until(matvec, v0, tol=tol,
                                 max_iters=max_iters or 100)
  else:
    pair = power.power_until(matvec, v0, tol=tol, max_iters=max_iters or 1000)
  return pair.value, unravel(pair.vector), pair.num_hvps
