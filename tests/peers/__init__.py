"""Fixtures' helpers for real processes and real mounts."""
