"""Constant learning rate (the tuned baseline)."""

from edgeperf.submissions.constant.transform import ConstantLRState
from edgeperf.submissions.constant.transform import scale_by_constant_lr

__all__ = ["ConstantLRState", "scale_by_constant_lr"]
