"""The robustness goal of amortised CDAT, judged on hand-made rows."""

import math

from edgeperf.benchmarks import amortised_cdat


def _row(variant, seed, reach, failed=False, workload="w"):
  return dict(workload=workload, variant=variant, seed=seed, reach=reach,
              diverged=failed, failed=failed)


def test_ratio_within_goal_meets_it():
  rows = [_row("k=1", 0, 100), _row("k=1", 1, 200),
          _row("k=10", 0, 125), _row("k=10", 1, 150)]
  (g,) = amortised_cdat.against_reference(rows)
  assert g["ratios"] == [1.25, 0.75]
  assert g["meets_goal"]


def test_slower_or_unreached_misses_it():
  rows = [_row("k=1", 0, 100), _row("k=1", 1, 200),
          _row("k=10", 0, 126), _row("k=10", 1, None)]
  (g,) = amortised_cdat.against_reference(rows)
  assert g["ratios"][0] == 1.26 and math.isinf(g["ratios"][1])
  assert not g["meets_goal"]


def test_failure_where_reference_holds_misses_it():
  # k = 1 never reached (nothing to compare) but did not blow up: a blow-up
  # of the variant still misses the goal; a shared blow-up does not.
  rows = [_row("k=1", 0, None), _row("k=1", 1, None, failed=True),
          _row("k=10", 0, None, failed=True), _row("k=10", 1, None, True)]
  (g,) = amortised_cdat.against_reference(rows)
  assert g["ratios"] == [None, None]
  assert not g["meets_goal"]
  rows[2] = _row("k=10", 0, None)
  assert amortised_cdat.against_reference(rows)[0]["meets_goal"]
  assert "meets the goal" in amortised_cdat.goal_lines(rows)
