"""The curvature-refresh contract: the harness refreshes at steps 0, k, 2k,
… whatever the chunking, counts what a refresh costs, and branches on
nothing inside a step."""

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from edgeperf.harness import runner
from edgeperf.harness import step as step_lib
from edgeperf.submissions import api


class _State(NamedTuple):
  stats: api.TunerStats
  count: jax.Array  # steps taken
  refreshes: jax.Array  # refreshes so far
  refreshed_at: jax.Array  # the step count at the last refresh


def _counting(every_k, lr=1e-3, warmup=0):
  """GD whose rate is lr · (1 + refreshes so far); refresh costs 3 HVPs."""

  def init(params):
    del params
    zero = jnp.asarray(0, jnp.int32)
    return _State(api.tuner_stats(lr), zero, zero, jnp.asarray(-1))

  def refresh(state, params, *, updates, grad, value, value_fn):
    del params, updates, grad, value, value_fn
    return state._replace(refreshes=state.refreshes + 1,
                          refreshed_at=state.count)

  def update(updates, state, params=None, **extra):
    del params, extra
    eta = lr * (1 + state.refreshes).astype(jnp.float32)
    return optax.tree.scale(-eta, updates), state._replace(
        stats=api.tuner_stats(eta), count=state.count + 1)

  return api.with_refresh(optax.GradientTransformationExtraArgs(init, update),
                          refresh, every_k=every_k, cost={"hvp_evals": 3},
                          warmup=warmup)


def _expected(every_k, steps, warmup=0):
  points = [t for t in range(steps)
            if t < warmup or (t % every_k == 0 if every_k else t == 0)]
  counts = np.array([sum(p <= t for p in points) for t in range(steps)])
  return points, 1e-3 * (1 + counts)


@pytest.mark.parametrize("every_k,warmup", [(1, 0), (5, 0), (None, 0),
                                            (5, 7), (None, 3)])
@pytest.mark.parametrize("mode,eval_every,diag_every", [
    ("scan", 7, 0), ("loop", 4, 0), ("scan_unrolled", 10, 0),
    ("scan", 6, 9)])
def test_refresh_runs_exactly_at_multiples_of_k(get_workload, every_k, warmup,
                                                mode, eval_every, diag_every):
  """At steps 0, k, 2k, … (and every step before the warm-up ends)."""
  w = get_workload("linreg_digits")
  steps = 23
  result = runner.run(w, _counting(every_k, warmup=warmup), max_steps=steps,
                      eval_every=eval_every, chunk_mode=mode,
                      diag_every=diag_every, stop_at_target=False,
                      progress=False)
  points, rates = _expected(every_k, steps, warmup)
  hvps = result.steps["hvp_evals"].to_numpy()
  assert list(np.flatnonzero(hvps)) == points
  assert set(hvps[points]) == {3}
  np.testing.assert_allclose(result.steps["learning_rate"], rates,
                             rtol=1e-6)


def test_segments_structure():
  k4 = lambda t: t % 4 == 0
  assert step_lib.segments(2, 13, k4) == ((0, 2), (2, 4), (1, 3))
  assert step_lib.segments(2, 11, k4) == ((0, 2), (2, 4), (1, 1))
  assert step_lib.segments(0, 8, k4) == ((2, 4),)
  assert step_lib.segments(0, 5, lambda t: False) == ((0, 5),)
  assert step_lib.segments(0, 3, lambda t: True) == ((3, 1),)


def test_chain_refreshes_the_element_with_the_direction_it_receives():
  seen = {}

  def refresh(state, params, *, updates, **extra):
    del params, extra
    seen["u"] = updates
    return state

  inner = api.with_refresh(optax.scale(1.0), refresh, every_k=2,
                           cost={"jvp_evals": 2})
  tx = api.chain(optax.scale(-3.0), inner)
  assert tx.every_k == 2 and dict(tx.refresh_cost) == {"jvp_evals": 2}
  g = jnp.arange(3.0)
  state = tx.init(g)
  tx.refresh(state, g, updates=g, grad=g, value=0.0, value_fn=None)
  np.testing.assert_allclose(seen["u"], -3.0 * g)
  assert not api.is_refreshing(api.chain(optax.scale(1.0)))


@pytest.mark.parametrize("bad", [0, -1, 2.5, "10", True])
def test_bad_refresh_period_is_refused(bad):
  with pytest.raises(ValueError, match="every_k"):
    _counting(bad)


@pytest.mark.parametrize("bad", [-1, 2.5, "10"])
def test_bad_refresh_warmup_is_refused(bad):
  with pytest.raises(ValueError, match="warmup"):
    _counting(5, warmup=bad)


def test_chained_refreshes_must_share_one_schedule():
  noop = lambda state, params, **extra: state
  a = api.with_refresh(optax.scale(1.0), noop, every_k=5, warmup=0)
  b = api.with_refresh(optax.scale(1.0), noop, every_k=5, warmup=10)
  with pytest.raises(ValueError, match="one schedule"):
    api.chain(a, b)
  assert api.chain(optax.scale(-1.0), b).warmup == 10
