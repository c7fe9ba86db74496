"""DoG, "Distance over Gradients" (Ivgi et al. 2023), from optax.contrib."""
