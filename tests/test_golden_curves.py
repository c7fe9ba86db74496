"""Fixed-seed curves recorded before the layout change still come out
identical up to float32 roundoff (another CPU sums in another order): every
shipped submission on the linear workload (the other workloads: ``python -m
edgeperf.benchmarks.golden_curves``)."""

import pytest

from edgeperf import _jsonio
from edgeperf.benchmarks import golden_curves


@pytest.mark.parametrize("submission", sorted(golden_curves.HPARAMS))
def test_curve_is_unchanged(submission):
  recorded = _jsonio.read_json(golden_curves.GOLDEN_FILE)
  key = f"linreg_digits/{submission}"
  now = golden_curves.curve("linreg_digits", submission)
  steps = golden_curves.compared_steps("linreg_digits", submission)
  assert golden_curves.differences(recorded[key], now, steps=steps) == []
  assert now["status"] == recorded[key]["status"]


def test_a_changed_curve_is_caught():
  recorded = _jsonio.read_json(golden_curves.GOLDEN_FILE)
  curve = recorded["linreg_digits/constant"]
  moved = dict(curve, objective=[x * (1 + 1e-3) for x in curve["objective"]])
  assert golden_curves.differences(curve, curve) == []
  assert golden_curves.differences(curve, moved)[0].startswith("objective[0]")
