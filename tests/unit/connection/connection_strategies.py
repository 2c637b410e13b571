"""Hypothesis strategies: valid infos of every type, and messy spellings."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from storconn.connection import (
    BLOCK_FS_TYPES,
    GLUSTERFS_OPTIONS,
    MANAGED_OPTIONS,
    MEMORY_FS_TYPES,
    NFS_VERSIONS,
    REFUSED_OPTIONS,
    REFUSED_PREFIXES,
    ConnectionInfo,
    FcpInfo,
    parse_info,
)

# Option names with rules of their own (refused, managed, or taking only
# some values): the generated options leave them out.
_FORBIDDEN_OPTIONS = REFUSED_OPTIONS.union(
    *MANAGED_OPTIONS.values(), ["loop", "identityfile", "userknownhostsfile", "globalknownhostsfile"]
)

_label = st.from_regex(r"[a-z0-9_]([a-z0-9_-]{0,8}[a-z0-9])?", fullmatch=True)


def mixed_case(strategy: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """The same text with a random choice of letters upper-cased."""
    return strategy.flatmap(
        lambda text: st.lists(st.booleans(), min_size=len(text), max_size=len(text)).map(
            lambda flips: "".join(c.upper() if f else c for c, f in zip(text, flips, strict=True))
        )
    )


host_names = mixed_case(
    st.lists(_label, min_size=1, max_size=4)
    .filter(lambda labels: not all(label.isdigit() for label in labels))
    .map(".".join)
)
ipv4 = st.ip_addresses(v=4).map(str)
ipv6 = mixed_case(
    st.ip_addresses(v=6).flatmap(lambda a: st.sampled_from([a.compressed, a.exploded]))
)

# A host as it may stand before ":/path": IPv6 in brackets.
remote_hosts = st.one_of(host_names, ipv4, ipv6.map(lambda a: f"[{a}]"))
# A host as it may stand alone (iSCSI hostname, gluster backup server).
bare_hosts = st.one_of(host_names, ipv4, ipv6, ipv6.map(lambda a: f"[{a}]"))

_segment_chars = st.characters(exclude_categories=["Cs", "Cc"], exclude_characters="/\x7f")
segments = st.text(_segment_chars, min_size=1, max_size=8).filter(lambda s: s not in (".", ".."))


def absolute_paths(min_segments: int = 0) -> st.SearchStrategy[str]:
    return st.lists(segments, min_size=min_segments, max_size=4).map(
        lambda parts: "/" + "/".join(parts)
    )


def messy(path: str) -> st.SearchStrategy[str]:
    """Spellings of an absolute path with ``//``, ``/./`` and a trailing ``/``."""
    parts = [part for part in path.split("/") if part]
    separators = st.lists(
        st.sampled_from(["/", "//", "/./", "/././/"]), min_size=len(parts), max_size=len(parts)
    )
    tails = st.sampled_from(["", "/", "/.", "//"])
    return st.tuples(separators, tails).map(
        lambda st_: "".join(sep + part for sep, part in zip(st_[0], parts, strict=True)) + st_[1]
        or "/"
    )


_option_names = st.from_regex(r"[a-z][a-z0-9_]{0,8}", fullmatch=True).filter(
    lambda name: name not in _FORBIDDEN_OPTIONS and not name.startswith(REFUSED_PREFIXES)
)
_option_values = st.text(
    st.characters(exclude_categories=["Cs", "Cc"], exclude_characters=',"\x7f'),
    max_size=8,
).map(str.strip)
_one_option = st.tuples(_option_names, st.none() | _option_values).map(
    lambda nv: nv[0] if nv[1] is None else f"{nv[0]}={nv[1]}"
)
options = st.none() | st.lists(_one_option, min_size=1, max_size=4).map(",".join)

_safe_text = st.text(
    st.characters(exclude_categories=["Cs", "Cc"], exclude_characters="\x7f"),
    min_size=1,
    max_size=12,
).filter(lambda s: not s.startswith("-"))

passwords = st.text(
    st.characters(exclude_categories=["Cs"], exclude_characters="\x00\n\r"),
    min_size=1,
    max_size=16,
)

iqns = st.from_regex(
    r"iqn\.[0-9]{4}-[0-9]{2}\.[A-Za-z0-9.-]{1,10}(:[A-Za-z0-9.:_%;?#&+=@!-]{1,12})?",
    fullmatch=True,
)
_names = st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9_.:+-]{0,10}", fullmatch=True)


def _info(wire: dict[str, Any]) -> ConnectionInfo:
    return parse_info(wire)


def _without_none(params: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in params.items() if value is not None}


