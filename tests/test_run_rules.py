"""The runner's rules without a model: chunking, target reach, divergence,
budgets and the final status."""

import numpy as np
import pytest

from edgeperf.harness import reach
from edgeperf.harness import run_plan
from edgeperf.harness import run_status


def test_first_reach_is_first_crossing_after_finite_values():
  assert reach.first_reach([3.0, 2.0, 1.0, 0.5], 1.0) == 2
  assert reach.first_reach([3.0, 2.0], 1.0) is None
  assert reach.first_reach([3.0, np.nan, 0.5], 1.0) is None  # diverged first
  assert reach.first_reach([0.9, np.inf], 1.0) == 0  # reached, then diverged


def test_reach_rule_ignores_a_single_dip():
  # An oscillating run dips under the target on one spike: not there yet.
  spiky = [3.0, 2.9, 0.5, 2.8, 2.7, 1.0, 0.9, 0.8, 0.7, 0.6]
  assert reach.first_reach(spiky, 1.0) == 2  # the per-step rule would
  assert reach.first_reach(spiky, 1.0, 5) == 9  # mean of 5 ≤ 1 only here
  np.testing.assert_allclose(reach.running_mean([2.0, 4.0, 6.0], 2),
                             [2.0, 3.0, 5.0])


def test_reach_watch_matches_first_reach_over_pieces():
  values = [5.0, 4.0, 3.5, 2.0, 2.5, 1.0, 0.7]
  for cut in range(len(values) + 1):
    watch = reach.ReachWatch(2.2)
    watch.extend(values[:cut])
    watch.extend(values[cut:])
    assert watch.index == reach.first_reach(values, 2.2) == 3
  watch = reach.ReachWatch(1.0)
  watch.extend([3.0, np.nan])
  assert watch.extend([0.1]) is None and not watch.reached  # broken first
  assert reach.ReachWatch(None).extend([0.0]) is None  # no target


def test_plan_chunks_end_at_every_evaluation_and_diagnostic():
  plan = run_plan.RunPlan(total=25, eval_every=10, diag_every=4,
                        chunk_mode="scan")
  ends = [end for _, end in plan.chunks()]
  assert ends == [4, 8, 10, 12, 16, 20, 24, 25]
  starts = [start for start, _ in plan.chunks()]
  assert starts == [0] + ends[:-1]
  assert plan.diagnoses(8) and plan.diagnoses(25) and not plan.diagnoses(10)


@pytest.mark.parametrize("changes,target,expected", [
    (dict(target_step=7), 1.0, "target_reached"),
    (dict(target_step=7, diverged_at=9), 1.0, "target_reached"),
    (dict(diverged_at=9), 1.0, "diverged"),
    (dict(diverged_at=9), None, "diverged"),
    (dict(stopped_by_time=True), 1.0, "budget_exhausted"),
    (dict(stopped_by_time=True), None, "completed"),
    ({}, 1.0, "budget_exhausted"),
    ({}, None, "completed"),
])
def test_final_status_rule(changes, target, expected):
  run = run_status.RunStatus(steps_run=10, **changes)
  status, message = run_status.final_status(run, target=target, budget=10,
                                        key="w/small/full")
  assert status == expected
  if "diverged_at" in changes:
    assert "non-finite objective at step 9" in message
  if changes.get("stopped_by_time"):
    assert "time budget" in message


def test_bad_plan_is_refused_with_the_name(get_workload):
  w = get_workload("linreg_digits")
  with pytest.raises(ValueError, match="max_steps must be an int >= 1"):
    run_plan.RunPlan.make(w, max_steps=0, eval_every=None, chunk_mode=None,
                        diag_every=0)
  with pytest.raises(ValueError, match="unknown chunk_mode 'fast'"):
    run_plan.RunPlan.make(w, max_steps=5, eval_every=None, chunk_mode="fast",
                        diag_every=0)
