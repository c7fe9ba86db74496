"""Prodigy (Mishchenko & Defazio 2023), from optax.contrib."""
