"""The edge controller against the maths, on quadratics (float64).

On f(w) = ½wᵀAw − bᵀw every curvature is known: the signal is checked
against its definition, the closed loop against its fixed point
(η·λ_max = r* along the top eigenvector) and its error dynamics against
the PI recursion, whose stability region is Jury's triangle.
"""

import itertools
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from edgeperf.submissions import api
from edgeperf.submissions import loader
from edgeperf.submissions.cdat import scale_by_cdat
from edgeperf.submissions.edge_controller import scale_by_edge_controller
from edgeperf.submissions.edge_controller import stable_gains


def _lam_max(a):
  return float(np.linalg.eigvalsh(np.asarray(a))[-1])


def _rates(traj):
  """η_t as applied, in float64 (TunerStats holds it in float32)."""
  return np.array([float(s["state"].prev_lr) for s in traj])


def test_submission_defaults_and_schedule(quad):
  sub = loader.load("edge_controller")
  points = list(itertools.product(*(h.values for h in
                                    sub.search_space.hyperparameters)))
  assert len(points) <= 15
  assert {"gd", "adam"} <= set(dict(
      (h.name, h.values) for h in sub.search_space.hyperparameters
  )["base_optimizer"])
  tx = sub.build(sub.resolve({"set_point": 2.0, "ki": 0.5,
                              "base_optimizer": "gd"}))
  assert (tx.every_k, tx.warmup) == (10, 100)
  assert dict(tx.refresh_cost) == {"jvp_evals": 2}
  # Refreshed exactly at the warm-up steps, then every k.
  a, b, w = quad.quadratic()
  f = quad.objective(a, b)
  tx = sub.build(sub.resolve({"set_point": 2.0, "ki": 0.5, "every_k": 3,
                              "refresh_warmup": 2, "base_optimizer": "gd"}))
  traj, _ = quad.run(tx, f, w, 8, direction=jax.grad(f))
  assert [t for t, s in enumerate(traj) if s["info"]["jvp_evals"]] == [
      0, 1, 3, 6]


@pytest.mark.parametrize("every_k", [1, 10])
def test_signal_is_eta_times_rayleigh_quotient_for_gd(quad, every_k):
  """r_t = η_{t−1}·u_tᵀAu_t/‖u_t‖² for u = −g (exact at refreshes; with
  k = 10 the first two steps are refreshed too, warm-up 2)."""
  a, b, w = quad.quadratic()
  f = quad.objective(a, b)
  tx = scale_by_edge_controller(2.0, every_k=every_k, refresh_warmup=2)
  traj, _ = quad.run(tx, f, w, 2)
  eta0 = float(traj[0]["state"].prev_lr)
  u0, u1 = traj[0]["u"], traj[1]["u"]
  np.testing.assert_allclose(eta0, 2 * (u0 @ u0) / (u0 @ a @ u0), rtol=1e-12)
  np.testing.assert_allclose(traj[1]["state"].ratio,
                             eta0 * (u1 @ a @ u1) / (u1 @ u1), rtol=1e-12)


def test_signal_uses_the_preconditioned_quotient(quad):
  """For u = −P⁻¹g the signal is η·uᵀAu/uᵀPu (the preconditioned Rayleigh
  quotient), not the Euclidean η·uᵀAu/‖u‖²."""
  a, b, w = quad.quadratic()
  f = quad.objective(a, b)
  p = jnp.linspace(0.5, 3.0, quad.N)
  tx = scale_by_edge_controller(2.0, every_k=1)
  traj, _ = quad.run(tx, f, w, 2, direction=lambda w: -jax.grad(f)(w) / p)
  eta0 = float(traj[0]["state"].prev_lr)
  u1 = traj[1]["u"]
  want = eta0 * (u1 @ a @ u1) / (u1 @ (p * u1))
  np.testing.assert_allclose(traj[1]["state"].ratio, want, rtol=1e-12)
  assert abs(want - eta0 * (u1 @ a @ u1) / (u1 @ u1)) > 1e-3 * want


@pytest.mark.parametrize("set_point,every_k", [(2.0, 1), (1.9, 1),
                                               (2.0, 10), (1.9, 10)])
def test_fixed_point_is_set_point_over_lambda_max(quad, set_point, every_k):
  """From a generic start the closed loop settles at η·λ_max = r*: the
  direction aligns with the top eigenvector (the other modes decay
  faster) and the loop holds the ratio there."""
  a, b, w = quad.quadratic(seed=1)
  f = quad.objective(a, b)
  tx = scale_by_edge_controller(set_point, ki=0.5, kp=-0.25,
                                every_k=every_k, refresh_warmup=5)
  # 100 steps: with r* < 2 the loss gap falls as 0.9^(2t), and by ~130
  # steps f_t − f_{t−1} is at float64 roundoff, the secant's floor.
  traj, _ = quad.run(tx, f, w, 100)
  prod = _rates(traj) * _lam_max(a)
  np.testing.assert_allclose(prod[-20:], set_point, rtol=2e-3)
  np.testing.assert_allclose(
      [float(s["state"].ratio) for s in traj[-20:]], set_point, rtol=2e-3)


