"""The fractal Chebyshev schedule (Agarwal, Goel & Zhang 2021)."""

from edgeperf.submissions.fractal_chebyshev.transform import ORDERS
from edgeperf.submissions.fractal_chebyshev.transform import (
    FractalChebyshevState)
from edgeperf.submissions.fractal_chebyshev.transform import (
    chebyshev_node_cosines)
from edgeperf.submissions.fractal_chebyshev.transform import fractal_order
from edgeperf.submissions.fractal_chebyshev.transform import (
    scale_by_fractal_chebyshev)

__all__ = ["FractalChebyshevState", "ORDERS", "chebyshev_node_cosines",
           "fractal_order", "scale_by_fractal_chebyshev"]
