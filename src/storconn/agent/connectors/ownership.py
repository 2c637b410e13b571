"""How a connector tells the reconciler that it did not make the target it found.

Ownership decides what the agent may take down: it must log out of (or
unmount) only what it made itself. Some connectors can only know whether
the target already exists once ``connect`` has done blocking work the tick
may not do: the iSCSI connector resolves the portal's host name there, and
it also sees sessions that exist but are not usable (FAILED, being
recovered by iscsid), which ``present()`` rightly reports as absent.

Such a ``connect`` raises :class:`FoundExisting` instead of returning. The
caller's contract:

- if the ownership record was written for this attempt (the target was not
  owned when the attempt began), delete it: the target is someone else's;
- if the target was owned before this attempt (adopted after a restart, or
  an earlier attempt of the agent's own may have completed late), keep it;
- then ask ``present()`` again: true means the target is usable now (mark it
  connected, owned or not); false means it exists but cannot be used yet, and
  the error stands until a later attempt, after the usual backoff.
"""

from __future__ import annotations

from storconn.connection import ErrorCode, StorconnError

__all__ = ["FoundExisting"]


class FoundExisting(StorconnError):
    """``connect`` found the target already there (in ``state``) and did not make it."""

    def __init__(
        self, message: str, *, state: str, code: ErrorCode = ErrorCode.CONNECTION_LOST
    ) -> None:
        super().__init__(message, code=code)
        self.state = state

    def __repr__(self) -> str:
        return f"FoundExisting({self.message!r}, state={self.state!r}, code={self.code.name})"
