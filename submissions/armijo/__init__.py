"""Armijo backtracking linesearch (Roulet et al. 2024, Eq. 1, App. C)."""

from edgeperf.submissions.armijo.transform import ArmijoState
from edgeperf.submissions.armijo.transform import scale_by_armijo

__all__ = ["ArmijoState", "scale_by_armijo"]
