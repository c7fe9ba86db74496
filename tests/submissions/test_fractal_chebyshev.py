"""The fractal Chebyshev schedule (Agarwal, Goel & Zhang 2021)."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from edgeperf.submissions.fractal_chebyshev import fractal_order
from edgeperf.submissions.fractal_chebyshev import scale_by_fractal_chebyshev


def test_fractal_order():
  np.testing.assert_array_equal(fractal_order(1), [1])
  np.testing.assert_array_equal(fractal_order(4), [1, 4, 2, 3])
  np.testing.assert_array_equal(fractal_order(8), [1, 8, 4, 5, 2, 7, 3, 6])
  perm = fractal_order(64)
  np.testing.assert_array_equal(np.sort(perm), np.arange(1, 65))
  with pytest.raises(ValueError, match="power of 2"):
    fractal_order(12)


def _chebyshev_run(horizon, m, big_m, order, dtype):
  lam = jnp.linspace(m, big_m, 64, dtype=dtype)
  f = lambda w: 0.5 * jnp.sum(lam * w * w)  # minimiser 0, spectrum [m, M]
  tx = scale_by_fractal_chebyshev(horizon, min_curvature_ratio=m / big_m,
                                  max_curvature=big_m, order=order)

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


def test_chebyshev_estimates_max_curvature_at_first_step(quad):
  a, b, w = quad.quadratic()
  f = quad.objective(a, b)
  lam = float(np.linalg.eigvalsh(np.asarray(a))[-1])
  tx = scale_by_fractal_chebyshev(4, min_curvature_ratio=0.1,
                                  num_iters=quad.N)
  traj, _ = quad.run(tx, f, w, 2)
  np.testing.assert_allclose(traj[0]["state"].max_curvature, lam, rtol=1e-6)
  assert [int(t["info"]["hvp_evals"]) for t in traj] == [quad.N, 0]
  gamma1 = 0.55 * lam + 0.45 * lam * math.cos(math.pi / 8)  # σ_4(1) = 1
  np.testing.assert_allclose(traj[0]["step"], traj[0]["u"] / gamma1,
                             rtol=1e-6)
