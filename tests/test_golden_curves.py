"""Fixed-seed curves recorded before the layout change still come out
identical: every shipped submission on the linear workload (the other
workloads: ``python -m edgeperf.harness.measure.golden_curves``)."""

import pytest

from edgeperf import _jsonio
from edgeperf.harness.measure import golden_curves


@pytest.mark.parametrize("submission", sorted(golden_curves.HPARAMS))
def test_curve_is_unchanged(submission):
  recorded = _jsonio.read_json(golden_curves.GOLDEN_FILE)
  key = f"linreg_digits/{submission}"
  now = golden_curves.curve("linreg_digits", submission)
  assert golden_curves.differences(recorded[key], now) == []
  assert now["status"] == recorded[key]["status"]
