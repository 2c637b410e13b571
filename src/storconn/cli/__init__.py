"""The ``storconn`` command."""
