"""Host names, and the ``server:/path`` forms that carry them.

Hosts are kept as the user spelled them and compared through ``host_key``:
lower-cased, without a trailing dot, IPv6 addresses compressed and without
brackets. Nothing here resolves a name: identity must never do I/O.
"""

from __future__ import annotations

import ipaddress
import re

from .paths import normalize_path

__all__ = ["bracket", "host_key", "normalize_spec", "split_remote", "unbracket"]

_LABEL = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_-]{0,62}")
_MAX_NAME = 253
# [user@]host:path as sshfs and NFS write it; the user keeps its "@".
_REMOTE_SPEC = re.compile(
    r"(?P<user>[^@/:\[\]]+@)?(?P<host>\[[^\]]*\]|[^@/:\[\]]+):(?P<path>.*)", re.DOTALL
)


def unbracket(host: str) -> str:
    """``"[fe80::1]"`` gives ``"fe80::1"``; anything else is returned as is."""
    if host.startswith("[") and host.endswith("]"):
        return host[1:-1]
    return host


def bracket(host: str) -> str:
    """Put an IPv6 address in brackets, as URIs and ``server:/path`` need."""
    if ":" in host and not host.startswith("["):
        return f"[{host}]"
    return host


def host_key(host: str) -> str:
    """The canonical form of a host name or address; ValueError if invalid.

    Accepts names, IPv4 addresses and IPv6 addresses with or without
    brackets. Zone ids (``fe80::1%eth0``) are refused: they name a local
    interface, which a shared connection description cannot rely on.
    """
    bare = unbracket(host)
    if ":" in bare:
        if "%" in bare:
            raise ValueError("IPv6 zone ids are not supported")
        try:
            return ipaddress.IPv6Address(bare).compressed
        except ValueError:
            raise ValueError("not a valid IPv6 address") from None
    if bare != host:
        raise ValueError("only IPv6 addresses go in brackets")
    name = bare[:-1] if bare.endswith(".") else bare
    if not name or len(name) > _MAX_NAME:
        raise ValueError("not a valid host name")
    labels = name.split(".")
    if not all(_LABEL.fullmatch(label) for label in labels):
        raise ValueError("not a valid host name")
    if all(label.isdigit() for label in labels):
        # The C resolver reads "10.1" as 10.0.0.1: only dotted quads are
        # accepted, so that one address has one spelling.
        try:
            return str(ipaddress.IPv4Address(name))
        except ValueError:
            raise ValueError("not a valid IPv4 address") from None
    return name.lower()


def split_remote(remote: str) -> tuple[str, str]:
    """Split ``server:path`` (``[v6addr]:path``) into server and path.

    The server is returned as spelled (brackets kept) and is not validated;
    ValueError when there is no server part at all.
    """
    if remote.startswith("["):
        end = remote.find("]")
        if end < 0 or remote[end + 1 : end + 2] != ":":
            raise ValueError("must be [address]:/path")
        return remote[: end + 1], remote[end + 2 :]
    server, sep, path = remote.partition(":")
    if not sep or not server:
        raise ValueError("must be server:/path")
    return server, path


def normalize_spec(spec: str) -> str:
    """The comparable form of a posixfs spec.

    A path (``/dev/sdb1``), a UNC-style ``//host/share/dir`` and a remote
    ``[user@]host:path`` get their path normalized and their host
    lower-cased; anything else (``tmpfs``, ``UUID=...``) is opaque and kept
    as is. Raises ValueError when a path part contains ``..``.
    """
    if spec.startswith("//"):
        host, _, rest = spec[2:].partition("/")
        try:
            key = host_key(host)
        except ValueError:
            return normalize_path(spec)
        return f"//{bracket(key)}" + (normalize_path("/" + rest) if rest else "")
    if spec.startswith("/"):
        return normalize_path(spec)
    match = _REMOTE_SPEC.fullmatch(spec)
    if match is None:
        return spec
    user, host, path = match.group("user", "host", "path")
    try:
        key = host_key(host)
    except ValueError:
        return spec
    if path:
        path = normalize_path(path)
    return f"{user or ''}{bracket(key)}:{path}"
