"""edgeperf: an AlgoPerf-style benchmark suite for learning-rate tuners.

Subpackages (each a top-level folder of the repository): ``workloads``,
``submissions``, ``harness``, ``scoring``.
"""

__version__ = "0.1.0"
