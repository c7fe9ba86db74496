"""Curvature diagnostics of a run: the traces the papers read their argument off.

Every ``diag_every`` steps the runner calls the function built by
:func:`make_diagnostics_fn` at (w_t, s_t) — outside the submission clock —
and appends the row it returns to ``diagnostics.csv``.  Nothing here changes
the training state: the update is recomputed on copies of the optimiser state.

Objective: the full training objective in full batch; in mini-batch, the
objective on a fixed evaluation subset, the first ≤ 1024 training examples
(as Cohen et al., 2021, measure sharpness).

Columns of a row (all floats):

* ``step``: t.  ``objective``: f(w_t) on the diagnostic batch.
* ``learning_rate``: η_t the tuner applies at w_t (recomputed, read with
  :func:`edgeperf.submissions.api.step_info` from the updated state copy).
* ``grad_norm``: ‖∇f(w_t)‖.
* ``sharpness``: λ_max(∇²f(w_t)) (Lanczos, or power iteration as in the
  paper); ``sharpness_hvps``: HVPs it spent.
* ``eta_sharpness``: η_t·λ_max — the edge of stability for GD is 2.
* ``precond_sharpness``: λ_max(P^{-1/2}∇²f P^{-1/2}), P = diag(sqrt(ν̂)+ε)
  from the tuner's second-moment state (RMSProp/Adam; NaN when the state has
  no ``nu``), and ``eta_precond_sharpness`` = η_t times it.
* ``uhu``: u_tᵀ∇²f(w_t)u_t for the direction u_t = Δ_t/η_t (the CDAT
  denominator, Eq. 8); ``update_curvature``: uᵀ∇²f u/‖u‖², the curvature
  along the update on the scale of λ_max.
* ``alignment``: |cos(u_t, v_max)|, v_max the top eigenvector (Roulet et
  al. 2024, Fig. 15: why the exact-sharpness rule needs σ ≈ 3).
* ``update_cosine``: cos(Δ_t, Δ_{t+1}) between successive updates (Fig. 17:
  ≈ −1 when the optimiser oscillates across a valley at the edge), with
  Δ_{t+1} computed at w_t + Δ_t from the state copy s_{t+1}.
* ``qg_decrease``, ``edge_decrease``: f(w_t) − f(w_t + η u_t) for one
  quadratically greedy step, η_qg = max(−g_tᵀu_t, 0)/|u_tᵀ∇²f u_t| (Eq. 3),
  and for one on-edge step, η = 2η_qg (CDAT σ = 2, Eq. 7): the one-step
  decreases of Fig. 16.

Measurements come in groups (:data:`MEASUREMENTS`), all by default; a
column whose group is not measured is NaN.  ``objective``,
``learning_rate`` and ``grad_norm`` are always measured.

The preconditioner: ν is taken from the state *after* the recomputed update
at w_t, i.e. the ν_t that divides the step actually taken from w_t.  For Adam
(and RMSProp with a step count) the bias-corrected ν̂_t = ν_t/(1 − b2^t) is
used, since that is what the update divides by: P^{-1} then is exactly the
preconditioner of the step, and η·λ_max(P^{-1/2}∇²f P^{-1/2}) compares to 2
as for GD.  Without a count (optax ``scale_by_rms``), ν is used as is.
"""

from __future__ import annotations

import functools
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np
import optax

from edgeperf import _checks
from edgeperf.harness import rundir
from edgeperf.harness import step as step_lib
from edgeperf.submissions import api
from edgeperf.submissions import curvature
from edgeperf.workloads import base

DiagnosticsFn = Callable[[Any, Any, int], dict[str, float]]

SUBSET_SIZE = 1024
"""Examples of the fixed mini-batch evaluation subset (first of the train set)."""

COLUMNS = rundir.DIAGNOSTIC_COLUMNS
"""The columns of ``diagnostics.csv``, in order (owned by the run folder)."""

MEASUREMENTS = {
    "sharpness": ("sharpness", "sharpness_hvps", "eta_sharpness",
                  "alignment"),
    "precond": ("precond_sharpness", "eta_precond_sharpness"),
    "update": ("uhu", "update_curvature", "update_cosine"),
    "one_step": ("qg_decrease", "edge_decrease"),
}
"""Groups of diagnostic columns, by the name :func:`make_diagnostics_fn`'s
``measure`` takes (``alignment`` needs the update direction as well; the
Lanczos solves of ``sharpness`` and ``precond`` are the costly parts)."""


