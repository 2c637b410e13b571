"""The repository: the engine's entities in and out of the database, inside one transaction.

Each method reads or writes rows through the session it was given and
speaks the entities of ``storconn.engine.model``; nothing here decides
whether a change is allowed (``storconn.engine.rules`` does). Secrets are
encrypted on the way in and decrypted on the way out only when the caller
asks for them (``secrets=True``): what leaves for the API carries none.

Thread-safety: a Repository lives inside one transaction of one thread.
"""

from __future__ import annotations

from .clusters import ClusterRows
from .disks import DiskRows
from .events import EventRows
from .references import ReferenceRows
from .sessions import SessionRows

__all__ = ["Repository"]


class Repository(ReferenceRows, DiskRows, ClusterRows, EventRows, SessionRows):
    """Every entity's rows; one per transaction (see ``UnitOfWork``)."""
