"""Standard workloads: model + data + loss + target loss + budget.

Use :func:`get` to build one by name; :func:`names` lists them.
"""

from edgeperf.workloads.base import FULL_BATCH, Regime, Workload
from edgeperf.workloads.registry import (EMBEDDED, PAPER, SIZES, TFDS, get,
                                         names, sizes)

__all__ = ["EMBEDDED", "FULL_BATCH", "PAPER", "Regime", "SIZES", "TFDS",
           "Workload", "get", "names", "sizes"]
