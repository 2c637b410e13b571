"""The engine's errors: each knows its HTTP status and oVirt's message key.

Tree::

    EngineError                      (400 unless a subclass says otherwise)
     ├── BadRequest                  400  validation, unsupported actions
     ├── NotFound                    404  unknown ids and names
     ├── Conflict                    409  duplicates, in use, immutability
     │    └── ObjectLocked           409  ACTION_TYPE_FAILED_OBJECT_LOCKED
     ├── Unauthorized                401
     └── Forbidden                   403  the role does not allow it

The fault body oVirt sends is ``<fault><reason>Operation Failed</reason>
<detail>[Cannot add Storage Connection. Storage connection already exists.]
</detail></fault>``: ``detail`` is built from the action ("Cannot add
Storage Connection.") and the messages; the message key is kept beside it
so that tooling matching on keys keeps working.
"""

from __future__ import annotations


class EngineError(Exception):
    status = 400
    reason = "Operation Failed"

    def __init__(self, key: str, message: str, *, action: str | None = None) -> None:
        super().__init__(message)
        self.key = key
        self.message = message
        self.action = action  # "Cannot add Storage Connection." — filled in by the command

    @property
    def detail(self) -> str:
        prefix = f"{self.action} " if self.action else ""
        return f"[{prefix}{self.message}]"


class BadRequest(EngineError):
    status = 400


class NotFound(EngineError):
    status = 404
    reason = "Not Found"


class Conflict(EngineError):
    status = 409


class ObjectLocked(Conflict):
    def __init__(self, what: str, *, action: str | None = None) -> None:
        super().__init__(
            "ACTION_TYPE_FAILED_OBJECT_LOCKED",
            "Related operation is currently in progress. Please try again later.",
            action=action,
        )
        # oVirt's text names nothing; what was locked is kept for logs and tests.
        self.what = what


class Unauthorized(EngineError):
    status = 401
    reason = "Unauthorized"


class Forbidden(EngineError):
    status = 403
    reason = "Forbidden"
