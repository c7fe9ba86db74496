"""Schedule-free (Defazio et al. 2024), from optax.contrib."""
