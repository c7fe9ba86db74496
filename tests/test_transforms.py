"""Closed-form tests of the tuner transforms on quadratics.

f(w) = ½wᵀAw − bᵀw, ∇f = Aw − b, ∇²f = A, so every rule has an exact answer.
"""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from edgeperf.submissions import api
from edgeperf.submissions import transforms

N = 6


def _quadratic(seed=0, scale=1.0):
  rng = np.random.default_rng(seed)
  q, _ = np.linalg.qr(rng.normal(size=(N, N)))
  eig = scale * np.linspace(0.5, 4.0, N)
  a = (q * eig) @ q.T
  b = rng.normal(size=N)
  w0 = rng.normal(size=N)
  return jnp.asarray(a), jnp.asarray(b), jnp.asarray(w0)


def _f(a, b):
  return lambda w: 0.5 * w @ a @ w - b @ w


def _call(tx, state, w, u, f):
  value, grad = jax.value_and_grad(f)(w)
  return tx.update(u, state, w, value=value, grad=grad, value_fn=f)


def _run(tx, f, w, steps, direction=None):
  """GD-direction steps (u = −g unless ``direction``); returns trajectory."""
  state = tx.init(w)
  out = []
  for _ in range(steps):
    g = jax.grad(f)(w)
    u = -g if direction is None else direction(w)
    step, state = _call(tx, state, w, u, f)
    out.append(dict(w=w, u=u, g=g, step=step, state=state,
                    info=api.step_info(state)))
    w = w + step
  return out, w


@pytest.fixture(autouse=True)
def _x64():
  with jax.enable_x64(True):
    yield


# ------------------------------------------------------------------- CDAT --

def test_qg_lands_on_exact_minimiser_along_direction():
  a, b, w = _quadratic()
  f = _f(a, b)
  u = jnp.asarray(np.random.default_rng(1).normal(size=N))
  u = jnp.where(jax.grad(f)(w) @ u > 0, -u, u)  # a descent direction
  tx = transforms.scale_by_quadratically_greedy()
  step, _ = _call(tx, tx.init(w), w, u, f)
  eta = -(jax.grad(f)(w) @ u) / (u @ a @ u)
  np.testing.assert_allclose(step, eta * u, rtol=1e-12)
  # Minimiser along u: the directional derivative vanishes at w + ηu.
  np.testing.assert_allclose(jax.grad(f)(w + step) @ u, 0.0, atol=1e-10)


def test_cdat_sigma_two_is_on_edge():
  a, b, w = _quadratic()
  f = _f(a, b)
  tx = transforms.scale_by_cdat(2.0)
  u = -jax.grad(f)(w)
  step, _ = _call(tx, tx.init(w), w, u, f)
  assert float(jnp.linalg.norm(step)) > 0
  np.testing.assert_allclose(f(w + step), f(w), rtol=1e-12)  # q(η) = f(w)


def test_cdat_ascent_direction_gives_zero_step():
  a, b, w = _quadratic()
  f = _f(a, b)
  tx = transforms.scale_by_cdat(2.0)
  step, state = _call(tx, tx.init(w), w, jax.grad(f)(w), f)
  np.testing.assert_array_equal(step, 0.0)
  assert float(state.stats.learning_rate) == 0.0


@pytest.mark.parametrize("estimator,counter", [
    ("jvp", "jvp_evals"), ("hvp", "hvp_evals"), ("rev_rev", "hvp_evals")])
def test_exact_denominators_equal_uAu(estimator, counter):
  a, b, w = _quadratic()
  f = _f(a, b)
  tx = transforms.scale_by_cdat(1.0, estimator=estimator)
  u = -jax.grad(f)(w)
  step, state = _call(tx, tx.init(w), w, u, f)
  eta = step[0] / u[0]
  denominator = (u @ u) / eta  # η = n/d with n = −gᵀu = ‖u‖²
  np.testing.assert_allclose(denominator, u @ a @ u, rtol=1e-10)
  assert int(getattr(state.stats, counter)) == (
      2 if estimator == "jvp" else 1)


def test_secant_denominator_exact_on_quadratic_one_step_late():
  a, b, w = _quadratic()
  f = _f(a, b)
  tx = transforms.scale_by_cdat(1.0, estimator="secant")
  traj, _ = _run(tx, f, w, 3)
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


