"""Scoring whole files: shared part files, the local (accelerate) engine and the Ray engine."""