def test_along_the_top_eigenvector_holds_exactly(quad):
  a, _, _ = quad.quadratic()
  lam, vecs = np.linalg.eigh(np.asarray(a))
  f = quad.objective(a, jnp.zeros(quad.N))
  tx = scale_by_edge_controller(2.0, ki=0.25, kp=-0.125, every_k=10,
                                refresh_warmup=1)
  traj, _ = quad.run(tx, f, jnp.asarray(vecs[:, -1]), 40)
  np.testing.assert_allclose(_rates(traj) * lam[-1], 2.0, rtol=1e-9)


def test_deadbeat_gains_are_cdat(quad):
  """k_i = 1, k_p = 0, no rate limit: CDAT with σ = r*, step for step, with
  exact curvature every step and with amortised curvature (k = 3)."""
  a, b, w = quad.quadratic(seed=2)
  f = quad.objective(a, b)
  for k in (1, 3):
    ctl = scale_by_edge_controller(2.0625, ki=1.0, kp=0.0,
                                   max_log_change=math.inf, every_k=k,
                                   refresh_warmup=2)
    cdat = scale_by_cdat(2.0625, every_k=k, refresh_warmup=2)
    np.testing.assert_allclose(_rates(quad.run(ctl, f, w, 30)[0]),
                               _rates(quad.run(cdat, f, w, 30)[0]),
                               rtol=1e-9)


@pytest.mark.parametrize("ki,kp", [(0.5, -0.25), (1.0, -0.5), (1.5, 0.1),
                                   (2.2, 0.0), (0.5, -1.1)])
def test_error_follows_the_pi_recursion(ki, kp):
  """On f = ½λw² the signal's curvature is λ at every point, so after a
  disturbance of log η the error obeys e_{t+1} = (1 − k_i − k_p)e_t +
  k_p e_{t−1} exactly: it decays iff the gains are in the stability
  region, and grows otherwise."""
  lam, r = 3.0, 1.5
  f = lambda w: 0.5 * lam * jnp.sum(w ** 2)
  if not stable_gains(ki, kp):
    with pytest.raises(ValueError, match="stability region"):
      scale_by_edge_controller(r, ki=ki, kp=kp)
    return
  tx = scale_by_edge_controller(r, ki=ki, kp=kp, max_log_change=math.inf,
                                every_k=1)
  w = jnp.ones(1)
  state = tx.init(w)
  errors = []
  for t in range(25):
    value, grad = jax.value_and_grad(f)(w)
    step, state = api.update_with_refresh(tx, -grad, state, w, refresh=True,
                                          value=value, grad=grad,
                                          value_fn=f)
    errors.append(float(state.prev_error))
    if t == 0:  # a disturbance: η off the set point by a factor e^0.3
      state = state._replace(log_lr=state.log_lr + 0.3,
                             prev_lr=state.prev_lr * math.exp(0.3))
      step = step * math.exp(0.3)
    w = w + step
  e = [0.0, 0.3]
  for _ in range(23):
    e.append((1 - ki - kp) * e[-1] + kp * e[-2])
  np.testing.assert_allclose(errors, e, atol=1e-10)
  assert abs(errors[-1]) < 0.05 * 0.3


def test_stable_gains_is_the_unit_circle():
  for ki, kp in itertools.product(np.linspace(-0.5, 2.5, 31),
                                  np.linspace(-1.5, 1.5, 31)):
    radius = max(abs(np.roots([1.0, -(1 - ki - kp), -kp])))
    if abs(radius - 1) > 1e-9:
      assert stable_gains(ki, kp) == (radius < 1), (ki, kp, radius)


def test_rate_limit_bounds_each_change(quad):
  a, b, w = quad.quadratic()
  f = quad.objective(a, b)
  tx = scale_by_edge_controller(2.0, ki=1.0, kp=0.0, max_log_change=0.05,
                                every_k=1)
  rates = _rates(quad.run(tx, f, w, 30)[0])
  assert np.all(np.abs(np.diff(np.log(rates))) <= 0.05 + 1e-12)


def test_holds_the_rate_where_the_signal_is_undefined(quad):
  """u an ascent direction (n = −gᵀu ≤ 0): the integrator holds η."""
  a, b, w = quad.quadratic()
  f = quad.objective(a, b)
  tx = scale_by_edge_controller(2.0, every_k=1)
  state = tx.init(w)
  g = jax.grad(f)(w)
  _, state = quad.call(tx, state, w, -g, f)
  eta0 = float(state.prev_lr)
  _, state = quad.call(tx, state, w, g, f)
  assert float(state.prev_lr) == eta0


def test_bad_arguments_are_named():
  with pytest.raises(ValueError, match="set_point"):
    scale_by_edge_controller(0.0)
  with pytest.raises(ValueError, match="stability region"):
    scale_by_edge_controller(2.0, ki=0.0)
  with pytest.raises(ValueError, match="every_k"):
    scale_by_edge_controller(2.0, every_k=0)
