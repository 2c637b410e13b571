from __future__ import annotations

from pathlib import Path

from storconn.agent.system import mountinfo

TABLE = (
    "22 1 0:21 / / rw,relatime - ext4 /dev/vda rw\n"
    "41 22 0:38 / /mnt/with\\040space rw - tmpfs scratch rw,size=1024k\n"
    "42 22 0:39 / /mnt/a rw - fuse.sshfs root@127.0.0.1:/remote rw\n"
    "43 42 0:40 / /mnt/a rw - tmpfs over rw\n"
)


def test_parse_unescapes_and_reads_every_field() -> None:
    entries = mountinfo.parse(TABLE)
    assert entries[1].mountpoint == "/mnt/with space"
    assert (entries[2].fstype, entries[2].source) == ("fuse.sshfs", "root@127.0.0.1:/remote")


def test_read_keeps_the_topmost_of_stacked_mounts(tmp_path: Path) -> None:
    table = tmp_path / "mountinfo"
    table.write_text(TABLE)
    assert mountinfo.read(path=table)["/mnt/a"].source == "over"


def test_read_only_one_mount_point(tmp_path: Path) -> None:
    table = tmp_path / "mountinfo"
    table.write_text(TABLE)
    assert list(mountinfo.read("/mnt/with space", path=table)) == ["/mnt/with space"]
    assert mountinfo.read("/mnt/absent", path=table) == {}
    assert mountinfo.read("/mnt", path=table) == {}  # a prefix is not a mount point


def test_stack_lists_every_mount_at_a_point_bottom_first(tmp_path: Path) -> None:
    table = tmp_path / "mountinfo"
    table.write_text(TABLE)
    assert [e.mount_id for e in mountinfo.stack("/mnt/a", path=table)] == [42, 43]
    assert mountinfo.stack("/mnt/none", path=table) == []


def test_super_options_are_read() -> None:
    assert mountinfo.parse(TABLE)[1].super_options == "rw,size=1024k"