def find_second_moment(opt_state: Any) -> tuple[Any, Any] | None:
  """The first second-moment estimate ν in an optimiser state, depth first.

  Finds NamedTuples with a ``nu`` field (optax ``ScaleByAdamState``,
  ``ScaleByRmsState``, and the counted RMS state).

  Returns:
    ``(nu, count)`` with count None when the state carries no step count
    (no bias correction), or None when no ``nu`` is found.
  """
  found = api.find_in_state(
      opt_state, lambda x: isinstance(x, tuple) and "nu" in getattr(
          x, "_fields", ()))
  if found is None:
    return None
  return found.nu, (found.count if "count" in found._fields else None)


def preconditioner_diagonal(opt_state: Any, *, eps: float = 1e-8,
                            decay: float = 0.999) -> Any | None:
  """P = sqrt(ν̂) + ε from an optimiser state (Roulet et al. 2024, Sec. 2).

  ν̂ = ν/(1 − decay^count) when the state holds a step count (Adam's bias
  correction, b2 = ``decay``), else ν.  None when the state has no ν.
  """
  found = find_second_moment(opt_state)
  if found is None:
    return None
  nu, count = found
  if count is not None:
    t = jnp.maximum(count, 1)
    nu = jax.tree.map(
        lambda n: n / (1.0 - jnp.asarray(decay, n.dtype) ** t.astype(n.dtype)),
        nu)
  return jax.tree.map(lambda n: jnp.sqrt(n) + eps, nu)


def diagnostic_batch(workload: base.Workload,
                     subset_size: int = SUBSET_SIZE) -> dict[str, jax.Array]:
  """Full train batch (full-batch regime) or its first ``subset_size``
  examples (mini-batch regime)."""
  if workload.regime.is_full_batch:
    return workload.full_train_batch()
  return {k: jnp.asarray(v[:subset_size]) for k, v in workload.train.items()}


def _cos(a: Any, b: Any) -> jax.Array:
  denom = optax.tree.norm(a) * optax.tree.norm(b)
  return jnp.where(denom > 0, optax.tree.vdot(a, b) / jnp.where(
      denom > 0, denom, 1.0), jnp.nan)


def curvature_row(value_fn: Callable[[Any], jax.Array],
                  tx: optax.GradientTransformationExtraArgs, params: Any,
                  opt_state: Any, key: jax.Array, *, method: str = "lanczos",
                  tol: float = 1e-3, max_iters: int | None = None,
                  eps: float = 1e-8, nu_decay: float = 0.999,
                  refresh: tuple[bool, bool] = (False, False),
                  measure: tuple[str, ...] = tuple(MEASUREMENTS)
                  ) -> dict[str, jax.Array]:
  """The diagnostics at (w_t, s_t) for objective ``value_fn`` (jittable).

  See the module docstring for the columns (all but ``step``).  ``refresh``
  says whether the tuner refreshes its curvature before step t and before
  step t + 1 (the harness's schedule), so the recomputed updates are the
  ones the run takes.  ``measure`` names the groups of
  :data:`MEASUREMENTS` to compute; the other columns are NaN.
  """
  value, grad, delta, state_next = step_lib.tuner_update(
      tx, value_fn, params, opt_state, refresh=refresh[0])
  eta = api.step_info(state_next)["learning_rate"]
  usable = jnp.isfinite(eta) & (eta != 0)
  # u_t = Δ_t/η_t; if the tuner exposes no usable η, use Δ_t itself.
  u = optax.tree.scale(jnp.where(usable, 1.0 / jnp.where(usable, eta, 1.0),
                                 1.0), delta)

  unknown = sorted(set(measure) - set(MEASUREMENTS))
  if unknown:
    raise ValueError(f"unknown diagnostic measurement(s) {unknown}; "
                     f"expected some of {sorted(MEASUREMENTS)}")
  nan = jnp.asarray(jnp.nan, value.dtype)
  row = {c: nan for c in COLUMNS if c != "step"}
  row.update(objective=value, learning_rate=eta,
             grad_norm=optax.tree.norm(grad))
  if "sharpness" in measure:
    lam, vec, hvps = curvature.top_eigenpair(
        value_fn, params, key=key, method=method, tol=tol,
        max_iters=max_iters)
    row.update(sharpness=lam, sharpness_hvps=hvps,
               eta_sharpness=eta * lam, alignment=jnp.abs(_cos(u, vec)))
  if "precond" in measure:
    precond = preconditioner_diagonal(state_next, eps=eps, decay=nu_decay)
    if precond is not None:
      p_lam, _, _ = curvature.top_eigenpair(
          value_fn, params, key=key, method=method, tol=tol,
          max_iters=max_iters, diag_preconditioner=precond)
      row.update(precond_sharpness=p_lam, eta_precond_sharpness=eta * p_lam)
  if "update" in measure or "one_step" in measure:
    uhu = curvature.uhu_hvp(value_fn, params, u)
  if "update" in measure:
    u_sq = optax.tree.norm(u, squared=True)
    params_next = optax.apply_updates(params, delta)
    _, _, delta_next, _ = step_lib.tuner_update(
        tx, value_fn, params_next, state_next, refresh=refresh[1])
    row.update(uhu=uhu, update_curvature=jnp.where(
        u_sq > 0, uhu / jnp.where(u_sq > 0, u_sq, 1.0), jnp.nan),
               update_cosine=_cos(delta, delta_next))
  if "one_step" in measure:
    row.update(one_step_decreases(value_fn, params, value, grad, u, uhu))
  return row


