"""A closed-loop edge controller: a PI law on log η holding the edge ratio."""

from edgeperf.submissions.edge_controller.transform import EdgeControllerState
from edgeperf.submissions.edge_controller.transform import scale_by_edge_controller
from edgeperf.submissions.edge_controller.transform import stable_gains

__all__ = ["EdgeControllerState", "scale_by_edge_controller", "stable_gains"]
