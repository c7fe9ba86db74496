"""The Hessian ∇²f(w) as a linear operator on flat vectors.

Solvers (:mod:`.lanczos`, :mod:`.power`) see the Hessian only through a
matvec on vectors of the parameters flattened with
``jax.flatten_util.ravel_pytree``; each matvec is one Hessian-vector product
(:func:`.directional.hvp`).
"""

from __future__ import annotations

from typing import Any, Callable

import jax
import jax.numpy as jnp
from jax.flatten_util import ravel_pytree

from edgeperf.submissions.curvature import directional

MatVec = Callable[[jax.Array], jax.Array]


def hessian_operator(
    value_fn: directional.ValueFn, params: Any, *,
    diag_preconditioner: Any | None = None) -> tuple[MatVec, int, Any]:
  """The (optionally preconditioned) Hessian as a matvec on flat vectors.

  Without a preconditioner: v ↦ ∇²f(w)v.  With P = ``diag_preconditioner``
  (a pytree shaped like ``params``, entries > 0): v ↦ P^{-1/2} ∇²f(w)
  P^{-1/2} v, whose top eigenvalue is the preconditioned sharpness of
  RMSProp/Adam (Roulet et al. 2024, Sec. 2; Cohen et al. 2022).

  Returns:
    ``(matvec, dim, unravel)``: the matvec on flat vectors of length ``dim``
    (dtype of the flattened params) and the map from a flat vector back to a
    params-shaped pytree.

  Raises:
    ValueError: params with no entries, or a preconditioner whose structure
      differs from params.
  """
  flat, unravel = ravel_pytree(params)
  dim = int(flat.shape[0])
  if dim == 0:
    raise ValueError("params has no entries; the Hessian is empty")

  def hvp_flat(v):
    out, _ = ravel_pytree(directional.hvp(value_fn, params, unravel(v)))
    return out.astype(flat.dtype)

  if diag_preconditioner is None:
    return hvp_flat, dim, unravel
  if jax.tree.structure(diag_preconditioner) != jax.tree.structure(params):
    raise ValueError(
        "diag_preconditioner must have the same tree structure as params; got "
        f"{jax.tree.structure(diag_preconditioner)} vs "
        f"{jax.tree.structure(params)}")
  p_flat, _ = ravel_pytree(diag_preconditioner)
  if p_flat.shape != flat.shape:
    raise ValueError(f"diag_preconditioner has {p_flat.shape[0]} entries; "
                     f"params has {dim}")
  inv_sqrt = jax.lax.rsqrt(p_flat.astype(flat.dtype))

  def preconditioned(v):
    return inv_sqrt * hvp_flat(inv_sqrt * v)

  return preconditioned, dim, unravel


def start_vector(key: jax.Array, dim: int, dtype: Any) -> jax.Array:
  """A unit Gaussian start vector of length ``dim``."""
  v = jax.random.normal(key, (dim,), dtype)
  return v / jnp.linalg.norm(v)
