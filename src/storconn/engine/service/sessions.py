"""SSO sessions: bearer tokens stored in the database by their SHA-256, so any engine process accepts them.

Several engine processes on one PostgreSQL (or one SQLite file) share
their tokens: a token issued by one is accepted by every other, and a
revocation in one refuses it in all of them from the next request on (no
process caches a token). The token itself is never stored, logged or
returned again; only its digest is.

Expiry is a sliding one, as oVirt's engine sessions: a token lapses
``idle_timeout`` seconds after its last use. Moving the expiry on every
request would turn every GET into a database write (a synced commit on
SQLite), so a use moves it only when the last move is more than
``TOUCH_INTERVAL`` (or a tenth of the timeout, if shorter) old: a token in
use lapses between ``idle_timeout - TOUCH_INTERVAL`` and ``idle_timeout``
seconds after its last use. Expiry is wall-clock time (``time.time``),
which the engine processes' machines must agree on. Expired tokens are
deleted whenever a new one is issued.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import time
from collections.abc import Callable

from storconn.engine.errors import Unauthorized
from storconn.engine.model import User
from storconn.engine.service.base import EngineBase

log = logging.getLogger(__name__)

TOUCH_INTERVAL = 60.0


def token_digest(token: str) -> str:
    """The stored form of a token: its SHA-256, hex (tokens are random, so no salt or slow hash is needed)."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


class SessionCommands(EngineBase):
    # Wall-clock seconds; a test may replace it on an instance.
    _session_clock: Callable[[], float] = staticmethod(time.time)

    def open_session(self, user: User, idle_timeout: float) -> str:
        """A new bearer token for ``user`` (who has just authenticated); expired tokens are pruned."""
        token = secrets.token_urlsafe(32)
        now = self._session_clock()
        with self._tx() as repo:
            pruned = repo.prune_tokens(now)
            stored = repo.add_token(
                token_digest(token), user.name, idle_timeout=idle_timeout, expires_at=now + idle_timeout
            )
        if pruned:
            log.debug("pruned %d expired SSO tokens", pruned)
        if not stored:
            raise Unauthorized("USER_FAILED_TO_AUTHENTICATE", "Cannot authenticate user: the user was removed.")
        return token

    def session_user(self, token: str) -> User | None:
        """The user of a live token, with their current role; None for an unknown, expired or revoked one.

        One indexed SELECT; an UPDATE of the expiry at most once per touch interval.
        """
        digest = token_digest(token)
        with self._tx(write=False) as repo:
            found = repo.token(digest)
        if found is None:
            return None
        user, expires_at, idle_timeout = found
        now = self._session_clock()
        if expires_at <= now:
            return None
        touch = min(TOUCH_INTERVAL, idle_timeout / 10)
        if now + idle_timeout - expires_at >= touch:
            with self._tx() as repo:
                repo.extend_token(digest, now + idle_timeout)
        return user

    def close_session(self, token: str) -> None:
        """Revoke a token in every engine process; an unknown one is ignored."""
        with self._tx() as repo:
            repo.delete_token(token_digest(token))
