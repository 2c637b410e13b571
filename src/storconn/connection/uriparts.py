"""Generic URI mechanics: split into parts, percent-decode, read the query.

Written by hand rather than with ``urllib.parse.urlsplit``, whose port
checks raise ``ValueError`` mid-parse, whose ``;params`` handling depends on
the scheme, and whose query helpers turn ``+`` into a space.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote

from .errors import InvalidParameter

__all__ = [
    "UriParts",
    "decode",
    "no_user",
    "query_params",
    "require_server",
    "show",
    "split_uri",
    "uri_error",
]

_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*):(.*)", re.DOTALL)


@dataclass(frozen=True)
class UriParts:
    """A URI cut at its delimiters; only the host and the query are decoded."""

    scheme: str
    userinfo: str | None  # raw, still percent-encoded
    host: str  # percent-decoded, brackets kept
    port: str | None  # raw text after "host:", None without a colon
    path: str  # raw, still percent-encoded
    query: dict[str, str]  # decoded


def split_uri(uri: object) -> UriParts:
    """Cut ``scheme://[userinfo@]host[:port]/path?query``; InvalidParameter("uri") if malformed."""
    if not isinstance(uri, str):
        raise uri_error("must be a string")
    if any(char.isspace() or ord(char) < 0x20 or char == "\x7f" for char in uri):
        raise uri_error("spaces and control characters must be percent-encoded")
    match = _SCHEME.fullmatch(uri)
    if match is None:
        raise uri_error("must start with a scheme, as in nfs://")
    scheme, rest = match.group(1).lower(), match.group(2)
    if "#" in rest:
        raise uri_error("a fragment ('#') has no meaning here")
    rest, _, query = rest.partition("?")
    if not rest.startswith("//"):
        return UriParts(scheme, None, "", None, rest, _parse_query(query))
    authority, slash, path = rest[2:].partition("/")
    userinfo, at, hostport = authority.rpartition("@")
    host, port = _split_hostport(hostport)
    return UriParts(
        scheme, userinfo if at else None, decode(host), port, slash + path, _parse_query(query)
    )


def _split_hostport(hostport: str) -> tuple[str, str | None]:
    if hostport.startswith("["):
        end = hostport.find("]")
        if end < 0:
            raise uri_error("an IPv6 address is missing its ']'")
        host, after = hostport[: end + 1], hostport[end + 1 :]
        if after and not after.startswith(":"):
            raise uri_error("unexpected text after the IPv6 address")
        return host, after[1:] if after else None
    host, colon, port = hostport.partition(":")
    return host, port if colon else None


def _parse_query(text: str) -> dict[str, str]:
    query: dict[str, str] = {}
    for item in text.split("&"):
        if not item:
            continue
        raw_key, equals, value = item.partition("=")
        key = decode(raw_key)
        if not equals:
            raise uri_error(f"query key {show(key)} has no value")
        if key in query:
            raise uri_error(f"query key {show(key)} is given twice")
        query[key] = decode(value)
    return query


def decode(text: str) -> str:
    """Percent-decode as UTF-8; ``+`` stays a plus."""
    try:
        return unquote(text, errors="strict")
    except UnicodeDecodeError:
        pass
    # Outside the handler: the decode error holds the bytes, maybe a password's.
    raise uri_error("percent-encoded bytes must be UTF-8")


def query_params(parts: UriParts, allowed: tuple[str, ...]) -> dict[str, str]:
    """A copy of the query, refusing any key not in ``allowed``."""
    for key in parts.query:
        if key not in allowed:
            expected = f"expected one of {', '.join(allowed)}" if allowed else "it takes none"
            raise uri_error(f"unknown query key {show(key)} for {parts.scheme} URIs; {expected}")
    return dict(parts.query)


def no_user(parts: UriParts) -> None:
    """Refuse a ``user@`` part: only iSCSI URIs carry credentials."""
    if parts.userinfo is not None:
        raise uri_error(f"{parts.scheme} URIs carry no user name")


def require_server(parts: UriParts) -> str:
    """The host, which must be there, with no user before it."""
    no_user(parts)
    if not parts.host:
        raise uri_error(f"missing the server: {parts.scheme}://server/...")
    return parts.host


def uri_error(reason: str) -> InvalidParameter:
    """An error about the URI's shape rather than about one of its values."""
    return InvalidParameter("uri", reason)


def show(text: str) -> str:
    """Quote a key or scheme for a message, cut short if long."""
    return repr(text if len(text) <= 40 else text[:40] + "...")
