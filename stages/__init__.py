"""Thin DVC stage entry points: ``python -m stages.<stage> <survey>``."""
