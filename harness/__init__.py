"""Runs submissions on workloads, timed; records steps, evals, diagnostics."""
