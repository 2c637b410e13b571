"""The allow-list of file-system types, and the spec each type takes (issue 7, defects 1 and 2)."""

from __future__ import annotations

from typing import Any

import pytest

from storconn.connection import (
    POSIXFS_TYPES,
    InvalidParameter,
    block_types_offered,
    kernel_offers,
    parse_info,
    vfs_type_problem,
)

PROC_FILESYSTEMS = """nodev\tsysfs
nodev\ttmpfs
nodev\tproc
\text3
\text4
\tsquashfs
\tfuseblk
nodev\tfuse
\txfs
\tzonefs
nodev\tnfs
nodev\tnfs4
"""


def posixfs(spec: str, vfs_type: str, options: str | None = None) -> dict[str, Any]:
    params = {"spec": spec, "vfsType": vfs_type}
    if options is not None:
        params["options"] = options
    return {"type": "posixfs", "params": params}


def refused(data: dict[str, Any], **kwargs: Any) -> InvalidParameter:
    with pytest.raises(InvalidParameter) as caught:
        parse_info(data, **kwargs)
    return caught.value


# --- types -----------------------------------------------------------------


@pytest.mark.parametrize(
    "vfs_type", ["fuse.awk", "fuse", "fuseblk", "fuse.sh", "FUSE.sshfs", "fuse.", "fuseblk.x"]
)
def test_fuse_types_but_sshfs_are_refused(vfs_type: str) -> None:
    # Defect 1: mount.fuse runs the program named after the dot as root.
    error = refused(posixfs('BEGIN{system("id>/tmp/pwned")}', vfs_type))
    assert error.field == "params.vfsType"
    assert "FUSE" in error.reason


@pytest.mark.parametrize("vfs_type", ["none", "bind", "rbind"])
def test_bind_types_are_refused(vfs_type: str) -> None:
    error = refused(posixfs("/etc", vfs_type))
    assert error.field == "params.vfsType"
    assert "bind" in error.reason


@pytest.mark.parametrize(
    ("vfs_type", "proper"),
    [("nfs", "'nfs'"), ("nfs4", "'nfs'"), ("glusterfs", "'glusterfs'"), ("fuse.glusterfs", "'glusterfs'")],
)
def test_network_types_through_posixfs_point_to_their_own_type(vfs_type: str, proper: str) -> None:
    # Defect 2: posixfs with vfsType nfs bypassed NFS's managed options and its reachability check.
    error = refused(posixfs("server:/export", vfs_type, "hard,nolock,vers=3"))
    assert error.field == "params.vfsType"
    assert f"use the {proper} connection type" in error.reason


@pytest.mark.parametrize("vfs_type", ["cifs", "ceph", "proc", "sysfs", "overlay", "zonefs", "ntfs", "Ext4"])
def test_types_outside_the_list_are_refused_naming_the_list(vfs_type: str) -> None:
    error = refused(posixfs("/dev/sdb1", vfs_type))
    assert error.field == "params.vfsType"
    assert "not supported" in error.reason and "ext4" in error.reason


@pytest.mark.parametrize("vfs_type", sorted(POSIXFS_TYPES - {"fuse.sshfs"}))
def test_every_listed_local_type_is_accepted(vfs_type: str) -> None:
    assert parse_info(posixfs("/dev/sdb1", vfs_type)).params.vfs_type == vfs_type  # type: ignore[union-attr]


def test_a_host_may_widen_the_list_with_its_block_types() -> None:
    offered = block_types_offered(PROC_FILESYSTEMS)
    assert offered == {"ext3", "ext4", "squashfs", "xfs", "zonefs"}
    info = parse_info(posixfs("/dev/sdb1", "zonefs"), host_block_types=offered)
    assert info.params.vfs_type == "zonefs"  # type: ignore[union-attr]
    # The widened type is a block type: a relative spec is refused all the same.
    assert refused(posixfs("../../etc", "zonefs"), host_block_types=offered).field == "params.spec"


@pytest.mark.parametrize("vfs_type", ["fuseblk", "fuse.awk", "none", "nfs", "bind"])
def test_widening_never_lets_in_fuse_bind_or_network_types(vfs_type: str) -> None:
    assert vfs_type_problem(vfs_type, host_block_types={vfs_type}) is not None
    assert vfs_type not in block_types_offered(f"\t{vfs_type}\n")


