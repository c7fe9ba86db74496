"""The protocol's three steps: targets, tuning, bench.

1. :mod:`.targets` — each workload's target, set by its best constant rate
   (``make targets``).
2. :mod:`.tuning` — the external-tuning protocol's tuned points
   (``make tune``, ``tuned_points.json``).
3. :mod:`.bench` — every submission re-timed at its tuned point against the
   targets (``make bench``).

May import ``scoring``, ``harness`` and below.
"""
