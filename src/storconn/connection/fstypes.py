"""The file-system types the agent mounts, and what each takes as a spec.

One allow-list, used by the agent and the engine alike: a type is accepted
only when storconn knows how its mount helper reads the spec and the
options. mount(8) hands ``fuse.X`` (and ``fuse`` with a ``X#spec`` spec) to
mount.fuse, which runs the program ``X`` through a shell, as root: any FUSE
type but sshfs would be code execution by name, and ``fuseblk`` is the same
helper. ``none`` and ``bind`` make a bind mount of a host path.

The network types (``nfs``, ``nfs4``, ``glusterfs``) are the agent's own
connection types, with their managed options and reachability checks; met as
the ``vfsType`` of a posixfs connection they are refused with a pointer to
the proper type.

Pure: the host's kernel is consulted through text the caller reads
(``/proc/filesystems``) and passes in, never here.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable

from .hosts import host_key
from .paths import normalize_path

__all__ = [
    "BLOCK_FS_TYPES",
    "MEMORY_FS_TYPES",
    "NETWORK_FS_TYPES",
    "POSIXFS_TYPES",
    "SSHFS",
    "block_types_offered",
    "is_block_type",
    "kernel_offers",
    "posixfs_spec_problem",
    "vfs_type_problem",
]

SSHFS = "fuse.sshfs"

# Kernel file systems that live on a block device (or an image file through a
# loop device) and that mount(8) mounts itself, without a helper program. Types
# whose name mount(8) maps to a helper (ntfs → ntfs-3g, a FUSE daemon; ocfs2,
# gfs2 with their cluster helpers) are left out on purpose.
BLOCK_FS_TYPES: frozenset[str] = frozenset(
    {
        "ext2", "ext3", "ext4", "xfs", "btrfs", "f2fs", "jfs", "nilfs2", "reiserfs",
        "vfat", "msdos", "exfat", "ntfs3", "hfs", "hfsplus", "udf", "iso9660",
        "squashfs", "erofs", "minix", "bcachefs",
    }
)  # fmt: skip

# In-memory file systems: the spec is only a label shown in the mount table.
MEMORY_FS_TYPES: frozenset[str] = frozenset({"tmpfs", "ramfs"})

POSIXFS_TYPES: frozenset[str] = BLOCK_FS_TYPES | MEMORY_FS_TYPES | {SSHFS}
"""Every ``vfsType`` a posixfs connection may have (before widening by the host)."""

# Network types with a connection type of their own: the posixfs vfsType that
# names one is refused with a pointer to that type.
NETWORK_FS_TYPES: dict[str, str] = {
    "nfs": "nfs",
    "nfs4": "nfs",
    "glusterfs": "glusterfs",
    "fuse.glusterfs": "glusterfs",
}

# Never accepted, whatever the host offers: bind mounts of host paths and
# every FUSE type but sshfs (mount.fuse runs the program named after the dot).
_BIND_TYPES = frozenset({"none", "bind", "rbind"})
_FUSE = re.compile(r"fuse(blk)?(\..*)?", re.IGNORECASE)

# LABEL=, UUID=... name a device of this host through blkid; they never name a
# host path, so block types accept them as they accept /dev/... paths.
_DEVICE_TAGS = ("UUID=", "PARTUUID=", "LABEL=", "PARTLABEL=")
# [user@]host:[path], as sshfs reads it; the user never starts with '-'.
_SSHFS_SPEC = re.compile(r"(?:(?P<user>[A-Za-z0-9_.][A-Za-z0-9_.-]*)@)?(?P<host>\[[^\]]*\]|[^@:/\[\]]+):(?P<path>.*)")


def vfs_type_problem(vfs_type: str, *, host_block_types: Collection[str] = ()) -> str | None:
    """Why ``vfs_type`` may not be a posixfs ``vfsType``, or None when it may.

    ``host_block_types`` widens the list with the block-backed types this
    host's kernel offers (``block_types_offered``); it never lets in a FUSE
    type, a bind type or a network type.
    """
    if vfs_type in POSIXFS_TYPES:
        return None
    proper = NETWORK_FS_TYPES.get(vfs_type.lower())
    if proper is not None:
        return (
            f"file-system type {vfs_type!r} is not mounted through posixfs: "
            f"use the {proper!r} connection type, which manages its options and checks the server"
        )
    if _FUSE.fullmatch(vfs_type):
        return (
            "FUSE types other than fuse.sshfs are refused: mount.fuse would run "
            "the program named after the dot as root"
        )
    if vfs_type.lower() in _BIND_TYPES:
        return "bind mounts are refused: they would expose a host path under the mount root"
    if vfs_type in host_block_types:
        return None
    shown = vfs_type if len(vfs_type) <= 40 else vfs_type[:40] + "..."
    return f"file-system type {shown!r} is not supported; expected one of {_listed()}"


def is_block_type(vfs_type: str, *, host_block_types: Collection[str] = ()) -> bool:
    """Whether ``vfs_type`` mounts a block device or an image file."""
    if vfs_type in MEMORY_FS_TYPES or vfs_type == SSHFS:
        return False
    return vfs_type in BLOCK_FS_TYPES or vfs_type in host_block_types


def posixfs_spec_problem(
    vfs_type: str, spec: str, options: Iterable[str], *, host_block_types: Collection[str] = ()
) -> str | None:
    """Why ``spec`` does not suit ``vfs_type`` (an accepted type), or None.

    - block types: an absolute path without ``..`` under ``/dev/``, an image
      file elsewhere only with the ``loop`` option, or ``UUID=``,
      ``PARTUUID=``, ``LABEL=``, ``PARTLABEL=`` (resolved by blkid on the host);
      never a relative path, which would resolve against the agent's
      working directory;
    - ``fuse.sshfs``: ``[user@]host:[path]`` with a valid host, no ``..`` and no
      ``#`` (mount.fuse's old ``program#spec`` form);
    - memory types: any label.
    """
    if vfs_type in MEMORY_FS_TYPES:
        return None
    if vfs_type == SSHFS:
        return _sshfs_spec_problem(spec)
    if is_block_type(vfs_type, host_block_types=host_block_types):
        return _block_spec_problem(spec, options)
    return None


def block_types_offered(proc_filesystems: str) -> frozenset[str]:
    """The block-backed types in the text of ``/proc/filesystems``.

    Those are the lines without ``nodev``; FUSE's ``fuseblk`` (mount.fuse's,
    see the module docstring) and anything ``vfs_type_problem`` refuses
    whatever the host says are left out. Pass the result as
    ``host_block_types`` to widen the allow-list on an agent's host.
    """
    found: set[str] = set()
    for line in proc_filesystems.splitlines():
        words = line.split()
        if len(words) == 1 and vfs_type_problem(words[0], host_block_types=words) is None:
            found.add(words[0])
    return frozenset(found)


def kernel_offers(fstype: str, proc_filesystems: str) -> bool:
    """Whether the host's kernel (the text of ``/proc/filesystems``) can mount ``fstype``.

    A FUSE type needs ``fuse``; ``nfs4`` is registered by the NFS client as
    ``nfs4`` (or handled by ``nfs`` on older kernels).
    """
    offered = {line.split()[-1] for line in proc_filesystems.splitlines() if line.split()}
    if fstype.startswith("fuse."):
        return "fuse" in offered
    if fstype == "nfs4":
        return bool({"nfs4", "nfs"} & offered)
    if fstype == "glusterfs":
        return "fuse" in offered
    return fstype in offered


def _block_spec_problem(spec: str, options: Iterable[str]) -> str | None:
    if spec.startswith(_DEVICE_TAGS):
        value = spec.partition("=")[2]
        if not value or "/" in value:
            return "a UUID=, PARTUUID=, LABEL= or PARTLABEL= spec needs a value without '/'"
        return None
    if not spec.startswith("/"):
        return "must be an absolute path (/dev/..., or an image file with the loop option) or UUID=/LABEL="
    try:
        path = normalize_path(spec)
    except ValueError as exc:
        return str(exc)
    if path.startswith("/dev/"):
        return None
    if any(option.partition("=")[0].strip().lower() == "loop" for option in options):
        return None
    return "must be a device under /dev/, or an image file with the loop option"


def _sshfs_spec_problem(spec: str) -> str | None:
    if "#" in spec:
        return "a FUSE spec may not contain '#'"
    match = _SSHFS_SPEC.fullmatch(spec)
    if match is None:
        return "must be [user@]host:[path] for fuse.sshfs"
    try:
        host_key(match.group("host"))
    except ValueError as exc:
        return f"the host is {exc}" if str(exc).startswith("not ") else str(exc)
    path = match.group("path")
    if path and ".." in path.split("/"):
        return "the path may not contain '..'"
    return None


def _listed() -> str:
    return ", ".join(sorted(POSIXFS_TYPES))
