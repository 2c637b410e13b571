"""Property tests: whatever random types, specs and options parse_info accepts is in the allow-list and free of the refused forms."""

from __future__ import annotations

import re
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from storconn.connection import (
    BLOCK_FS_TYPES,
    GLUSTERFS_OPTIONS,
    MANAGED_OPTIONS,
    POSIXFS_TYPES,
    REFUSED_OPTIONS,
    REFUSED_PREFIXES,
    InvalidParameter,
    parse_info,
    split_options,
)
from storconn.connection.paths import normalize_path

# Pieces an attacker would combine: separators, quotes, comment and FUSE
# markers, leading dashes, line breaks, and the names the rules single out.
_special_names = sorted(REFUSED_OPTIONS | {"loop", "identityfile", "userknownhostsfile"})
_fragments = st.one_of(
    st.sampled_from([",", "=", "-", "#", '"', "\n", " ", "/", "..", "*", "$(id)", "\\", "%", "~"]),
    st.sampled_from(_special_names).flatmap(
        lambda name: st.sampled_from([name, name.upper(), name.title()])
    ),
    st.sampled_from(["X-mount.mkdir", "x-systemd.automount", "make-rshared", "/dev/loop1"]),
    st.sampled_from(sorted(GLUSTERFS_OPTIONS)),
    st.text(max_size=12),
)
random_options = st.one_of(
    st.none(),
    st.lists(_fragments, max_size=12).map("".join),
    st.text(min_size=300, max_size=5000),
)
random_types = st.one_of(
    st.sampled_from(sorted(POSIXFS_TYPES)),
    st.sampled_from(["fuse", "fuseblk", "fuse.awk", "fuse.glusterfs", "none", "bind", "nfs"]),
    st.sampled_from(["nfs4", "glusterfs", "cifs", "proc", "FUSE.sshfs", "Ext4", "fuse.sshfs#x"]),
    st.from_regex(r"fuse(blk)?\.[a-z0-9._+-]{0,12}", fullmatch=True),
    st.text(max_size=20),
)
random_specs = st.one_of(
    st.sampled_from(["/etc", "/", "../../etc", "awk#BEGIN{}", "host:/a#b", "UUID=", "LABEL=a/b"]),
    st.sampled_from(["/dev/sdb1", "/srv/disk.img", "tmpfs", "user@host:/srv", "host:", "-o x"]),
    st.lists(_fragments, min_size=1, max_size=8).map("".join),
    st.text(min_size=1, max_size=400),
)


def _accepted(data: dict[str, Any]) -> Any:
    try:
        return parse_info(data)
    except InvalidParameter:
        return None


def _check_common(options: str | None) -> list[str]:
    items = split_options(options)
    assert options is None or not re.search(r"[\x00-\x1f\x7f]", options)
    for item in items:
        name = item.partition("=")[0].strip().lower()
        assert name, item
        assert not item.startswith("-"), item
        assert name not in REFUSED_OPTIONS, item
        assert not name.startswith(REFUSED_PREFIXES), item
    return items


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(random_types, random_specs, random_options)
def test_an_accepted_posixfs_info_is_in_the_allow_list(vfs_type: str, spec: str, options: str | None) -> None:
    params: dict[str, Any] = {"spec": spec, "vfsType": vfs_type}
    if options is not None:
        params["options"] = options
    info = _accepted({"type": "posixfs", "params": params})
    if info is None:
        return
    assert vfs_type in POSIXFS_TYPES
    items = _check_common(options)
    if vfs_type == "fuse.sshfs":
        assert "#" not in spec and ":" in spec and not spec.startswith("/")
    if vfs_type in BLOCK_FS_TYPES:
        if spec.startswith("/"):
            path = normalize_path(spec)
            assert path.startswith("/dev/") or any(i.split("=")[0].lower() == "loop" for i in items)
        else:
            assert spec.startswith(("UUID=", "PARTUUID=", "LABEL=", "PARTLABEL=")), spec
            assert "/" not in spec.partition("=")[2]
    for item in items:
        name, _, value = item.partition("=")
        if name.strip().lower() == "userknownhostsfile" and vfs_type == "fuse.sshfs":
            assert value == "/dev/null"


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(random_options)
def test_accepted_glusterfs_options_are_known_with_plain_values(options: str | None) -> None:
    params: dict[str, Any] = {"spec": "g1:/vol"}
    if options is not None:
        params["options"] = options
    if _accepted({"type": "glusterfs", "params": params}) is None:
        return
    for item in _check_common(options):
        name, _, value = item.partition("=")
        assert name.strip().lower() in GLUSTERFS_OPTIONS - MANAGED_OPTIONS["glusterfs"]
        assert re.fullmatch(r"[A-Za-z0-9_.:+-]*", value), item


@settings(max_examples=300)
@given(random_options)
def test_accepted_nfs_options_are_free_of_refused_forms(options: str | None) -> None:
    params: dict[str, Any] = {"export": "filer:/e"}
    if options is not None:
        params["options"] = options
    if _accepted({"type": "nfs", "params": params}) is None:
        return
    for item in _check_common(options):
        assert item.partition("=")[0].strip().lower() not in MANAGED_OPTIONS["nfs"]
