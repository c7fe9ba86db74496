"""Float64 correctness of the profiled denominators (paper Eq. 8, App. C).

* Every workload: forward-over-forward, forward-over-reverse and
  reverse-over-reverse uᵀ∇²f(w)u agree to 1e-6 relative, for u = −∇f(w) and a
  random u (the same compiled executables the profile times, in float64).
* A quadratic f(x) = ½xᵀAx + bᵀx (A symmetric, indefinite): all three and the
  secant 2(f(x + ηu) − f(x) − η∇f(x)ᵀu)/η² equal uᵀAu; on ``linreg_digits``
  (a quadratic objective) the secant equals the exact value.
* A smooth model (``charlm_prose``): the secant's error is
  (η/3)·∂³f(w)[u, u, u] + O(η²), so halving η halves it.

All arrays are built and every executable runs inside ``jax.enable_x64(True)``.
"""

from __future__ import annotations

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest


def _rel(a, b):
  a, b = float(a), float(b)
  return abs(a - b) / max(abs(b), 1e-300)


def test_exact_estimators_agree_float64(profile_cache, profile_lib,
                                        workload_name):
  profile = profile_cache(workload_name, x64=True)
  with jax.enable_x64(True):
    random_u = optax.tree.random_like(jax.random.key(1), profile.params,
                                      dtype=jnp.float64)
    # u = −∇f(w) enters as ∇f: uᵀHu is even in u.
    for label, u in (("-grad", profile.grad), ("random", random_u)):
      assert jax.tree.leaves(u)[0].dtype == jnp.float64
      values = {name: float(profile.compiled[name](profile.params,
                                                   profile.batch, u))
                for name in profile_lib.EXACT}
      for (a, va), (b, vb) in itertools.combinations(values.items(), 2):
        assert _rel(va, vb) < 1e-6, (workload_name, label, a, va, b, vb)


def _quadratic_problem(n1=5, n2=4, seed=0):
  """f(x) = ½xᵀAx + bᵀx on x = concat(params["p"], params["q"])."""
  rng = np.random.default_rng(seed)
  n = n1 + n2
  m = rng.normal(size=(n, n))
  a = (m + m.T) / 2  # symmetric, indefinite
  assert np.min(np.linalg.eigvalsh(a)) < 0 < np.max(np.linalg.eigvalsh(a))
  params = {"p": jnp.asarray(rng.normal(size=n1)),
            "q": jnp.asarray(rng.normal(size=n2))}
  batch = {"A": jnp.asarray(a), "b": jnp.asarray(rng.normal(size=n))}

  def objective(params, batch):
    x = jnp.concatenate([params["p"], params["q"]])
    return 0.5 * x @ batch["A"] @ x + batch["b"] @ x

  return objective, params, batch, a


def test_quadratic_all_estimators_equal_uAu(profile_lib):
  with jax.enable_x64(True):
    objective, params, batch, a = _quadratic_problem()
    fns = {k: jax.jit(v) for k, v in
           profile_lib.make_functions(objective).items()}
    value, grad = fns["value_and_grad"](params, batch)
    g = np.concatenate([grad["p"], grad["q"]])
    x = np.concatenate([params["p"], params["q"]])
    np.testing.assert_allclose(g, a @ x + np.asarray(batch["b"]), rtol=1e-12)

    random_u = {"p": jnp.linspace(-1.0, 2.0, 5), "q": jnp.arange(4.0) - 1.5}
    for u in (grad, random_u):
      flat_u = np.concatenate([u["p"], u["q"]])
      expected = flat_u @ a @ flat_u
      for name in profile_lib.EXACT:
        got = fns[name](params, batch, u)
        assert got.dtype == jnp.float64
        assert _rel(got, expected) < 1e-10, (name, float(got), expected)

    expected = g @ a @ g  # u = −g
    for step in (1.0, 0.1, 1e-3):
      step = jnp.asarray(step, jnp.float64)
      secant = fns["secant"](params, batch, value, grad, step)
      assert _rel(secant, expected) < 1e-8, (float(step), float(secant))
      _, _, fused = fns["fused_secant"](params, batch, step)
      assert _rel(fused, expected) < 1e-8
    for name in profile_lib.EXACT:
      _, _, fused = fns[f"fused_{name}"](params, batch)
      assert _rel(fused, expected) < 1e-10, name


def _secant(profile, step):
  with jax.enable_x64(True):
    return float(profile.compiled["secant"](
        profile.params, profile.batch, profile.value, profile.grad,
        jnp.asarray(step, jnp.float64)))


def test_secant_exact_on_quadratic_workload(profile_cache):
  """linreg_digits: squared loss of an affine model plus (wd/2)‖w‖², a
  quadratic in w, so the secant is exact at any step."""
  profile = profile_cache("linreg_digits", x64=True)
  with jax.enable_x64(True):
    norm = float(optax.tree.norm(profile.grad))
  for scale in (1.0, 1e-2, 1e-4):
    assert _rel(_secant(profile, scale / norm), profile.uhu) < 1e-6, scale


@pytest.mark.parametrize("scale", [1e-2, 1e-3])
def test_secant_error_linear_in_step(profile_cache, scale):
  """charlm_prose (GELU, softmax, layer norm: smooth): error(η)/error(η/2) ≈ 2.

  η‖u‖ = ``scale`` stays where the O(η) term dominates both the O(η²) term
  and float64 rounding (≈ 1e-16·|f|/η²).  The ReLU workloads are left out:
  at initialisation cnn_digits has pre-activations exactly 0 (zero pixels,
  zero biases), so f is not differentiable along u there and the secant's
  error grows like 1/η; mlp_mnist crosses kinks until η‖u‖ ≲ 3e-4.
  """
  profile = profile_cache("charlm_prose", x64=True)
  exact = float(profile.uhu)
  with jax.enable_x64(True):
    eta = scale / float(optax.tree.norm(profile.grad))
  error = abs(_secant(profile, eta) - exact)
  error_half = abs(_secant(profile, eta / 2) - exact)
  assert error > 1e-6 * abs(exact)  # a real truncation error, not rounding
  assert 1.8 < error / error_half < 2.2, (error, error_half)
