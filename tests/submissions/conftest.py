"""Closed-form fixtures for the tuner tests: quadratics in float64.

f(w) = ½wᵀAw − bᵀw, ∇f = Aw − b, ∇²f = A, so every rule has an exact answer.
"""

import types

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from edgeperf.submissions import api

N = 6


def quadratic(seed=0, scale=1.0):
  """(A, b, w0): A symmetric with eigenvalues scale·linspace(0.5, 4, N)."""
  rng = np.random.default_rng(seed)
  q, _ = np.linalg.qr(rng.normal(size=(N, N)))
  eig = scale * np.linspace(0.5, 4.0, N)
  a = (q * eig) @ q.T
  b = rng.normal(size=N)
  w0 = rng.normal(size=N)
  return jnp.asarray(a), jnp.asarray(b), jnp.asarray(w0)


def objective(a, b):
  return lambda w: 0.5 * w @ a @ w - b @ w


def call(tx, state, w, u, f, *, refresh=True):
  """One update with the harness's calling convention (the tuner's
  curvature refresh first, if it has one and ``refresh``)."""
  value, grad = jax.value_and_grad(f)(w)
  return api.update_with_refresh(tx, u, state, w, refresh=refresh,
                                 value=value, grad=grad, value_fn=f)


def run(tx, f, w, steps, direction=None):
  """GD-direction steps (u = −g unless ``direction``), refreshing where the
  harness would; returns the trajectory (dicts of w, u, g, step, state,
  info: the step's record, refresh cost included) and the last w."""
  state = tx.init(w)
  out = []
  for t in range(steps):
    g = jax.grad(f)(w)
    u = -g if direction is None else direction(w)
    refresh = api.is_refreshing(tx) and api.refreshes_at(tx.every_k, t,
                                                         tx.warmup)
    step, state = call(tx, state, w, u, f, refresh=refresh)
    info = dict(api.step_info(state))
    for name, count in (tx.refresh_cost.items() if refresh else ()):
      info[name] = info[name] + count
    out.append(dict(w=w, u=u, g=g, step=step, state=state, info=info))
    w = w + step
  return out, w


@pytest.fixture(autouse=True)
def _x64():
  with jax.enable_x64(True):
    yield


@pytest.fixture
def quad():
  """The helpers above: ``quad.quadratic``, ``quad.objective``, ``quad.call``,
  ``quad.run``, ``quad.N``."""
  return types.SimpleNamespace(quadratic=quadratic, objective=objective,
                               call=call, run=run, N=N)
