"""The Polyak stepsize (Roulet et al. 2024, Eq. 14)."""

from edgeperf.submissions.polyak.transform import NORMALIZERS
from edgeperf.submissions.polyak.transform import PolyakState
from edgeperf.submissions.polyak.transform import scale_by_polyak

__all__ = ["NORMALIZERS", "PolyakState", "scale_by_polyak"]
