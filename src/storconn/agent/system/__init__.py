"""Thin, typed wrappers over real commands and kernel files; every call has a hard timeout."""
