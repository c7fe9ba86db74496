"""The quadratically greedy rule (Roulet et al. 2024, Eq. 3)."""

from edgeperf.submissions.qg.transform import scale_by_quadratically_greedy

__all__ = ["scale_by_quadratically_greedy"]
