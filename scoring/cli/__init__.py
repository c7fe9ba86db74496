"""Command-line entry points of scoring (``edgeperf-score``,
``edgeperf-bench``); the flag convention is the harness's
(:mod:`edgeperf.harness.cli`)."""
