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
    ("jvp", "jvp_evals"), ("hvp", "hvp_evals"), ("rev_rev", "hvp_evals"),
    ("taylor", "jvp_evals")])
def test_exact_denominators_equal_uAu(quad, estimator, counter):
  a, b, w = quad.quadratic()
  f = quad.objective(a, b)
  tx = scale_by_cdat(1.0, estimator=estimator)
  u = -jax.grad(f)(w)
  step, state = quad.call(tx, tx.init(w), w, u, f)
  eta = step[0] / u[0]
  denominator = (u @ u) / eta  # η = n/d with n = −gᵀu = ‖u‖²
  np.testing.assert_allclose(denominator, u @ a @ u, rtol=1e-10)
  assert tx.refresh_cost == {counter: 1 if counter == "hvp_evals" else 2}


def test_secant_refreshes_once_then_is_exact_on_quadratic(quad):
  a, b, w = quad.quadratic()
  f = quad.objective(a, b)
  tx = scale_by_cdat(1.0, estimator="secant", refresh_warmup=0)
  assert tx.every_k is None  # one refresh, before step 0
  traj, _ = quad.run(tx, f, w, 4)
  assert [int(t["info"]["jvp_evals"]) for t in traj] == [2, 0, 0, 0]
  u = traj[0]["u"]
  np.testing.assert_allclose(traj[0]["step"], (u @ u) / (u @ a @ u) * u,
                             rtol=1e-10)  # refreshed: exact QG
  # after it, the same free estimate as a long refresh period
  long_k, _ = quad.run(scale_by_cdat(1.0, every_k=100, refresh_warmup=0),
                       f, w, 4)
  for t, ref in zip(traj, long_k):
    np.testing.assert_allclose(t["step"], ref["step"], rtol=1e-12)


def test_free_quotient_is_the_max_of_value_secant_and_secant_bound(quad):
  """Before any refresh has calibrated it: ĉ_t = max(|vsec|, end, klb) with
  vsec = u_{t−1}ᵀAu_{t−1}/‖u_{t−1}‖² (exact), end = vsec on a quadratic and
  klb = (u_tᵀAs)²/(sᵀAs ‖u_t‖²)."""
  a, b, w = quad.quadratic()
  f = quad.objective(a, b)
  tx = scale_by_cdat(1.0, every_k=100, refresh_warmup=0)
  traj, _ = quad.run(tx, f, w, 4)
  for prev, cur in zip(traj[:-1], traj[1:]):
    u0, u1, s = prev["u"], cur["u"], prev["step"]
    vsec = (u0 @ a @ u0) / (u0 @ u0)
    klb = (u1 @ a @ s) ** 2 / ((s @ a @ s) * (u1 @ u1))
    c_hat = max(vsec, klb)
    np.testing.assert_allclose(cur["step"], u1 / c_hat, rtol=1e-8)


def test_amortised_refreshes_every_k(quad):
  a, b, w = quad.quadratic()
  f = quad.objective(a, b)
  tx = scale_by_cdat(1.0, every_k=3, refresh_warmup=0)
  traj, _ = quad.run(tx, f, w, 7)
  assert [int(t["info"]["jvp_evals"]) for t in traj] == [2, 0, 0, 2, 0, 0, 2]
  for t in (traj[0], traj[3], traj[6]):  # refreshed: exact QG
    u = t["u"]
    np.testing.assert_allclose(t["step"], (u @ u) / (u @ a @ u) * u,
                               rtol=1e-10)


def test_refresh_warmup_refreshes_every_step_first(quad):
  a, b, w = quad.quadratic()
  f = quad.objective(a, b)
  tx = scale_by_cdat(1.0, every_k=3, refresh_warmup=4)
  traj, _ = quad.run(tx, f, w, 10)
  assert ([int(t["info"]["jvp_evals"]) for t in traj] ==
          [2, 2, 2, 2, 0, 0, 2, 0, 0, 2])
  assert scale_by_cdat(1.0, refresh_warmup=4).warmup == 0  # k = 1: no-op