def test_amortised_denominator_refreshes_every_k_and_reuses_quotient():
  a, b, w = _quadratic()
  f = _f(a, b)
  tx = transforms.scale_by_cdat(1.0, every_k=3)
  traj, _ = _run(tx, f, w, 5)
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


def test_cdat_ema_matches_paper_recursion():
  a, b, w = _quadratic()
  f = _f(a, b)
  sigma, beta = 2.0, 0.9
  tx = transforms.scale_by_cdat(sigma, beta=beta)
  traj, _ = _run(tx, f, w, 4)
  n_ema = d_ema = 0.0
  for t in traj:
    u, g = t["u"], t["g"]
    n_ema = (1 - beta) * max(float(-(g @ u)), 0.0) + beta * n_ema
    d_ema = (1 - beta) * abs(float(u @ a @ u)) + beta * d_ema
    np.testing.assert_allclose(t["step"], sigma * n_ema / d_ema * u,
                               rtol=1e-10)


def test_cdat_bad_arguments_and_missing_extras():
  with pytest.raises(ValueError, match="estimator"):
    transforms.scale_by_cdat(2.0, estimator="bfgs")
  with pytest.raises(ValueError, match="every_k"):
    transforms.scale_by_cdat(2.0, estimator="secant", every_k=5)
  with pytest.raises(ValueError, match="beta"):
    transforms.scale_by_cdat(2.0, beta=1.0)
  a, b, w = _quadratic()
  tx = transforms.scale_by_cdat(2.0)
  with pytest.raises(ValueError, match="value_fn"):
    tx.update(w, tx.init(w), w, value=1.0, grad=w)


# ----------------------------------------------------------------- Armijo --

def test_armijo_step_satisfies_criterion_and_is_largest_on_grid():
  a, b, w = _quadratic(scale=30.0)  # curvature up to 120: must backtrack
  f = _f(a, b)
  c, delta, c_minus = 0.5, 1e-3, 0.8
  tx = transforms.scale_by_armijo(c=c, delta=delta, c_plus=4.0,
                                  c_minus=c_minus)
  traj, _ = _run(tx, f, w, 4)
  prev_eta = None
  for t in traj:
    eta = float(t["info"]["learning_rate"])
    eta = float(t["step"][0] / t["u"][0])
    guess = 1.0 if prev_eta is None else min(4.0 * prev_eta, 1.0)
    k = int(round(math.log(eta / guess) / math.log(c_minus)))
    np.testing.assert_allclose(eta, guess * c_minus**k, rtol=1e-9)
    assert int(t["info"]["value_evals"]) == k + 1

    def holds(e, t=t):
      return f(t["w"] + e * t["u"]) <= (1 + delta) * f(t["w"]) + c * e * (
          t["g"] @ t["u"])

    assert holds(eta)
    for j in range(k):  # every larger grid point fails
      assert not holds(guess * c_minus**j)
    prev_eta = eta
  assert int(traj[0]["info"]["value_evals"]) > 1  # it did backtrack


def test_armijo_c_plus_inf_restarts_at_one_and_caps_backtracking():
  a, b, w = _quadratic(scale=30.0)
  f = _f(a, b)
  tx = transforms.scale_by_armijo(c=0.5, c_plus=math.inf, c_minus=0.5,
                                  max_backtracking_steps=2)
  traj, _ = _run(tx, f, w, 2)
  for t in traj:  # the needed η < 1/4 is off the capped grid {1, ½, ¼}
    assert int(t["info"]["value_evals"]) == 3
    np.testing.assert_allclose(t["step"], 0.25 * t["u"], rtol=1e-12)
  assert not bool(traj[0]["state"].accepted)


# ---------------------------------------------------- Polyak, hypergradient --

@pytest.mark.parametrize("eta_max", [1.0, 1e-3])
def test_polyak_matches_formula(eta_max):
  a, b, w = _quadratic()
  f = lambda x: 0.5 * x @ a @ x  # f ≥ 0 = f*
  tx = transforms.scale_by_polyak(max_learning_rate=eta_max)
  g = jax.grad(f)(w)
  step, state = _call(tx, tx.init(w), w, -g, f)
  eta = min(float(f(w) / (g @ g)), eta_max)
  np.testing.assert_allclose(step, -eta * g, rtol=1e-12)
  np.testing.assert_allclose(float(state.stats.learning_rate), eta,
                             rtol=1e-6)


