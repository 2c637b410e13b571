"""Error codes and the exceptions that carry them.

Every failure storconn reports has a numeric code and a message; on the wire
they travel as the pair ``[code, message]`` and success is ``[0, ""]``.
Codes below 490 keep VDSM's numbers, 490 and up are storconn's own
(``docs/errors.md`` lists them all).

The exception tree::

    Exception
     └── StorconnError           code: ErrorCode (GENERAL unless given), message
          └── InvalidParameter   code INVALID_PARAMETER (1000), field, reason

Other parts derive their own errors from ``StorconnError`` and pick a code;
foreign exceptions (``OSError``, ``subprocess``, ``sqlite3``, pydantic) are
translated at the boundary with ``raise ... from exc``, so callers catch one
base class and can always answer with ``as_pair()``.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Any

__all__ = ["ErrorCode", "InvalidParameter", "StorconnError"]


class ErrorCode(IntEnum):
    """The numbers reported in ``lastError`` and in acquire/release answers."""

    OK = 0
    GENERAL = 100
    STORAGE_SERVER_ACTION = 450
    CONNECTION = 451
    DISCONNECTION = 452
    STORAGE_SERVER_VALIDATION = 453
    ISCSI_LOGIN = 464
    ISCSI_SETUP = 465
    ACCESS_PERMISSION = 469
    MOUNT_TYPE = 470
    ISCSI_IFACE = 473
    ISCSI_LOGOUT = 474
    ISCSI_DISCOVERY = 475
    ISCSI_LOGIN_AUTH = 476
    MOUNT_ERROR = 477
    REF_ID_IN_USE = 478
    REF_ID_UNKNOWN = 479
    # storconn's own codes start at 490 so they never collide with VDSM's.
    CONFLICT = 490
    TIMEOUT = 491
    HUNG = 492
    BUSY = 493
    UNSUPPORTED = 494
    CONNECTION_LOST = 495
    STALE = 496
    INVALID_PARAMETER = 1000


class StorconnError(Exception):
    """A failure with a code; ``str(err)`` is the message alone."""

    def __init__(self, message: str, *, code: ErrorCode = ErrorCode.GENERAL) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def as_pair(self) -> list[int | str]:
        """The wire form ``[code, message]``, as in ``lastError``."""
        return [int(self.code), self.message]

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, code={self.code.name})"

    def __reduce__(self) -> tuple[Any, ...]:
        # Probes run in child processes: the code must survive pickling,
        # which by default replays only ``self.args``.
        return (_rebuild, (type(self), self.__dict__))


class InvalidParameter(StorconnError):
    """A request field was missing or wrong; ``field`` is its dotted wire path.

    The message never contains the field's value, so it is safe to report
    even when the field holds a secret.
    """

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}", code=ErrorCode.INVALID_PARAMETER)
        self.field = field
        self.reason = reason

    def __repr__(self) -> str:
        return f"InvalidParameter({self.field!r}, {self.reason!r})"


def _rebuild(cls: type[StorconnError], state: dict[str, Any]) -> StorconnError:
    err = cls.__new__(cls)
    Exception.__init__(err, state.get("message", ""))
    err.__dict__.update(state)
    return err
