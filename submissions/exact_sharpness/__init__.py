"""The exact-sharpness rule (Roulet et al. 2024, Eq. 16)."""

from edgeperf.submissions.exact_sharpness.transform import ExactSharpnessState
from edgeperf.submissions.exact_sharpness.transform import (
    scale_by_exact_sharpness)

__all__ = ["ExactSharpnessState", "scale_by_exact_sharpness"]
