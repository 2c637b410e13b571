"""Who is calling, and may they: oVirt's SSO token endpoints, bearer tokens, HTTP Basic, roles.

- ``POST /ovirt-engine/sso/oauth/token`` (a form: ``grant_type=password``,
  ``username``, ``password``, ``scope``) checks the user with
  ``Engine.authenticate`` and answers ``{"access_token", "token_type":
  "bearer", "scope", "exp", "expires_in"}``; failures answer the JSON the SDK
  reads (``{"error": .., "error_description": ..}``) with 400 or 401.
- ``GET|POST /ovirt-engine/services/sso-logout`` revokes the token given as
  ``token`` (form or query) or as the bearer; it always answers ``{}``.
- Every API call carries ``Authorization: Bearer <token>`` or HTTP Basic.
  Tokens live in the engine's database (``EngineTokens``, see
  ``storconn.engine.service.sessions``), stored by their SHA-256, shared by
  every engine process on it, and expire after ``token_ttl`` seconds
  without use; ``TokenStore`` keeps them in memory instead, for an app of
  its own. Basic credentials are checked with the same slow hash as the
  token endpoint; a success is remembered for a minute, by a digest of the
  credentials, so that a script using Basic does not pay the hash on every
  call.
- Roles: an admin may do everything, a viewer only GET (and HEAD); anything
  else answers 403 with a fault. ``authorize`` is a dependency of every API
  route (the app's tests check that none lacks it).

Thread-safety: ``TokenStore`` and ``CredentialCache`` take their own lock
in every public method. ``Tokens`` methods block (the database): they run
in a worker thread.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import parse_qs

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse

from storconn.engine.errors import EngineError, Forbidden, Unauthorized
from storconn.engine.model import Role, User

from .media import read_raw
from .port import EnginePort

log = logging.getLogger(__name__)

DEFAULT_TOKEN_TTL = 30 * 60.0
BASIC_CACHE_TTL = 60.0
MAX_FORM = 64 * 1024
READ_METHODS = frozenset({"GET", "HEAD"})
REALM = 'Basic realm="ENGINE"'


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(slots=True)
class _Entry:
    user: User
    expires: float


class Tokens(Protocol):
    """Where bearer tokens live: issue one, find its user (extending its life), revoke it."""

    @property
    def ttl(self) -> float: ...
    def issue(self, user: User) -> str: ...
    def user(self, token: str) -> User | None: ...
    def revoke(self, token: str) -> None: ...


class EngineTokens:
    """Bearer tokens in the engine's database, shared by every engine process on it."""

    def __init__(self, engine: EnginePort, ttl: float = DEFAULT_TOKEN_TTL) -> None:
        self._engine = engine
        self._ttl = ttl

    @property
    def ttl(self) -> float:
        return self._ttl

    def issue(self, user: User) -> str:
        return self._engine.open_session(user, self._ttl)

    def user(self, token: str) -> User | None:
        return self._engine.session_user(token)

    def revoke(self, token: str) -> None:
        self._engine.close_session(token)


