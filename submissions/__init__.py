"""Tuners: one folder per submission (``submission.py`` + ``search_space.json``)."""
