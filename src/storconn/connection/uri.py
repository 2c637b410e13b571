"""Connection infos as URIs, both ways.

The forms (DESIGN.md section 2)::

    nfs://server/export/path?version=4.1&timeout=100&retrans=3&options=OPTS
    nfs://server:/export/path           the proposal's form (seed 003)
    iscsi://[user:password@]host[:port]/IQN[;portal=TPGT][?iface=NAME]
    iscsi://user%password@host/IQN      libiscsi's form, read only
    posixfs://?spec=SPEC&vfsType=TYPE&options=OPTS
    glusterfs://server/volume[/subdir]?backupServers=a,b&options=OPTS
    localfs:///abs/path                 (file:///abs/path reads the same)
    fcp://

A parameter without a place of its own goes in the query. Decoding is
percent-decoding only: ``+`` is a plus, never a space. ``format_uri`` writes
the canonical form, which ``parse_uri`` reads back to an equal model.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import assert_never
from urllib.parse import quote

from .blocks import DEFAULT_ISCSI_IFACE, DEFAULT_ISCSI_PORT, FcpInfo, IscsiInfo
from .hosts import bracket, split_remote
from .models import ConnectionInfo, parse_info
from .mounts import GlusterfsInfo, LocalfsInfo, NfsInfo, PosixfsInfo
from .options import redact_options
from .uriparts import (
    UriParts,
    decode,
    no_user,
    query_params,
    require_server,
    show,
    split_uri,
    uri_error,
)

__all__ = ["format_uri", "parse_uri"]

_ESCAPE = re.compile(r"%[0-9A-Fa-f]{2}")
# Characters left readable; "&", ";", "+", "%", "?" and "#" are always encoded.
_SAFE = "/:@!$'()*,="
_SAFE_SEGMENT = ":@!$'()*,="  # an IQN: a "/" would split the path
_SAFE_USERINFO = "!$'()*,="

Wire = dict[str, object]


def parse_uri(uri: str, *, password: str | None = None) -> ConnectionInfo:
    """The ConnectionInfo a URI describes; InvalidParameter on any problem.

    Problems with the URI's shape name the field ``uri``; a value the URI
    carries that is wrong names its param (``params.timeout``). ``password``
    supplies the CHAP password for ``iscsi://user@host/iqn``, so that it
    need not appear on a command line.
    """
    parts = split_uri(uri)
    parser = _PARSERS.get(parts.scheme)
    if parser is None:
        raise uri_error(
            f"unknown scheme {show(parts.scheme)}; expected one of {', '.join(_PARSERS)}"
        )
    if password is not None and parts.scheme != "iscsi":
        raise uri_error("only iscsi URIs take a password")
    return parse_info(parser(parts, password))


def format_uri(info: ConnectionInfo, *, secrets: bool = False) -> str:
    """The canonical URI of ``info``; without ``secrets``, no password in it."""
    if isinstance(info, NfsInfo):
        server, path = split_remote(info.params.export)
        nfs = info.params
        query = _query_text(
            ("version", nfs.version),
            ("timeout", nfs.timeout),
            ("retrans", nfs.retrans),
            ("options", _options(nfs.options, secrets)),
        )
        return f"nfs://{server}{quote(path, safe=_SAFE)}{query}"
    if isinstance(info, IscsiInfo):
        return _format_iscsi(info, secrets)
    if isinstance(info, PosixfsInfo):
        posix = info.params
        query = _query_text(
            ("spec", posix.spec),
            ("vfsType", posix.vfs_type),
            ("options", _options(posix.options, secrets)),
        )
        return f"posixfs://{query}"
    if isinstance(info, GlusterfsInfo):
        server, path = split_remote(info.params.spec)
        backups = info.params.backup_servers
        query = _query_text(
            ("backupServers", ",".join(backups) if backups else None),
            ("options", _options(info.params.options, secrets)),
        )
        return f"glusterfs://{server}{quote(path, safe=_SAFE)}{query}"
    if isinstance(info, LocalfsInfo):
        return f"localfs://{quote(info.params.path, safe=_SAFE)}"
    if isinstance(info, FcpInfo):
        return "fcp://"
    assert_never(info)


def _format_iscsi(info: IscsiInfo, secrets: bool) -> str:
    params = info.params
    portal, target = params.target.portal, params.target
    userinfo = ""
    if params.credentials:
        chap = params.credentials.params
        userinfo = quote(chap.username, safe=_SAFE_USERINFO)
        if secrets:
            userinfo += ":" + quote(chap.password.get_secret_value(), safe=_SAFE_USERINFO)
        userinfo += "@"
    port = f":{portal.port}" if portal.port != DEFAULT_ISCSI_PORT else ""
    tpgt = f";portal={target.tpgt}" if target.tpgt is not None else ""
    iface = params.iface if params.iface != DEFAULT_ISCSI_IFACE else None
    iqn = quote(target.iqn, safe=_SAFE_SEGMENT)
    query = _query_text(("iface", iface))
    return f"iscsi://{userinfo}{bracket(portal.hostname)}{port}/{iqn}{tpgt}{query}"


def _options(options: str | None, secrets: bool) -> str | None:
    return options if secrets or options is None else redact_options(options)


def _query_text(*items: tuple[str, object]) -> str:
    given = [f"{key}={quote(str(value), safe=_SAFE)}" for key, value in items if value is not None]
    return "?" + "&".join(given) if given else ""


def _parse_nfs(parts: UriParts, _: str | None) -> Wire:
    server, path = require_server(parts), parts.path
    if parts.port is not None:
        if parts.port.isascii() and parts.port.isdigit():
            raise uri_error("an nfs URI has no port (write nfs://server/path)")
        # The proposal's nfs://server:export: what follows "server:" is the path.
        path = parts.port + path
        if path and not path.startswith("/"):
            path = "/" + path
    if not path:
        raise uri_error("missing the export path: nfs://server/path")
    params: Wire = {"export": f"{server}:{decode(path)}"}
    params.update(query_params(parts, ("version", "timeout", "retrans", "options")))
    return {"type": "nfs", "params": params}


def _parse_iscsi(parts: UriParts, password: str | None) -> Wire:
    server = parts.host
    if not server:
        raise uri_error("missing the portal: iscsi://host[:port]/IQN")
    portal: Wire = {"hostname": server}
    if parts.port:
        if not (parts.port.isascii() and parts.port.isdigit()):
            raise uri_error("the port must be a number")
        portal["port"] = parts.port  # the model checks its range
    iqn, *path_params = parts.path[1:].split(";")
    if not iqn:
        raise uri_error("missing the target IQN: iscsi://host[:port]/IQN")
    if "/" in iqn:
        raise uri_error("the path must be /IQN; a LUN has no place in a connection")
    target: Wire = {"portal": portal, "iqn": decode(iqn)}
    query = query_params(parts, ("iface", "tpgt"))
    for param in path_params:
        key, equals, value = param.partition("=")
        if key != "portal" or not equals:
            raise uri_error("the only path parameter is ;portal=TPGT")
        if "tpgt" in query:
            raise uri_error("the portal group tag is given twice")
        query["tpgt"] = decode(value)
    if "tpgt" in query:
        target["tpgt"] = query.pop("tpgt")
    params: Wire = {"target": target, **query}
    credentials = _credentials(parts.userinfo, password)
    if credentials is not None:
        params["credentials"] = credentials
    return {"type": "iscsi", "params": params}


def _credentials(userinfo: str | None, password: str | None) -> Wire | None:
    if userinfo is None:
        if password is not None:
            raise uri_error("a password needs a user name: iscsi://user@host/IQN")
        return None
    if ":" in userinfo:
        raw_user, _, raw_secret = userinfo.partition(":")
        username, secret = decode(raw_user), decode(raw_secret)
    elif "%" in userinfo and _ESCAPE.sub("", userinfo).count("%"):
        # libiscsi's user%password, which it takes literally. A "%" that
        # starts a valid escape reads as percent-encoding instead: such a
        # password must use the user:password form.
        username, _, secret = userinfo.partition("%")
    else:
        username, secret = decode(userinfo), ""
    if secret and password is not None:
        raise uri_error("the password is given both in the URI and apart from it")
    chap: Wire = {"username": username}
    if secret or password:
        chap["password"] = secret or password
    return {"type": "chap", "params": chap}


def _parse_posixfs(parts: UriParts, _: str | None) -> Wire:
    no_user(parts)
    if parts.host or parts.port is not None or parts.path not in ("", "/"):
        raise uri_error("a posixfs URI is posixfs://?spec=SPEC&vfsType=TYPE[&options=OPTS]")
    return {"type": "posixfs", "params": query_params(parts, ("spec", "vfsType", "options"))}


def _parse_glusterfs(parts: UriParts, _: str | None) -> Wire:
    server = require_server(parts)
    if parts.port is not None:
        raise uri_error("a glusterfs URI has no port")
    if parts.path in ("", "/"):
        raise uri_error("missing the volume: glusterfs://server/volume[/subdir]")
    params: Wire = {"spec": f"{server}:{decode(parts.path)}"}
    params.update(query_params(parts, ("backupServers", "options")))
    return {"type": "glusterfs", "params": params}


def _parse_localfs(parts: UriParts, _: str | None) -> Wire:
    no_user(parts)
    if parts.port is not None or parts.host.lower() not in ("", "localhost"):
        raise uri_error(f"a {parts.scheme} URI names no host: {parts.scheme}:///abs/path")
    query_params(parts, ())
    if not parts.path:
        raise uri_error(f"missing the path: {parts.scheme}:///abs/path")
    return {"type": "localfs", "params": {"path": decode(parts.path)}}


def _parse_fcp(parts: UriParts, _: str | None) -> Wire:
    no_user(parts)
    if parts.host or parts.port is not None or parts.path not in ("", "/"):
        raise uri_error("an fcp URI is just fcp://")
    query_params(parts, ())
    return {"type": "fcp", "params": {}}


_PARSERS: dict[str, Callable[[UriParts, str | None], Wire]] = {
    "nfs": _parse_nfs,
    "iscsi": _parse_iscsi,
    "posixfs": _parse_posixfs,
    "glusterfs": _parse_glusterfs,
    "localfs": _parse_localfs,
    "file": _parse_localfs,
    "fcp": _parse_fcp,
}
