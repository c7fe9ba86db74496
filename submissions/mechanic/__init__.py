"""Mechanic (Cutkosky, Defazio & Mehta 2023), from optax.contrib."""
