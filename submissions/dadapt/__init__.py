"""D-Adaptation (Defazio & Mishchenko 2023), from optax.contrib."""
