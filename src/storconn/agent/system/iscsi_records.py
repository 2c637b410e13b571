"""iscsiadm's node records as files: where a CHAP password goes instead of a command line.

iscsiadm takes a setting's value only as ``-v VALUE`` on its command line,
which every local user can read in ``/proc/PID/cmdline``. A node record is a
plain ``name = value`` file under ``/etc/iscsi/nodes`` (0600, in 0700
directories) that iscsiadm reads at login and keeps when it updates other
settings (checked with open-iscsi 2.1.8), so secrets are written there
directly, after ``iscsiadm -m node -o new`` created the record.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from pathlib import Path

from storconn.connection import DEFAULT_ISCSI_IFACE, ErrorCode, StorconnError

from . import iscsi_sysfs
from .iscsiadm import Node

NODES_DIR = Path("/etc/iscsi/nodes")
_TEMPORARY_PREFIX = ".storconn-"


def write_secrets(
    node: Node, settings: Mapping[str, str], *, nodes_dir: Path | None = None
) -> None:
    """Write ``settings`` into every record file of ``node``, the way iscsiadm would store them.

    iscsiadm takes values only as ``-v VALUE`` on its command line, so a CHAP
    password given to it would be readable by any local user. The record is
    a plain ``name = value`` file that iscsiadm reads at login and keeps
    when it updates other settings (checked with open-iscsi 2.1.8); it is
    rewritten here through a 0600 temporary file and a rename, so a crash
    leaves the old record or the new one, never half of one.

    Every record iscsiadm's own ``-T -p -I`` selection would update gets
    the settings: a node without a tpgt also matches records that discovery
    wrote with one, and a login tries them all. The record must exist
    (``iscsiadm.new_node`` first). Values must not contain line breaks (the models
    refuse them). Raises StorconnError ISCSI_SETUP.
    """
    files = node_record_files(node, nodes_dir=nodes_dir)
    if not files:
        raise StorconnError(f"iSCSI node record of {node} not found under "
                            f"{nodes_dir or NODES_DIR}", code=ErrorCode.ISCSI_SETUP)
    for path in files:
        try:
            _rewrite_record(path, settings)
        except OSError as exc:
            raise StorconnError(f"cannot write the node record of {node}: {exc.strerror}",
                                code=ErrorCode.ISCSI_SETUP) from exc


def node_record_files(node: Node, *, nodes_dir: Path | None = None) -> list[Path]:
    """The record files of ``node``, found by what they hold.

    Their layout changed across open-iscsi versions (``IQN/HOST,PORT`` or
    ``IQN/HOST,PORT,TPGT/IFACE``), so they are matched on their contents
    rather than on a path built here.
    """
    base = nodes_dir or NODES_DIR
    try:
        targets = [d for d in base.iterdir() if d.name.lower() == node.iqn.lower()]
    except OSError:
        return []
    found: list[Path] = []
    for target in targets:
        for path in sorted(target.rglob("*")):
            if path.name.startswith(_TEMPORARY_PREFIX) or path.is_symlink():
                continue  # a rewrite in progress (or cut short by a crash) is no record
            if path.is_file() and _record_is(path, node):
                found.append(path)
    return found


def _record_is(path: Path, node: Node) -> bool:
    try:
        fields = _record_fields(path.read_text(errors="replace"))
    except OSError:
        return False
    port = fields.get("node.conn[0].port")
    tpgt = fields.get("node.tpgt")
    return (
        fields.get("node.name", "").lower() == node.iqn.lower()
        and iscsi_sysfs.same_address(fields.get("node.conn[0].address", ""), node.hostname)
        and port == str(node.port)
        and fields.get("iface.iscsi_ifacename", DEFAULT_ISCSI_IFACE) == node.iface
        and (node.tpgt is None or tpgt == str(node.tpgt))
    )


def _record_fields(text: str) -> dict[str, str]:
    fields: dict[str, str] = {}
    for line in text.splitlines():
        name, sep, value = line.partition(" = ")
        if sep and not name.startswith("#"):
            fields[name.strip()] = value.strip()
    return fields


def _rewrite_record(path: Path, settings: Mapping[str, str]) -> None:
    kept = [line for line in path.read_text(errors="surrogateescape").splitlines()
            if line.partition(" = ")[0].strip() not in settings]
    kept += [f"{name} = {value}" for name, value in settings.items()]
    # mkstemp creates the file 0600 before a byte of the secret is written.
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=_TEMPORARY_PREFIX)
    try:
        with os.fdopen(fd, "w", errors="surrogateescape") as out:
            out.write("\n".join(kept) + "\n")
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        try:
            os.unlink(temporary)
        except FileNotFoundError:
            pass
        raise
