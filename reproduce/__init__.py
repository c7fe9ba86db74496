"""Reproduces the papers' findings F1–F8 and simulates their theory models
(Roulet et al., 2024, "Stepping on the Edge: Curvature Aware Learning Rate
Tuners"): runs, measured numbers, computed verdicts, figures, report.

Owns the experiments and their measures, one check per claim
(:mod:`.criteria`), the findings, the theory models (:mod:`.theory`), the
figures and ``findings.md``.  May import ``harness``, ``submissions``,
``workloads`` (never ``scoring`` or ``protocol``: a finding is measured on
runs, not on the leaderboard).
"""