def test_polyak_direction_normalizer_equals_grad_for_gd():
  a, b, w = _quadratic()
  f = lambda x: 0.5 * x @ a @ x
  g = jax.grad(f)(w)
  steps = []
  for norm in ("grad", "direction"):
    tx = transforms.scale_by_polyak(max_learning_rate=10.0, normalizer=norm)
    steps.append(_call(tx, tx.init(w), w, -g, f)[0])
  np.testing.assert_allclose(steps[0], steps[1], rtol=1e-12)


def test_hypergradient_matches_multiplicative_rule():
  a, b, w = _quadratic()
  f = _f(a, b)
  eta0, beta = 0.05, 0.3
  tx = transforms.scale_by_hypergradient(eta0, beta=beta)
  traj, _ = _run(tx, f, w, 3)
  eta = eta0
  np.testing.assert_allclose(traj[0]["step"], eta0 * traj[0]["u"], rtol=1e-12)
  for prev, cur in zip(traj[:-1], traj[1:]):
    g_next = jax.grad(f)(prev["w"] + eta * prev["u"])  # ∇f(w_t + η_t u_t)
    cos = (g_next @ prev["u"]) / (jnp.linalg.norm(g_next) *
                                  jnp.linalg.norm(prev["u"]))
    eta = eta * (1 - beta * float(cos))
    np.testing.assert_allclose(cur["step"], eta * cur["u"], rtol=1e-10)
  assert eta > eta0  # GD on a convex quadratic keeps descending: η grows


# -------------------------------------------------------- exact sharpness --

def test_exact_sharpness_is_sigma_over_lambda_max_refreshed_every_k():
  a, b, w = _quadratic()
  f = _f(a, b)
  lam = float(np.linalg.eigvalsh(np.asarray(a))[-1])
  tx = transforms.scale_by_exact_sharpness(3.0, every_k=2, num_iters=N)
  traj, _ = _run(tx, f, w, 3)
  for t in traj:
    np.testing.assert_allclose(t["step"], 3.0 / lam * t["u"], rtol=1e-6)
  assert [int(t["info"]["hvp_evals"]) for t in traj] == [N, 0, N]


# -------------------------------------------------------------- schedules --

@pytest.mark.parametrize("shape", transforms.SCHEDULE_SHAPES)
def test_warmup_schedule_shapes(shape):
  s = transforms.warmup_schedule(shape, peak_learning_rate=2.0,
                                 warmup_steps=10, horizon=100)
  np.testing.assert_allclose(float(s(0)), 0.0, atol=1e-12)
  np.testing.assert_allclose(float(s(5)), 1.0, rtol=1e-6)
  np.testing.assert_allclose(float(s(10)), 2.0, rtol=1e-6)
  mid = {"constant": 2.0, "linear": 1.0, "cosine": 1.0}[shape]
  np.testing.assert_allclose(float(s(55)), mid, rtol=1e-6)
  end = 2.0 if shape == "constant" else 0.0
  np.testing.assert_allclose(float(s(100)), end, atol=1e-6)
  np.testing.assert_allclose(float(s(500)), end, atol=1e-6)


def test_schedule_transform_exposes_rate():
  sched = transforms.warmup_schedule("linear", peak_learning_rate=1.0,
                                     warmup_steps=4, horizon=8)
  tx = transforms.scale_by_learning_rate_schedule(sched)
  w = jnp.ones(3)
  state = tx.init(w)
  for t in range(6):
    step, state = tx.update(w, state, w)
    np.testing.assert_allclose(step, float(sched(t)) * w, rtol=1e-6)
    np.testing.assert_allclose(api.step_info(state)["learning_rate"],
                               float(sched(t)), rtol=1e-6)


# ------------------------------------------------------ fractal Chebyshev --

