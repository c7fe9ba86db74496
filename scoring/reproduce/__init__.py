"""Reproduces the papers' findings F1–F8 and simulates their theory models
(Roulet et al., 2024, "Stepping on the Edge: Curvature Aware Learning Rate
Tuners"): runs, measured numbers, computed verdicts, figures, report."""
