"""SSO tokens: stored by their digest, found with their user in one indexed query, pruned when expired."""

from __future__ import annotations

from sqlalchemy import bindparam, delete, select, update

from storconn.engine.model import Role, User

from ..schema import SsoTokenRow, UserRow
from .base import RepositoryBase


# Built once: constructing the statement cost several times its execution (a per-request cost).
_TOKEN = (
    select(UserRow.name, UserRow.role, SsoTokenRow.expires_at, SsoTokenRow.idle_timeout)
    .join(UserRow, UserRow.id == SsoTokenRow.user_id)
    .where(SsoTokenRow.token_hash == bindparam("token_hash"))
)


class SessionRows(RepositoryBase):
    def add_token(self, token_hash: str, user_name: str, *, idle_timeout: float, expires_at: float) -> bool:
        """Store a token of ``user_name``; False when there is no such user (removed meanwhile)."""
        user_id = self.session.scalar(select(UserRow.id).where(UserRow.name == user_name))
        if user_id is None:
            return False
        self.session.add(
            SsoTokenRow(
                token_hash=token_hash, user_id=user_id, idle_timeout=idle_timeout, expires_at=expires_at
            )
        )
        self.session.flush()
        return True

    def token(self, token_hash: str) -> tuple[User, float, float] | None:
        """(user, expires_at, idle_timeout) of a stored token, expired or not; None if unknown.

        One SELECT by primary key, joined to the user for their current role.
        """
        row = self.session.connection().execute(_TOKEN, {"token_hash": token_hash}).first()
        if row is None:
            return None
        return User(row[0], Role(row[1])), float(row[2]), float(row[3])

    def extend_token(self, token_hash: str, expires_at: float) -> None:
        """Move the expiry forward (never back: another process may have moved it further)."""
        t = SsoTokenRow
        self.session.connection().execute(
            update(t).where(t.token_hash == token_hash, t.expires_at < expires_at).values(expires_at=expires_at)
        )

    def delete_token(self, token_hash: str) -> None:
        self.session.connection().execute(delete(SsoTokenRow).where(SsoTokenRow.token_hash == token_hash))

    def prune_tokens(self, now: float) -> int:
        """Delete every token expired at ``now``; how many went."""
        result = self.session.connection().execute(delete(SsoTokenRow).where(SsoTokenRow.expires_at <= now))
        return int(result.rowcount or 0)