def one_step_decreases(value_fn: Callable[[Any], jax.Array], params: Any,
                       value: jax.Array, grad: Any, u: Any, uhu: jax.Array
                       ) -> dict[str, jax.Array]:
  """``qg_decrease`` and ``edge_decrease`` at w (Roulet et al. 2024, Fig. 16).

  f(w) − f(w + η u) for the quadratically greedy rate
  η_qg = max(−gᵀu, 0)/|uᵀ∇²f u| (Eq. 3) and for the on-edge rate 2η_qg
  (Eq. 7); both 0 when uᵀ∇²f u = 0.
  """
  num = jnp.maximum(-optax.tree.vdot(grad, u), 0.0)
  den = jnp.abs(uhu)
  eta_qg = jnp.where(den > 0, num / jnp.where(den > 0, den, 1.0), 0.0)

  def decrease(eta):
    return value - value_fn(optax.apply_updates(
        params, optax.tree.scale(eta, u)))

  return {"qg_decrease": decrease(eta_qg),
          "edge_decrease": decrease(2.0 * eta_qg)}


def make_diagnostics_fn(workload: base.Workload,
                        tx: optax.GradientTransformationExtraArgs, *,
                        seed: int = 0, method: str = "lanczos",
                        tol: float = 1e-3, max_iters: int | None = None,
                        subset_size: int = SUBSET_SIZE, eps: float = 1e-8,
                        nu_decay: float = 0.999,
                        measure: tuple[str, ...] = tuple(MEASUREMENTS)
                        ) -> DiagnosticsFn:
  """Builds ``(params, opt_state, step) -> row`` for the runner.

  Args:
    workload: picks the diagnostic batch (full batch, or the first
      ``subset_size`` training examples in mini-batch).
    tx: the tuner being run (its update is recomputed on state copies).
    seed: seeds the eigen-solver's start vector (folded with the step).
    method: ``lanczos`` (default; stop on 1e-3 relative Ritz residual) or
      ``power`` (the paper's: 1e-3 relative change, ≤ 1000 iterations).
    tol, max_iters: the solver's tolerance and HVP cap.
    subset_size: size of the mini-batch evaluation subset.
    eps, nu_decay: ε of P = sqrt(ν̂) + ε and the b2 of Adam's bias
      correction (the base optimizers' values, api.base_direction).
    measure: the groups of :data:`MEASUREMENTS` to compute (default: all);
      fewer is cheaper, and the other columns are NaN.

  Returns:
    The diagnostics function; its row holds :data:`COLUMNS`, all floats.
  """
  _checks.one_of("method", method, curvature.METHODS)
  _checks.integer("subset_size", subset_size, low=1)
  measure = tuple(measure)
  for name in measure:
    _checks.one_of("diagnostic measurement", name, sorted(MEASUREMENTS))
  batch = diagnostic_batch(workload, subset_size)
  root = jax.random.key(seed)

  refreshes = step_lib.refresh_schedule(tx)

  @functools.partial(jax.jit, static_argnames="refresh")
  def compute(params, opt_state, data, key, refresh):
    def value_fn(p):
      return workload.loss(p, data)
    return curvature_row(value_fn, tx, params, opt_state, key, method=method,
                         tol=tol, max_iters=max_iters, eps=eps,
                         nu_decay=nu_decay, refresh=refresh, measure=measure)

  def diagnostics_fn(params: Any, opt_state: Any, step: int
                     ) -> dict[str, float]:
    out = jax.device_get(compute(
        params, opt_state, batch, jax.random.fold_in(root, int(step)),
        refresh=(refreshes(step), refreshes(step + 1))))
    row = {"step": float(step)}
    row.update({k: float(np.asarray(out[k])) for k in COLUMNS if k != "step"})
    return row

  return diagnostics_fn
