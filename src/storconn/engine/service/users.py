"""Users: log in (SSO) and add users; the first admin on an empty database."""

from __future__ import annotations

import logging
import os
import uuid

from storconn.engine import rules
from storconn.engine.errors import Conflict, Unauthorized
from storconn.engine.model import (
    Role,
    User,
)
from storconn.engine.rules import Action
from storconn.engine.secrets import hash_password, verify_password
from storconn.engine.service.base import EngineBase, command

log = logging.getLogger(__name__)


ADMIN_USER = "admin@internal"
ADMIN_PASSWORD_ENV = "STORCONN_ADMIN_PASSWORD"


class UserCommands(EngineBase):
    def authenticate(self, username: str, password: str) -> User:
        name = rules.user_name(username)
        found = None
        # A name no user can have (PostgreSQL refuses a NUL in any text) is a
        # wrong login, never a database error; it is still hashed below.
        if len(name) <= 255 and not any(ord(char) < 0x20 or char == "\x7f" for char in name):
            with self._tx(write=False) as repo:
                found = repo.user(name)
        # verify_password hashes even for an unknown user: both answers take as long.
        if not verify_password(password, found[1] if found else None) or found is None:
            raise Unauthorized(
                "USER_FAILED_TO_AUTHENTICATE",
                "Cannot authenticate user: wrong user name or password.",
            )
        return found[0]

    @command(Action.ADD_USER)
    def add_user(self, username: str, password: str, role: Role) -> User:
        name = rules.check_name(rules.user_name(username), entity="User")
        digest = hash_password(rules.check_password(password))  # slow: outside the transaction
        user = User(name=name, role=Role(role))
        with self._tx() as repo:
            rules.check_name_free(name, repo.user(name) is not None, entity="user")
            repo.add_user(str(uuid.uuid4()), user, digest)
        return user

    def _ensure_admin(self, password: str | None) -> None:
        """With no users yet, create ``admin@internal`` with the given (or environment's) password."""
        password = password or os.environ.get(ADMIN_PASSWORD_ENV)
        with self._tx(write=False) as repo:
            if repo.count_users():
                return
        if not password:
            log.warning(
                "the engine has no users: start it with an admin password (%s)", ADMIN_PASSWORD_ENV
            )
            return
        try:
            self.add_user(ADMIN_USER, password, Role.ADMIN)
        except Conflict:
            pass  # another engine process created it first

    def web_session_key(self) -> bytes:
        """The key that signs the web admin's session cookies: shared by engine processes on one key file."""
        return self._box.derive("storconn web session")
