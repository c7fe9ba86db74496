"""Multiplicative hypergradient descent (Roulet et al. 2024, Eq. 15)."""

from edgeperf.submissions.hypergradient.transform import HypergradientState
from edgeperf.submissions.hypergradient.transform import scale_by_hypergradient

__all__ = ["HypergradientState", "scale_by_hypergradient"]
