"""The submission contract: TunerStats found by type, base directions."""

import jax.numpy as jnp
import optax
import pytest

from edgeperf.submissions import api
from edgeperf.submissions.hypergradient import scale_by_hypergradient


def test_step_info_reads_learning_rate_and_counters():
  state = (optax.EmptyState(), {"inner": api.tuner_stats(0.3, jvp_evals=2)})
  info = api.step_info(state)
  assert float(info["learning_rate"]) == pytest.approx(0.3)
  assert int(info["jvp_evals"]) == 2 and int(info["value_evals"]) == 0
  assert float(api.step_info(optax.EmptyState())["learning_rate"]) != 0.3


def test_step_info_finds_stats_by_type_not_by_field_name():
  # HypergradientState has a learning_rate field of its own, before its
  # TunerStats would be reached depth first by field name; set them apart.
  tx = scale_by_hypergradient(0.5)
  state = tx.init(jnp.ones(3))
  state = state._replace(learning_rate=jnp.asarray(9.0),
                         stats=api.tuner_stats(0.25, hvp_evals=3))
  info = api.step_info((optax.EmptyState(), state))
  assert float(info["learning_rate"]) == pytest.approx(0.25)
  assert int(info["hvp_evals"]) == 3


def test_step_info_refuses_two_stats():
  state = (api.tuner_stats(0.1), {"other": api.tuner_stats(0.2)})
  with pytest.raises(ValueError, match=r"2 TunerStats \(state\[0\], "
                     r"state\[1\]\['other'\]\)"):
    api.step_info(state)


def test_bad_base_optimizer_is_clear():
  with pytest.raises(ValueError, match="unknown base optimizer 'sgdd'"):
    api.base_direction("sgdd")


def test_safe_div():
  assert float(api.safe_div(jnp.asarray(1.0), jnp.asarray(0.0))) == 0.0
  assert float(api.safe_div(jnp.asarray(1.0), jnp.asarray(4.0))) == 0.25
