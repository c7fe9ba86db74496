"""Command-line entry points of the harness (``edgeperf-run``,
``edgeperf-sweep``, ``edgeperf-set-targets``, ``edgeperf-plot``).

Each module defines its absl flags on a private ``FlagValues`` inside
``main`` (no global flag state, nothing at import time), parses them with
:func:`edgeperf.harness.cli.flagparse.parse`, and hands plain values to the
library: no flag is read below the entry module.
"""
