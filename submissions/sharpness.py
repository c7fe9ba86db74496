"""Eigen-solvers for the sharpness λ_max(∇²f(w)) on Hessian-vector products.

Sharpness (PAPER.md, Vocabulary) is the largest eigenvalue of the Hessian of
the objective; for RMSProp/Adam the relevant quantity is the *preconditioned*
sharpness λ_max(P^{-1/2} ∇²f P^{-1/2}) with P = diag(sqrt(ν_t) + ε).  Every
solver here touches the Hessian only through ∇²f(w)v, computed by
forward-over-reverse autodiff in :func:`edgeperf.submissions.curvature.hvp`,
on the parameters flattened with ``jax.flatten_util.ravel_pytree``.

Two solvers:

* **Lanczos** with full reorthogonalisation: after k HVPs the k×k tridiagonal
  T_k = V_kᵀ A V_k has eigenvalues (Ritz values) whose largest converges to
  λ_max far faster than power iteration (error ~ exp(−4k·sqrt(gap)) instead
  of ~ (λ₂/λ₁)^{2k}).
* **Power iteration** (the paper's reference, Sec. 3 / App. B: "up to 1000
  iterations, stop at 1e-3 relative change"): v ← Av/‖Av‖, λ ← vᵀAv.  It
  converges to the eigenvalue of largest *modulus*, which is λ_max whenever
  λ_max ≥ |λ_min| (the usual case in training).

Entry points:

* :func:`top_eigenvalue` — fixed iteration count, jittable, usable inside
  ``lax.cond`` (the exact-sharpness tuner, PAPER.md tuner 6, Eq. 16).
* :func:`lanczos_top_eigenpair` / :func:`power_iteration` — tolerance-based
  (``lax.while_loop``), for diagnostics; they also return the eigenvector and
  the number of HVPs spent.
* :func:`lanczos_tridiagonal` — the raw decomposition (benchmarks read the
  Ritz value after each step from it).
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
from jax.flatten_util import ravel_pytree

from edgeperf.submissions import curvature

ValueFn = Callable[[Any], jax.Array]
MatVec = Callable[[jax.Array], jax.Array]

METHODS = ("lanczos", "power")
"""Names of the eigen-solvers accepted by :func:`top_eigenvalue`."""


# ----------------------------------------------------------- operators ---

def flat_hessian_operator(
    value_fn: ValueFn, params: Any, *,
    diag_preconditioner: Any | None = None) -> tuple[MatVec, int, Any]:
  """The (optionally preconditioned) Hessian as a matvec on flat vectors.

  Without a preconditioner: v ↦ ∇²f(w)v.  With P = ``diag_preconditioner``
  (a pytree shaped like ``params``, entries > 0): v ↦ P^{-1/2} ∇²f(w)
  P^{-1/2} v, whose top eigenvalue is the preconditioned sharpness.

  Args:
    value_fn: params ↦ scalar objective f.
    params: the point w (a pytree of float arrays).
    diag_preconditioner: optional pytree of the diagonal of P, same structure
      and shapes as ``params``.

  Returns:
    ``(matvec, dim, unravel)``: matvec on flat vectors of length ``dim``
    (dtype of the flattened params) and the function mapping a flat vector
    back to a params-shaped pytree.

  Raises:
    ValueError: params with no entries, or a preconditioner whose structure
      differs from params.
  """
  flat, unravel = ravel_pytree(params)
  dim = int(flat.shape[0])
  if dim == 0:
    raise ValueError("params has no entries; the Hessian is empty")

  def hvp_flat(v):
    out, _ = ravel_pytree(curvature.hvp(value_fn, params, unravel(v)))
    return out.astype(flat.dtype)

  if diag_preconditioner is None:
    return hvp_flat, dim, unravel
  if (jax.tree.structure(diag_preconditioner) != jax.tree.structure(params)):
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


def _start_vector(key: jax.Array, dim: int, dtype: Any) -> jax.Array:
  v = jax.random.normal(key, (dim,), dtype)
  return v / jnp.linalg.norm(v)


def _dtype_of(params: Any) -> Any:
  flat, _ = ravel_pytree(params)
  return flat.dtype


# ------------------------------------------------------------- Lanczos ---

class LanczosResult(NamedTuple):
  """A Lanczos decomposition A V_mᵀ ≈ V_mᵀ T_m (rows of V orthonormal)."""

  basis: jax.Array  # f[k, n], Lanczos vectors as rows (zero past num_steps)
  diag: jax.Array  # f[k], α_j = v_jᵀ A v_j (padded past num_steps, see below)
  offdiag: jax.Array  # f[k-1], β_j between v_j and v_{j+1} (0 past num_steps)
  num_steps: jax.Array  # i32[], m: steps before breakdown (≤ k)
  residual_norm: jax.Array  # f[], β_m: norm of the residual after step m


def _pad_tridiagonal(diag, offdiag, num_steps):
  """Pads T past ``num_steps`` so that its top eigenvalue is unchanged.

  The padded diagonal entries are set below α_0 = v_0ᵀAv_0; since the largest
  eigenvalue of the active block T_m is ≥ its (0, 0) entry α_0, they cannot
  become the maximum, and with zero off-diagonals they decouple.
  """
  k = diag.shape[0]
  idx = jnp.arange(k)
  pad = diag[0] - 1.0 - jnp.abs(diag[0])
  diag = jnp.where(idx < num_steps, diag, pad)
  offdiag = jnp.where(idx[:-1] < num_steps - 1, offdiag, 0.0)
  return diag, offdiag


def _tridiag_dense(diag, offdiag):
  return jnp.diag(diag) + jnp.diag(offdiag, 1) + jnp.diag(offdiag, -1)


def _lanczos_step(matvec, j, carry):
  """One Lanczos step with full (twice-applied Gram–Schmidt) reorthogonalisation.

  w = A v_j; α_j = v_jᵀw; w ← w − Vᵀ(V w) (twice: "twice is enough");
  β_j = ‖w‖; v_{j+1} = w / β_j.  A step whose β_j ≤ sqrt(eps)·scale is a
  breakdown (an invariant subspace was found, or the space is exhausted):
  later steps are inactive.
  """
  basis, diag, offdiag, v, active, num_steps, beta_last, scale = carry
  dtype = basis.dtype
  basis = basis.at[j].set(jnp.where(active, v, jnp.zeros_like(v)))
  w = matvec(v)
  alpha = jnp.vdot(v, w)
  w = w - basis.T @ (basis @ w)
  w = w - basis.T @ (basis @ w)
  beta = jnp.linalg.norm(w)
  scale = jnp.maximum(scale, jnp.maximum(jnp.abs(alpha), beta))
  broke = beta <= jnp.sqrt(jnp.finfo(dtype).eps) * scale
  diag = diag.at[j].set(jnp.where(active, alpha, 0.0))
  offdiag = offdiag.at[j].set(jnp.where(active & ~broke, beta, 0.0))
  num_steps = num_steps + active.astype(jnp.int32)
  beta_last = jnp.where(active, jnp.where(broke, 0.0, beta), beta_last)
  safe = jnp.where(beta > 0, beta, 1.0)
  v = jnp.where(active & ~broke, w / safe, jnp.zeros_like(w))
  active = active & ~broke
  return basis, diag, offdiag, v, active, num_steps, beta_last, scale


def _lanczos_init(v0, k):
  n, dtype = v0.shape[0], v0.dtype
  v = v0 / jnp.linalg.norm(v0)
  return (jnp.zeros((k, n), dtype), jnp.zeros((k,), dtype),
          jnp.zeros((k,), dtype), v, jnp.asarray(True),
          jnp.asarray(0, jnp.int32), jnp.asarray(0.0, dtype),
          jnp.asarray(0.0, dtype))


def _lanczos_result(carry) -> LanczosResult:
  basis, diag, offdiag, _, _, num_steps, beta_last, _ = carry
  diag, off = _pad_tridiagonal(diag, offdiag[:-1], num_steps)
  return LanczosResult(basis=basis, diag=diag, offdiag=off,
                       num_steps=num_steps, residual_norm=beta_last)


def lanczos_tridiagonal(matvec: MatVec, v0: jax.Array,
                        num_iters: int) -> LanczosResult:
  """Runs ``num_iters`` Lanczos steps (one matvec each) from ``v0``.

  Full reorthogonalisation against all previous Lanczos vectors keeps V
  orthonormal in floating point, so no spurious ("ghost") copies of λ_max
  appear.  Jittable; the loop is a ``lax.fori_loop`` of fixed length.

  Args:
    matvec: symmetric linear operator on flat vectors of ``v0``'s shape.
    v0: nonzero start vector, f[n].
    num_iters: number of steps k ≥ 1 (a Python int).

  Returns:
    A :class:`LanczosResult`; the leading ``num_steps`` block of T is the
    Lanczos tridiagonal, the rest is padding that leaves its top eigenvalue
    unchanged.
  """
  _check_iters(num_iters)
  carry = _lanczos_init(v0, num_iters)
  carry = jax.lax.fori_loop(
      0, num_iters, lambda j, c: _lanczos_step(matvec, j, c), carry)
  return _lanczos_result(carry)


def _ritz_top(result: LanczosResult):
  """Top Ritz value θ, Ritz vector y = Vᵀs and residual bound β_m·|s_{m−1}|."""
  evals, evecs = jnp.linalg.eigh(_tridiag_dense(result.diag, result.offdiag))
  s = evecs[:, -1]
  theta = evals[-1]
  y = result.basis.T @ s
  y = y / jnp.linalg.norm(y)
  last = jnp.take(s, jnp.maximum(result.num_steps - 1, 0))
  return theta, y, result.residual_norm * jnp.abs(last)


class Eigenpair(NamedTuple):
  """A top eigenpair estimate and what it cost."""

  value: jax.Array  # f[], estimate of λ_max
  vector: jax.Array  # f[n], unit eigenvector estimate (flat)
  num_hvps: jax.Array  # i32[], Hessian-vector products spent
  residual: jax.Array  # f[], ‖Av − λv‖ (Lanczos bound) or last |Δλ| (power)


def lanczos_top_eigenpair(matvec: MatVec, v0: jax.Array, *,
                          tol: float = 1e-3, max_iters: int = 100) -> Eigenpair:
  """Lanczos until the top Ritz pair's residual is below ``tol``·|θ|.

  The residual of the top Ritz pair (θ, y) is ‖Ay − θy‖ = β_m |s_{m−1}|
  (s: eigenvector of T_m), available without another matvec; some eigenvalue
  of A lies within that distance of θ, and the eigenvalue error is at most
  residual²/gap, so this stop is conservative.  Stops early on breakdown.

  Args:
    matvec: symmetric operator on flat vectors.
    v0: nonzero start vector, f[n].
    tol: relative residual tolerance (> 0).
    max_iters: most matvecs (Python int ≥ 1; capped at n).

  Returns:
    :class:`Eigenpair` (value θ, Ritz vector, matvecs used, residual norm).
  """
  if not tol > 0:
    raise ValueError(f"tol must be > 0, got {tol!r}")
  _check_iters(max_iters)
  k = min(max_iters, int(v0.shape[0]))

  def cond(state):
    carry, j, done = state
    return (j < k) & ~done

  def body(state):
    carry, j, _ = state
    carry = _lanczos_step(matvec, j, carry)
    theta, _, resid = _ritz_top(_lanczos_result(carry))
    done = (resid <= tol * jnp.abs(theta)) | ~carry[4]
    return carry, j + 1, done

  carry, _, _ = jax.lax.while_loop(
      cond, body, (_lanczos_init(v0, k), jnp.asarray(0, jnp.int32),
                   jnp.asarray(False)))
  result = _lanczos_result(carry)
  theta, y, resid = _ritz_top(result)
  return Eigenpair(value=theta, vector=y, num_hvps=result.num_steps,
                   residual=resid)


# ------------------------------------------------------ power iteration ---

def power_iteration(matvec: MatVec, v0: jax.Array, *, tol: float = 1e-3,
                    max_iters: int = 1000) -> Eigenpair:
  """Power iteration with the paper's stop (PAPER.md, protocol).

  v_0 = v0/‖v0‖; each iteration: w = A v_k, λ_k = v_kᵀw, v_{k+1} = w/‖w‖;
  stop at |λ_k − λ_{k−1}| ≤ tol·|λ_k| or after ``max_iters`` matvecs.

  Returns:
    :class:`Eigenpair` with value λ_k (Rayleigh quotient), the unit vector
    v_k, matvecs used and the last |λ_k − λ_{k−1}|.
  """
  if not tol > 0:
    raise ValueError(f"tol must be > 0, got {tol!r}")
  _check_iters(max_iters)
  dtype = v0.dtype
  v = v0 / jnp.linalg.norm(v0)

  def cond(state):
    _, lam, lam_prev, i = state
    converged = jnp.abs(lam - lam_prev) <= tol * jnp.abs(lam)
    return (i < max_iters) & ((i < 2) | ~converged)

  def body(state):
    v, lam, _, i = state
    w = matvec(v)
    lam_new = jnp.vdot(v, w)
    norm = jnp.linalg.norm(w)
    v_new = jnp.where(norm > 0, w / jnp.where(norm > 0, norm, 1.0), v)
    return v_new, lam_new, lam, i + 1

  inf = jnp.asarray(jnp.inf, dtype)
  state = (v, inf, inf, jnp.asarray(0, jnp.int32))
  # v_out is one matvec past λ's vector: Av/‖Av‖ is the better eigenvector.
  v_out, lam, lam_prev, iters = jax.lax.while_loop(cond, body, state)
  return Eigenpair(value=lam, vector=v_out, num_hvps=iters,
                   residual=jnp.abs(lam - lam_prev))


# ------------------------------------------------------- entry points ---

def _check_iters(num_iters: Any) -> None:
  if not isinstance(num_iters, int) or isinstance(num_iters, bool) or (
      num_iters < 1):
    raise ValueError(
        f"the iteration count must be a Python int >= 1, got {num_iters!r}")


def top_eigenvalue(value_fn: ValueFn, params: Any, *, num_iters: int,
                   key: jax.Array, method: str = "lanczos",
                   diag_preconditioner: Any | None = None) -> jax.Array:
  """λ_max(∇²f(w)) from exactly ``num_iters`` Hessian-vector products.

  The sharpness used by the exact-sharpness tuner η = σ/λ_max (Eq. 16).
  Fixed cost and static shapes: works under ``jit``, ``vmap`` and inside
  ``lax.cond`` / ``lax.scan``.  With ``diag_preconditioner`` = P it returns
  λ_max(P^{-1/2} ∇²f P^{-1/2}).

  Args:
    value_fn: params ↦ scalar objective f.
    params: the point w.
    num_iters: HVPs to spend (Python int ≥ 1).  For Lanczos it is capped at
      the number of parameters.
    key: PRNG key for the Gaussian start vector.
    method: ``"lanczos"`` (top Ritz value of the k-step Lanczos tridiagonal,
      full reorthogonalisation) or ``"power"`` (Rayleigh quotient after k
      power steps; the eigenvalue of largest modulus).
    diag_preconditioner: optional pytree of P's diagonal (entries > 0).

  Returns:
    The estimate, a scalar of the params' (flattened) dtype.

  Raises:
    ValueError: unknown method or a bad iteration count.
  """
  if method not in METHODS:
    raise ValueError(f"unknown method {method!r}; expected one of {METHODS}")
  _check_iters(num_iters)
  matvec, dim, _ = flat_hessian_operator(
      value_fn, params, diag_preconditioner=diag_preconditioner)
  v0 = _start_vector(key, dim, _dtype_of(params))
  if method == "lanczos":
    result = lanczos_tridiagonal(matvec, v0, min(num_iters, dim))
    return jnp.linalg.eigvalsh(
        _tridiag_dense(result.diag, result.offdiag))[-1]

  def body(_, carry):
    v, _ = carry
    w = matvec(v)
    norm = jnp.linalg.norm(w)
    return jnp.where(norm > 0, w / jnp.where(norm > 0, norm, 1.0), v), \
        jnp.vdot(v, w)

  _, lam = jax.lax.fori_loop(0, num_iters, body,
                             (v0, jnp.asarray(0.0, v0.dtype)))
  return lam


def top_eigenpair(value_fn: ValueFn, params: Any, *, key: jax.Array,
                  method: str = "lanczos", tol: float = 1e-3,
                  max_iters: int | None = None,
                  diag_preconditioner: Any | None = None
                  ) -> tuple[jax.Array, Any, jax.Array]:
  """Tolerance-based λ_max and its eigenvector as a params-shaped pytree.

  Args:
    value_fn, params, key, diag_preconditioner: as :func:`top_eigenvalue`.
    method: ``"lanczos"`` (stop on relative Ritz residual ≤ tol, default
      100 iterations at most) or ``"power"`` (paper reference: stop on
      relative change ≤ tol, default 1000 iterations at most).
    tol: relative tolerance.
    max_iters: most HVPs (defaults above).

  Returns:
    ``(λ_max, eigenvector pytree (unit norm), number of HVPs)``.
  """
  if method not in METHODS:
    raise ValueError(f"unknown method {method!r}; expected one of {METHODS}")
  matvec, dim, unravel = flat_hessian_operator(
      value_fn, params, diag_preconditioner=diag_preconditioner)
  v0 = _start_vector(key, dim, _dtype_of(params))
  if method == "lanczos":
    pair = lanczos_top_eigenpair(matvec, v0, tol=tol,
                                 max_iters=max_iters or 100)
  else:
    pair = power_iteration(matvec, v0, tol=tol, max_iters=max_iters or 1000)
  return pair.value, unravel(pair.vector), pair.num_hvps
