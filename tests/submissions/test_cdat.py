"""CDAT (Roulet et al. 2024, Eq. 8) against its closed form on quadratics."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from edgeperf.submissions.cdat import scale_by_cdat


def test_cdat_sigma_two_is_on_edge(quad):
  a, b, w = quad.quadratic()
  f = quad.objective(a, b)
  tx = scale_by_cdat(2.0)
  u = -jax.grad(f)(w)
  step, _ = quad.call(tx, tx.init(w), w, u, f)
  assert float(jnp.linalg.norm(step)) > 0
  np.testing.assert_allclose(f(w + step), f(w), rtol=1e-12)  # q(η) = f(w)


def test_cdat_ascent_direction_gives_zero_step(quad):
  a, b, w = quad.quadratic()
  f = quad.objective(a, b)
  tx = scale_by_cdat(2.0)
  step, state = quad.call(tx, tx.init(w), w, jax.grad(f)(w), f)
  np.testing.assert_array_equal(step, 0.0)
  assert float(state.stats.learning_rate) == 0.0


@pytest.mark.parametrize("estimator,counter", [
    ("jvp", "jvp_evals"), ("hvp", "hvp_evals"), ("rev_rev", "hvp_evals")])
def test_exact_denominators_equal_uAu(quad, estimator, counter):
  a, b, w = quad.quadratic()
  f = quad.objective(a, b)
  tx = scale_by_cdat(1.0, estimator=estimator)
  u = -jax.grad(f)(w)
  step, state = quad.call(tx, tx.init(w), w, u, f)
  eta = step[0] / u[0]
  denominator = (u @ u) / eta  # η = n/d with n = −gᵀu = ‖u‖²
  np.testing.assert_allclose(denominator, u @ a @ u, rtol=1e-10)
  assert int(getattr(state.stats, counter)) == (
      2 if estimator == "jvp" else 1)


def test_secant_denominator_exact_on_quadratic_one_step_late(quad):
  a, b, w = quad.quadratic()
  f = quad.objective(a, b)
  tx = scale_by_cdat(1.0, estimator="secant")
  traj, _ = quad.run(tx, f, w, 3)
  # Step 0 bootstraps with one jvp-of-jvp (2 jvp passes), later steps free.
  assert [int(t["info"]["jvp_evals"]) for t in traj] == [2, 0, 0]
  for prev, cur in zip(traj[:-1], traj[1:]):
    u0, u1 = prev["u"], cur["u"]
    # The state's curvature is the secant along u_{t−1}: exactly u0ᵀAu0.
    np.testing.assert_allclose(
        cur["state"].denominator_ema * (u0 @ u0), u0 @ a @ u0, rtol=1e-8)
    # Applied as a Rayleigh quotient along the new direction.
    expected = (u1 @ u1) / ((u0 @ a @ u0) / (u0 @ u0) * (u1 @ u1))
    np.testing.assert_allclose(cur["step"], expected * u1, rtol=1e-8)


def test_amortised_denominator_refreshes_every_k_and_reuses_quotient(quad):
  a, b, w = quad.quadratic()
  f = quad.objective(a, b)
  tx = scale_by_cdat(1.0, every_k=3)
  traj, _ = quad.run(tx, f, w, 5)
  assert [int(t["info"]["jvp_evals"]) for t in traj] == [2, 0, 0, 2, 0]
  u0 = traj[0]["u"]
  c0 = (u0 @ a @ u0) / (u0 @ u0)
  for t in traj[:3]:  # steps 0..2 use the quotient measured at step 0
    u = t["u"]
    np.testing.assert_allclose(t["step"], (u @ u) / (c0 * (u @ u)) * u,
                               rtol=1e-10)
  u3 = traj[3]["u"]  # refreshed: exact QG again
  np.testing.assert_allclose(traj[3]["step"], (u3 @ u3) / (u3 @ a @ u3) * u3,
                             rtol=1e-10)


def test_cdat_ema_matches_paper_recursion(quad):
  a, b, w = quad.quadratic()
  f = quad.objective(a, b)
  sigma, beta = 2.0, 0.9
  tx = scale_by_cdat(sigma, beta=beta)
  traj, _ = quad.run(tx, f, w, 4)
  n_ema = d_ema = 0.0
  for t in traj:
    u, g = t["u"], t["g"]
    n_ema = (1 - beta) * max(float(-(g @ u)), 0.0) + beta * n_ema
    d_ema = (1 - beta) * abs(float(u @ a @ u)) + beta * d_ema
    np.testing.assert_allclose(t["step"], sigma * n_ema / d_ema * u,
                               rtol=1e-10)


def test_cdat_bad_arguments_and_missing_extras(quad):
  with pytest.raises(ValueError, match="estimator"):
    scale_by_cdat(2.0, estimator="bfgs")
  with pytest.raises(ValueError, match="every_k"):
    scale_by_cdat(2.0, estimator="secant", every_k=5)
  with pytest.raises(ValueError, match="beta"):
    scale_by_cdat(2.0, beta=1.0)
  a, b, w = quad.quadratic()
  tx = scale_by_cdat(2.0)
  with pytest.raises(ValueError, match="value_fn"):
    tx.update(w, tx.init(w), w, value=1.0, grad=w)