nfs_infos = st.builds(
    lambda host, path, version, timeout, retrans, opts: _info(
        {
            "type": "nfs",
            "params": _without_none(
                {
                    "export": f"{host}:{path}",
                    "version": version,
                    "timeout": timeout,
                    "retrans": retrans,
                    "options": opts,
                }
            ),
        }
    ),
    remote_hosts,
    absolute_paths(),
    st.none() | st.sampled_from(NFS_VERSIONS),
    st.none() | st.integers(1, 6000),
    st.none() | st.integers(0, 32767),
    options,
)

_device_tags = st.builds(
    lambda tag, value: f"{tag}={value}",
    st.sampled_from(["UUID", "PARTUUID", "LABEL", "PARTLABEL"]),
    st.text(_segment_chars, min_size=1, max_size=12),
)
_memory_fs = st.tuples(
    st.sampled_from(sorted(MEMORY_FS_TYPES)),
    st.one_of(st.sampled_from(["tmpfs", "none", "storconn"]), _safe_text, absolute_paths(1)),
    options,
)
# Devices under /dev/, device tags, or image files mounted with the loop option.
_block_fs = st.one_of(
    st.tuples(
        st.sampled_from(sorted(BLOCK_FS_TYPES)),
        st.one_of(absolute_paths(1).map(lambda path: "/dev" + path), _device_tags),
        options,
    ),
    st.tuples(
        st.sampled_from(sorted(BLOCK_FS_TYPES)),
        absolute_paths(1),
        options.map(lambda opts: "loop" if opts is None else f"loop,{opts}"),
    ),
)
_sshfs_paths = st.one_of(absolute_paths(), st.just(""), absolute_paths(1).map(lambda p: p[1:]))
_sshfs = st.tuples(
    st.just("fuse.sshfs"),
    st.builds(
        lambda user, h, p: f"{user}{h}:{p}",
        st.sampled_from(["", "root@", "User.Name@"]),
        remote_hosts,
        _sshfs_paths.filter(lambda p: "#" not in p),
    ),
    st.one_of(
        options,
        st.just("IdentityFile=/var/lib/storconn/key,UserKnownHostsFile=/dev/null"),
    ),
)
posixfs_infos = st.one_of(_memory_fs, _block_fs, _sshfs).map(
    lambda vso: _info(
        {
            "type": "posixfs",
            "params": _without_none({"spec": vso[1], "vfsType": vso[0], "options": vso[2]}),
        }
    )
)

_volumes = st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9_-]{0,8}", fullmatch=True)
gluster_subdirs = st.lists(
    st.from_regex(r"[\w.+@=,-]{1,8}", fullmatch=True).filter(lambda s: s not in (".", "..")),
    min_size=1,
    max_size=3,
).map(lambda parts: "/" + "/".join(parts))
_gluster_option = st.tuples(
    st.sampled_from(sorted(GLUSTERFS_OPTIONS)),
    st.none() | st.from_regex(r"[A-Za-z0-9_.:+-]{1,8}", fullmatch=True),
).map(lambda nv: nv[0] if nv[1] is None else f"{nv[0]}={nv[1]}")
gluster_options = st.none() | st.lists(_gluster_option, min_size=1, max_size=4).map(",".join)
glusterfs_infos = st.builds(
    lambda host, volume, subdir, backups, opts: _info(
        {
            "type": "glusterfs",
            "params": _without_none(
                {
                    "spec": f"{host}:/{volume}{subdir}",
                    "backupServers": backups or None,
                    "options": opts,
                }
            ),
        }
    ),
    remote_hosts,
    _volumes,
    st.sampled_from([""]) | gluster_subdirs,
    st.lists(bare_hosts, max_size=3),
    gluster_options,
)

localfs_infos = absolute_paths().map(lambda p: _info({"type": "localfs", "params": {"path": p}}))

_credentials = st.none() | st.builds(
    lambda user, password: {"type": "chap", "params": {"username": user, "password": password}},
    _safe_text,
    passwords,
)
iscsi_infos = st.builds(
    lambda host, port, tpgt, iqn, iface, creds: _info(
        {
            "type": "iscsi",
            "params": _without_none(
                {
                    "target": _without_none(
                        {"portal": {"hostname": host, "port": port}, "tpgt": tpgt, "iqn": iqn}
                    ),
                    "iface": iface,
                    "credentials": creds,
                }
            ),
        }
    ),
    bare_hosts,
    st.integers(1, 65535),
    st.none() | st.integers(0, 65535),
    iqns,
    st.none() | _names,
    _credentials,
)

fcp_infos = st.just(FcpInfo())

infos: st.SearchStrategy[ConnectionInfo] = st.one_of(
    nfs_infos, posixfs_infos, glusterfs_infos, localfs_infos, iscsi_infos, fcp_infos
)
