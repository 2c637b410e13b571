"""One command's transaction: a Repository in, a commit or a rollback out, errors in the engine's terms.

The database is a boundary: SQLAlchemy's exceptions are translated here
(DESIGN.md section 7, habit 6) so that commands only ever see
``storconn.engine.errors``. A unique index or foreign key that refuses a
write becomes a Conflict (409): the rules should have caught it first, and
this is the net under them for races between engine processes.

Thread-safety: a UnitOfWork is shared; each call opens its own transaction.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.exc import IntegrityError, OperationalError

from storconn.engine.errors import Conflict, EngineError
from storconn.engine.secrets import SecretBox

from .database import Database
from .repository import Repository

__all__ = ["UnitOfWork"]

log = logging.getLogger(__name__)


class UnitOfWork:
    def __init__(self, database: Database, box: SecretBox) -> None:
        self.database = database
        self._box = box

    @contextmanager
    def __call__(self, *, write: bool = True) -> Iterator[Repository]:
        """A repository in one transaction; read-only ones (``write=False``) never block writers."""
        try:
            with self.database.transaction(write=write) as session:
                yield Repository(session, self._box)
        except IntegrityError as exc:
            text = str(exc.orig)
        except OperationalError as exc:
            log.error("database error: %s", type(exc.orig).__name__)
            text = None
        else:
            return
        # Unchained ("from None"): the driver's text quotes the statement's parameters.
        raise _translate(text) from None


def _translate(text: str | None) -> EngineError:
    if text is None:
        return EngineError("DB_ERROR", "The database could not complete the operation.")
    if "identity" in text:
        return Conflict(
            "ACTION_TYPE_FAILED_STORAGE_CONNECTION_ALREADY_EXISTS",
            "Storage connection already exists (another command added the same target).",
        )
    if "name" in text:
        return Conflict("ACTION_TYPE_FAILED_NAME_ALREADY_USED", "The name is already in use.")
    return Conflict(
        "ACTION_TYPE_FAILED_ENTITY_IN_USE", "The entity is in use or was changed meanwhile."
    )