def test_fractal_order():
  np.testing.assert_array_equal(transforms.fractal_order(1), [1])
  np.testing.assert_array_equal(transforms.fractal_order(4), [1, 4, 2, 3])
  np.testing.assert_array_equal(transforms.fractal_order(8),
                                [1, 8, 4, 5, 2, 7, 3, 6])
  perm = transforms.fractal_order(64)
  np.testing.assert_array_equal(np.sort(perm), np.arange(1, 65))
  with pytest.raises(ValueError, match="power of 2"):
    transforms.fractal_order(12)


def _chebyshev_run(horizon, m, big_m, order, dtype):
  lam = jnp.linspace(m, big_m, 64, dtype=dtype)
  f = lambda w: 0.5 * jnp.sum(lam * w * w)  # minimiser 0, spectrum [m, M]
  tx = transforms.scale_by_fractal_chebyshev(
      horizon, min_curvature_ratio=m / big_m, max_curvature=big_m,
      order=order)

  def body(carry, _):
    w, state = carry
    value, grad = jax.value_and_grad(f)(w)
    step, state = tx.update(-grad, state, w, value=value, grad=grad,
                            value_fn=f)
    return (w + step, state), None

  w0 = jnp.ones(64, dtype)
  (w, _), _ = jax.lax.scan(body, (w0, tx.init(w0)), None, length=horizon)
  return w, w0


def test_chebyshev_meets_error_bound_after_horizon():
  m, big_m, horizon = 0.01, 1.0, 16
  w, w0 = _chebyshev_run(horizon, m, big_m, "fractal", jnp.float64)
  kappa = (big_m + m) / (big_m - m)
  bound = 1.0 / math.cosh(horizon * math.acosh(kappa))
  ratio = float(jnp.linalg.norm(w) / jnp.linalg.norm(w0))
  assert ratio <= bound * (1 + 1e-8)
  # Much better than the best constant step 2/(M + m) over T steps.
  assert ratio < ((big_m - m) / (big_m + m)) ** horizon / 10


def test_fractal_order_stays_finite_where_sorted_order_overflows():
  m, big_m, horizon = 1e-3, 1.0, 128
  with jax.enable_x64(False):
    w_sorted, _ = _chebyshev_run(horizon, m, big_m, "increasing", jnp.float32)
    w_fractal, w0 = _chebyshev_run(horizon, m, big_m, "fractal", jnp.float32)
  assert not bool(jnp.all(jnp.isfinite(w_sorted)))
  assert bool(jnp.all(jnp.isfinite(w_fractal)))
  bound = 1.0 / math.cosh(horizon * math.acosh((big_m + m) / (big_m - m)))
  ratio = float(jnp.linalg.norm(w_fractal) / jnp.linalg.norm(w0))
  assert ratio <= 2 * bound


def test_chebyshev_estimates_max_curvature_at_first_step():
  a, b, w = _quadratic()
  f = _f(a, b)
  lam = float(np.linalg.eigvalsh(np.asarray(a))[-1])
  tx = transforms.scale_by_fractal_chebyshev(4, min_curvature_ratio=0.1,
                                             num_iters=N)
  traj, _ = _run(tx, f, w, 2)
  np.testing.assert_allclose(traj[0]["state"].max_curvature, lam, rtol=1e-6)
  assert [int(t["info"]["hvp_evals"]) for t in traj] == [N, 0]
  gamma1 = 0.55 * lam + 0.45 * lam * math.cos(math.pi / 8)  # σ_4(1) = 1
  np.testing.assert_allclose(traj[0]["step"], traj[0]["u"] / gamma1,
                             rtol=1e-6)


# --------------------------------------------------------- optax wrappers --

def test_expose_learning_rate_reports_dogs_applied_rate():
  from optax import contrib  # pylint: disable=g-import-not-at-top
  a, b, w = _quadratic()
  f = _f(a, b)
  inner = contrib._dog.scale_by_dog(("heuristic", 1e-2))  # pylint: disable=protected-access
  tx = transforms.expose_learning_rate(
      inner, lambda old, new: new.max_dist / jnp.sqrt(
          new.sum_sq_norm_grads + 1e-8))
  traj, _ = _run(tx, f, w, 3)
  for t in traj:
    eta = float(t["step"][0] / t["u"][0])
    np.testing.assert_allclose(float(t["info"]["learning_rate"]), eta,
                               rtol=1e-5)