def test_calibrated_quotient_after_accurate_refreshes(quad):
  """Between refreshes, once a refresh found the end-point curvature within
  TOLERANCE of the exact Rayleigh quotient u_tᵀAu_t/‖u_t‖²: ĉ_t = end ·
  exp(log ratio), floored at GUARD·max(|vsec|, klb); the log ratio is the
  EMA (SMOOTHING) over refreshes of log(exact/end), each term clipped."""
  from edgeperf.submissions.curvature import secant
  a, b, w = quad.quadratic()
  f = quad.objective(a, b)
  sigma = 0.2  # short steps: successive directions, and their curvatures,
  #   stay close, so a refresh finds the end point accurate
  tx = scale_by_cdat(sigma, every_k=2, refresh_warmup=0)
  traj, _ = quad.run(tx, f, w, 12)
  log_ratio, trusted, calibrated_steps = 0.0, 0, 0
  for t in range(1, len(traj)):
    u0, u1, s = traj[t - 1]["u"], traj[t]["u"], traj[t - 1]["step"]
    rq = lambda v: float(v @ a @ v) / float(v @ v)
    end = vsec = rq(u0)  # on a quadratic the cubic's end point is vsec
    klb = float(u1 @ a @ s) ** 2 / (float(s @ a @ s) * float(u1 @ u1))
    exact = rq(u1)
    if t % 2 == 0:  # a refresh: exact step, calibration updated
      expected = exact
      ratio = np.log(exact / end)
      log_ratio = (secant.SMOOTHING * log_ratio + (1 - secant.SMOOTHING) *
                   np.clip(ratio, -secant.CLIP, secant.CLIP))
      trusted = trusted + 1 if abs(ratio) < secant.TOLERANCE else 0
    elif trusted:
      expected = max(end * np.exp(log_ratio), secant.GUARD * max(klb, vsec))
      calibrated_steps += 1
    else:
      expected = max(vsec, end, klb)
    np.testing.assert_allclose(traj[t]["step"], sigma * u1 / expected,
                               rtol=1e-8)
  assert calibrated_steps >= 1  # the calibrated branch was exercised


def test_calibration_identities():
  from edgeperf.submissions.curvature import secant
  f64 = lambda x: jnp.asarray(x, jnp.float64)
  est = secant.Estimates(vsec=f64(2.0), end=f64(1.0), klb=f64(0.5),
                         valid=jnp.asarray(True))
  fresh = secant.no_calibration(jnp.float64)
  # untrusted: the conservative maximum
  assert float(secant.calibrated_quotient(est, fresh)) == 2.0
  near = secant.calibrate(fresh, est, f64(1.05))  # within TOLERANCE
  assert int(near.trusted) == 1
  np.testing.assert_allclose(float(near.log_ratio),
                             (1 - secant.SMOOTHING) * np.log(1.05))
  np.testing.assert_allclose(  # trusted: floored at GUARD · vsec = 1.4
      float(secant.calibrated_quotient(est, near)), secant.GUARD * 2.0)
  late = near._replace(age=jnp.asarray(secant.HORIZON + 1))
  assert int(secant.aged(near).age) == 1
  assert float(secant.calibrated_quotient(est, late)) == 2.0  # too old
  far = secant.calibrate(near, est, f64(3.0))  # outside: trust lost
  assert int(far.trusted) == 0
  np.testing.assert_allclose(float(far.log_ratio), secant.SMOOTHING *
                             float(near.log_ratio) + (1 - secant.SMOOTHING) *
                             secant.CLIP)
  invalid = est._replace(valid=jnp.asarray(False))
  kept = secant.calibrate(near, invalid, f64(1.0))  # nothing learnt
  assert int(kept.trusted) == 0
  assert float(kept.log_ratio) == float(near.log_ratio)


def test_k1_update_reads_only_the_refresh(quad):
  """With k = 1 the update has no free estimate: it uses the curvature the
  refresh stored (a stale one if the refresh is skipped)."""
  a, b, w = quad.quadratic()
  f = quad.objective(a, b)
  tx = scale_by_cdat(1.0)
  u = -jax.grad(f)(w)
  _, state = quad.call(tx, tx.init(w), w, u, f)
  assert state.prev is None
  w1 = w + 0.1 * u
  u1 = -jax.grad(f)(w1)
  step, _ = quad.call(tx, state, w1, u1, f, refresh=False)
  np.testing.assert_allclose(step, (u1 @ u1) / (u @ a @ u) * u1, rtol=1e-10)


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
  for bad in (0, -3, 2.5, "10"):
    with pytest.raises(ValueError, match="every_k"):
      scale_by_cdat(2.0, every_k=bad)
  with pytest.raises(ValueError, match="beta"):
    scale_by_cdat(2.0, beta=1.0)
  a, b, w = quad.quadratic()
  tx = scale_by_cdat(2.0)
  with pytest.raises(ValueError, match="value_fn"):
    tx.refresh(tx.init(w), w, updates=w, value=1.0, grad=w)
  with pytest.raises(ValueError, match="grad"):
    tx.update(w, tx.init(w), w, value=1.0)
