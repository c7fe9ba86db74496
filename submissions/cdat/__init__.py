"""CDAT (Roulet et al. 2024, Eq. 8)."""

from edgeperf.submissions.cdat.transform import CDATState
from edgeperf.submissions.cdat.transform import ESTIMATORS
from edgeperf.submissions.cdat.transform import scale_by_cdat

__all__ = ["CDATState", "ESTIMATORS", "scale_by_cdat"]
