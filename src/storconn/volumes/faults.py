"""Crash points for the fault-injection tests: each step of a lifecycle names its checkpoint.

``STORCONN_VOLUMES_CRASH_AT=<step>`` makes the process die (``os._exit``,
as a SIGKILL would: no cleanup, no flush) when it reaches that step, so a
test can prove that ``cleanup()`` repairs whatever that step left. Read once
at import; costs one comparison per step otherwise.
"""

from __future__ import annotations

import os

__all__ = ["STEPS", "checkpoint"]

_CRASH_AT = os.environ.get("STORCONN_VOLUMES_CRASH_AT", "")

STEPS = (
    "create:recorded",
    "create:created",
    "connect:recorded",
    "connect:exported",
    "connect:initialized",
    "attach:recorded",
    "attach:attached",
    "detach:recorded",
    "detach:detached",
    "disconnect:recorded",
    "disconnect:terminated",
    "disconnect:unexported",
    "delete:recorded",
)


def checkpoint(step: str) -> None:
    """Die here if the tests asked for it; nothing otherwise."""
    if _CRASH_AT and step == _CRASH_AT:
        os._exit(137)
