"""CDAT with its curvature amortised: an exact refresh every 10 steps."""
