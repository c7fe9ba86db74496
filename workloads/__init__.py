"""Standard workloads: model + data + loss + target loss + budget.

Use :func:`~edgeperf.workloads.registry.get` to build one by name;
:func:`~edgeperf.workloads.registry.names` lists them.
"""

from edgeperf.workloads.base import FULL_BATCH, Regime, Workload
from edgeperf.workloads.registry import (EMBEDDED, PAPER, SIZES, TFDS, get,
                                         names, sizes)

__all__ = ["EMBEDDED", "FULL_BATCH", "PAPER", "Regime", "SIZES", "TFDS",
           "Workload", "get", "names", "sizes"]