class TokenStore:
    """Bearer tokens in memory, by digest, each expiring ``ttl`` seconds after its last use."""

    def __init__(self, ttl: float = DEFAULT_TOKEN_TTL, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._ttl = ttl
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: dict[str, _Entry] = {}

    @property
    def ttl(self) -> float:
        return self._ttl

    def issue(self, user: User) -> str:
        """A new token for ``user``."""
        token = secrets.token_urlsafe(32)
        with self._lock:
            self._purge_locked()
            self._entries[_digest(token)] = _Entry(User(user.name, user.role), self._clock() + self._ttl)
        return token

    def user(self, token: str) -> User | None:
        """The token's user, extending its life; None for an unknown or expired token."""
        key = _digest(token)
        with self._lock:
            entry = self._entries.get(key)
            now = self._clock()
            if entry is None or entry.expires <= now:
                self._entries.pop(key, None)
                return None
            entry.expires = now + self._ttl
            return User(entry.user.name, entry.user.role)

    def revoke(self, token: str) -> None:
        """Forget the token; an unknown one is ignored."""
        with self._lock:
            self._entries.pop(_digest(token), None)

    def _purge_locked(self) -> None:
        now = self._clock()
        for key in [k for k, e in self._entries.items() if e.expires <= now]:
            del self._entries[key]


class CredentialCache:
    """Recently checked Basic credentials, by a digest of ``username:password``."""

    def __init__(self, ttl: float = BASIC_CACHE_TTL, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._ttl = ttl
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: dict[str, _Entry] = {}

    def get(self, username: str, password: str) -> User | None:
        key = _digest(f"{username}\0{password}")
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or entry.expires <= self._clock():
                self._entries.pop(key, None)
                return None
            return User(entry.user.name, entry.user.role)

    def put(self, username: str, password: str, user: User) -> None:
        with self._lock:
            now = self._clock()
            for key in [k for k, e in self._entries.items() if e.expires <= now]:
                del self._entries[key]
            self._entries[_digest(f"{username}\0{password}")] = _Entry(user, now + self._ttl)


class Authenticator:
    """Finds the caller of a request (bearer token or Basic) and checks their role."""

    def __init__(self, engine: EnginePort, tokens: Tokens, basic: CredentialCache | None = None) -> None:
        self.engine = engine
        self.tokens = tokens
        self.basic = basic or CredentialCache()

    async def user(self, request: Request) -> User:
        header = request.headers.get("authorization", "")
        scheme, _, credentials = header.partition(" ")
        scheme = scheme.lower()
        credentials = credentials.strip()
        if scheme == "bearer" and credentials:
            user = await run_in_threadpool(self.tokens.user, credentials)
            if user is None:
                raise _unauthorized("The access token is unknown or expired.")
            return user
        if scheme == "basic" and credentials:
            username, password = _basic(credentials)
            cached = self.basic.get(username, password)
            if cached is not None:
                return cached
            user = await self.check_password(username, password)
            self.basic.put(username, password, user)
            return user
        raise _unauthorized(
            "Authentication is required: a bearer token from /ovirt-engine/sso/oauth/token, or HTTP Basic."
        )

    async def check_password(self, username: str, password: str) -> User:
        try:
            return await run_in_threadpool(self.engine.authenticate, username, password)
        except Unauthorized:
            raise
        except EngineError as exc:
            raise _unauthorized(exc.message) from exc

    async def authorize(self, request: Request) -> User:
        """The dependency of every API route: the caller, allowed to use this method, or 401/403."""
        user = await self.user(request)
        if request.method not in READ_METHODS and user.role != Role.ADMIN:
            raise Forbidden("USER_NOT_AUTHORIZED_TO_PERFORM_ACTION",
                            f"User is not authorized to perform this action (role {user.role}).")
        request.state.user = user
        return user


def _unauthorized(message: str) -> Unauthorized:
    return Unauthorized("USER_IS_NOT_LOGGED_IN", message)


def _basic(credentials: str) -> tuple[str, str]:
    try:
        decoded = base64.b64decode(credentials, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise _unauthorized("Malformed HTTP Basic credentials.") from exc
    username, sep, password = decoded.partition(":")
    if not sep or not username:
        raise _unauthorized("Malformed HTTP Basic credentials.")
    return username, password


# --- the SSO endpoints -----------------------------------------------------


def _sso_error(status: int, error: str, description: str) -> JSONResponse:
    return JSONResponse({"error": error, "error_description": description}, status_code=status,
                        headers={"Cache-Control": "no-store"})


async def _form(request: Request) -> dict[str, str]:
    """A urlencoded form body (never the query: no passwords in URLs); the first value of each field."""
    data = await read_raw(request, MAX_FORM)
    try:
        parsed = parse_qs(data.decode("utf-8", "replace"), keep_blank_values=True, max_num_fields=32)
    except ValueError:  # too many fields
        return {}
    return {name: values[0] for name, values in parsed.items() if values}


def sso_router(auth: Authenticator) -> APIRouter:
    """The SSO endpoints the SDK uses (not under the API prefix, and not behind ``authorize``)."""
    router = APIRouter()

    @router.post("/ovirt-engine/sso/oauth/token")
    async def token(request: Request) -> JSONResponse:
        try:
            form = await _form(request)
        except EngineError as exc:
            return _sso_error(exc.status, "invalid_request", exc.message)
        if form.get("grant_type") != "password":
            return _sso_error(400, "unsupported_grant_type",
                              f"The grant type {form.get('grant_type', '')!r} is not supported; use 'password'.")
        username, password = form.get("username", ""), form.get("password", "")
        if not username:
            return _sso_error(400, "invalid_request", "The username is missing.")
        try:
            user = await auth.check_password(username, password)
        except Unauthorized:
            return _sso_error(401, "access_denied",
                              f"Cannot authenticate user '{username}': The username or password is incorrect.")
        except Exception:  # the SDK can only read JSON here: never a bare 500 page
            log.exception("authenticating %s failed unexpectedly", username)
            return _sso_error(500, "server_error", "The engine could not check the credentials; see its log.")
        try:
            access_token = await run_in_threadpool(auth.tokens.issue, user)
        except Unauthorized:  # removed between the password check and the token
            return _sso_error(401, "access_denied",
                              f"Cannot authenticate user '{username}': The username or password is incorrect.")
        except Exception:
            log.exception("storing a token for %s failed unexpectedly", username)
            return _sso_error(500, "server_error", "The engine could not store the token; see its log.")
        ttl = auth.tokens.ttl
        return JSONResponse(
            {
                "access_token": access_token,
                "token_type": "bearer",
                "scope": form.get("scope") or "ovirt-app-api",
                "exp": str(int((time.time() + ttl) * 1000)),
                "expires_in": int(ttl),
            },
            headers={"Cache-Control": "no-store"},
        )

    @router.api_route("/ovirt-engine/services/sso-logout", methods=["GET", "POST"])
    async def logout(request: Request) -> JSONResponse:
        try:
            form = await _form(request) if request.method == "POST" else dict(request.query_params)
        except EngineError:
            form = {}
        token_value = form.get("token") or ""
        scheme, _, bearer = request.headers.get("authorization", "").partition(" ")
        if not token_value and scheme.lower() == "bearer":
            token_value = bearer.strip()
        if token_value:
            try:
                await run_in_threadpool(auth.tokens.revoke, token_value)
            except Exception:  # the SDK reads JSON here; the token is not logged
                log.exception("revoking a token failed unexpectedly")
                return _sso_error(500, "server_error", "The engine could not revoke the token; see its log.")
        return JSONResponse({})

    return router
