"""Measurement scripts, run from the Makefile: not part of the library
(nothing imports them; they may import every package).

* :mod:`.overhead` (``make overhead``) — the harness's clock against a bare
  jitted loop, and how each workload's chunk mode was chosen.
* :mod:`.tuner_cost` (``make tuner-cost``) — each tuner's per-step cost ÷
  the constant-learning-rate step.
* :mod:`.lanczos` (``make lanczos``) — Lanczos against power iteration.
* :mod:`.eos_figure` (``make eos-figure``) — the edge-of-stability figure.
* :mod:`.render_profile` (``make profile``) — the cost-profile tables.
* :mod:`.pipeline` (``make pipeline``) — the mini-batch input pipeline
  against a device-resident batch.
* :mod:`.paper_memory` (``make paper-memory``) — XLA memory of a constant-lr
  and a CDAT step on every paper preset.
* :mod:`.golden_curves` — fixed-seed curves of every submission, recorded
  and checked (the proof that a refactoring changed no behaviour).

Each takes absl flags (``--help``), parsed the harness's way
(:mod:`edgeperf.cli.flagparse`).
"""