def test_kernel_offers_reads_proc_filesystems() -> None:
    assert kernel_offers("ext4", PROC_FILESYSTEMS)
    assert kernel_offers("fuse.sshfs", PROC_FILESYSTEMS)
    assert kernel_offers("nfs4", PROC_FILESYSTEMS)
    assert not kernel_offers("btrfs", PROC_FILESYSTEMS)
    assert not kernel_offers("fuse.sshfs", "nodev\ttmpfs\n")


# --- specs -----------------------------------------------------------------


@pytest.mark.parametrize("spec", ["../../../../../../../etc", "etc", "dev/sdb1", "./x"])
def test_a_relative_spec_is_refused_for_block_types(spec: str) -> None:
    # Defect 2: a relative spec resolved against the agent's working directory.
    error = refused(posixfs(spec, "ext4", "loop"))
    assert error.field == "params.spec"


def test_dot_dot_in_a_spec_is_refused() -> None:
    assert refused(posixfs("/dev/../etc", "ext4")).field == "params.spec"


def test_an_image_file_outside_dev_needs_the_loop_option() -> None:
    error = refused(posixfs("/srv/images/disk.img", "ext4"))
    assert error.field == "params.spec"
    assert "loop" in error.reason
    parse_info(posixfs("/srv/images/disk.img", "ext4", "loop,ro"))
    parse_info(posixfs("/srv/images/disk.img", "ext4", "loop=/dev/loop7"))


@pytest.mark.parametrize("spec", ["UUID=1b2c-3d4e", "LABEL=data", "PARTUUID=abc-01", "PARTLABEL=x y"])
def test_device_tags_are_accepted_for_block_types(spec: str) -> None:
    parse_info(posixfs(spec, "xfs"))


@pytest.mark.parametrize("spec", ["UUID=", "LABEL=../../etc", "LABEL=a/b"])
def test_a_device_tag_needs_a_value_without_slash(spec: str) -> None:
    assert refused(posixfs(spec, "xfs")).field == "params.spec"


@pytest.mark.parametrize("spec", ["tmpfs", "none", "/etc", "my label"])
def test_a_memory_type_takes_any_label(spec: str) -> None:
    parse_info(posixfs(spec, "tmpfs", "size=1m"))


@pytest.mark.parametrize(
    "spec", ["user@host:/srv", "host:", "host:relative/dir", "[fe80::1]:/x", "User.Name@h.example:/a"]
)
def test_sshfs_takes_user_host_path(spec: str) -> None:
    parse_info(posixfs(spec, "fuse.sshfs"))


@pytest.mark.parametrize(
    "spec",
    [
        "awk#BEGIN{}",
        "host:/a#b",
        "/etc",
        "host",
        "-oProxyCommand=x@host:/",
        "us er@host:/",
        "host:/a/../b",
        "bad_host!:/x",
    ],
)
def test_sshfs_refuses_other_specs(spec: str) -> None:
    assert refused(posixfs(spec, "fuse.sshfs")).field == "params.spec"


def test_a_glusterfs_subdirectory_may_not_hold_spaces_or_globs() -> None:
    # mount.glusterfs splits the client's command line on spaces and expands globs.
    for spec in ["g1:/vol/a b", "g1:/vol/*", "g1:/vol/$(id)", "g1:/vol/a#b"]:
        error = refused({"type": "glusterfs", "params": {"spec": spec}})
        assert error.field == "params.spec"
    parse_info({"type": "glusterfs", "params": {"spec": "g1:/vol/sub.dir/x-1"}})


# --- the mount table's view --------------------------------------------------


@pytest.mark.parametrize(
    ("data", "fstypes"),
    [
        (posixfs("/dev/sdb1", "ext4"), {"ext4"}),
        (posixfs("h:/x", "fuse.sshfs"), {"fuse.sshfs"}),
        ({"type": "glusterfs", "params": {"spec": "g:/v"}}, {"fuse.glusterfs"}),
        ({"type": "nfs", "params": {"export": "s:/e", "version": "3"}}, {"nfs"}),
        ({"type": "nfs", "params": {"export": "s:/e", "version": "4.1"}}, {"nfs4"}),
        ({"type": "nfs", "params": {"export": "s:/e"}}, {"nfs", "nfs4"}),
        ({"type": "localfs", "params": {"path": "/srv"}}, set()),
        ({"type": "fcp"}, set()),
    ],
)
def test_mount_fstypes_are_what_mountinfo_shows(data: dict[str, Any], fstypes: set[str]) -> None:
    assert parse_info(data).mount_fstypes == fstypes
