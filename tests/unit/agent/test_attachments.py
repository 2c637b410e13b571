"""Attachments without an agent process: the volume file's hostile-input rules, params, the store's table."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from storconn.agent import attachment_devices as devices
from storconn.agent.attachment_devices import Device, VolumeFileError
from storconn.agent.attachments import parse_request
from storconn.agent.store import Store, StoredAttachment
from storconn.connection import ErrorCode, InvalidParameter, parse_info
from storconn.connection.volume_shapes import file_conn_info, iscsi_conn_info


@pytest.fixture
def share(tmp_path: Path) -> Path:
    directory = tmp_path / "share"
    directory.mkdir()
    (directory / "volume-ok").write_bytes(b"\0" * 4096)
    return directory


def _refused(share: Path, name: str) -> VolumeFileError:
    with pytest.raises(VolumeFileError) as error:
        devices.open_volume_file(str(share), name, read_only=True)
    return error.value


def test_a_regular_file_is_opened_read_only_for_ro(share: Path) -> None:
    fd, path = devices.open_volume_file(str(share), "volume-ok", read_only=True)
    try:
        assert path == str(share / "volume-ok")
        assert os.fstat(fd).st_ino == (share / "volume-ok").stat().st_ino
        with pytest.raises(OSError):
            os.write(fd, b"x")
    finally:
        os.close(fd)


def test_a_symlink_is_refused_never_followed(share: Path, tmp_path: Path) -> None:
    secret = tmp_path / "shadow"
    secret.write_text("root:hash\n")
    (share / "volume-evil").symlink_to(secret)
    error = _refused(share, "volume-evil")
    assert error.code == ErrorCode.ACCESS_PERMISSION and "symbolic link" in error.message
    assert str(secret) not in error.message


def test_a_fifo_a_directory_and_a_hard_link_are_refused(share: Path, tmp_path: Path) -> None:
    os.mkfifo(share / "volume-fifo")  # opening it would block the agent
    (share / "volume-dir").mkdir()
    outside = tmp_path / "host-file"
    outside.write_text("not a volume")
    os.link(outside, share / "volume-linked")
    assert "not a regular file" in _refused(share, "volume-fifo").message
    assert "not a regular file" in _refused(share, "volume-dir").message
    assert "hard links" in _refused(share, "volume-linked").message


def test_a_missing_file_is_a_clear_error(share: Path) -> None:
    error = _refused(share, "volume-missing")
    assert error.code == ErrorCode.STALE and "volume-missing" in error.message


def test_file_device_checks_and_reports_read_only(share: Path) -> None:
    device = devices.file_device(str(share), "volume-ok", read_only=True)
    assert device.to_wire() == {"type": "file", "path": str(share / "volume-ok"), "readOnly": True}
    assert Device.from_json(device.to_json()) == device


# -- params ---------------------------------------------------------------------------


def _conn_info(directory: Path, **changes: Any) -> dict[str, Any]:
    info = file_conn_info(parse_info({"type": "localfs", "params": {"path": str(directory)}}),
                          volume_id="v1", name="volume-ok", volume_format="raw", access_mode="rw")
    info["data"].update(changes)
    return info


def test_defaults_follow_the_conn_info(share: Path) -> None:
    request = parse_request("c1", _conn_info(share), None, None, 60)
    assert (request.mode, request.device_type) == ("rw", "file")
    assert request.ref_ids == ["volumes:v1:c1"]
    iscsi = iscsi_conn_info([("10.0.0.1:3260", "iqn.2026-01.t:a", 1), ("10.0.0.2:3260", "iqn.2026-01.t:a", 1)],
                            volume_id="v2", access_mode="ro", chap=("user", "pass-word-123"))
    request = parse_request("c2", iscsi, None, None, 60)
    assert (request.mode, request.device_type) == ("ro", "block")
    assert request.ref_ids == ["volumes:v2:c2", "volumes:v2:c2:1"]


@pytest.mark.parametrize(
    ("connection_id", "changes", "mode", "device_type", "field"),
    [
        ("c/1", {}, None, None, "connectionID"),
        ("", {}, None, None, "connectionID"),
        (None, {}, None, None, "connectionID"),
        ("c1", {"name": "../etc"}, None, None, "connInfo.data.name"),
        ("c1", {"volume_id": "a:b"}, None, None, "connInfo.data.volume_id"),
        ("c1", {"access_mode": "ro"}, "rw", None, "mode"),
        ("c1", {"format": "qcow2"}, None, "block", "deviceType"),
        ("c1", {"share": {"type": "localfs", "params": {"path": "relative"}}}, None, None, "connInfo.data.share.params.path"),
    ],
)
def test_bad_params_name_the_field(
    share: Path, connection_id: Any, changes: dict[str, Any], mode: Any, device_type: Any, field: str
) -> None:
    with pytest.raises(InvalidParameter) as error:
        parse_request(connection_id, _conn_info(share, **changes), mode, device_type, 60)
    assert error.value.field.startswith(field), error.value.field


def test_iscsi_attaches_as_block_only_and_no_password_is_quoted() -> None:
    iscsi = iscsi_conn_info([("10.0.0.1:3260", "iqn.2026-01.t:a", 1)], volume_id="v2", access_mode="rw",
                            chap=("user", "pass-word-123"))
    with pytest.raises(InvalidParameter) as error:
        parse_request("c1", iscsi, None, "file", 60)
    assert error.value.field == "deviceType"
    bad = {**iscsi, "data": {**iscsi["data"], "target_lun": "x"}}
    with pytest.raises(InvalidParameter) as error:
        parse_request("c1", bad, None, None, 60)
    assert "pass-word-123" not in str(error.value)


def test_a_huge_conn_info_is_refused(share: Path) -> None:
    with pytest.raises(InvalidParameter) as error:
        parse_request("c1", _conn_info(share, padding="x" * 70_000), None, None, 60)
    assert error.value.field == "connInfo"


# -- the store's table ----------------------------------------------------------------


def test_an_old_database_gains_the_attachments_table(tmp_path: Path) -> None:
    path = tmp_path / "refs.sqlite"
    old = sqlite3.connect(path)
    old.executescript(
        "CREATE TABLE refs (id TEXT PRIMARY KEY, target TEXT NOT NULL, info TEXT NOT NULL) WITHOUT ROWID;"
        "CREATE TABLE owned (target TEXT PRIMARY KEY, info TEXT NOT NULL, path TEXT) WITHOUT ROWID;"
        "INSERT INTO refs VALUES ('a', 't', '{}');"
    )
    old.commit()
    old.close()
    store = Store(path)
    try:
        assert store.load_attachments() == []
        record = StoredAttachment("c1", "v1", "attaching", '{"mode": "rw"}', '["volumes:v1:c1"]')
        store.put_attachment(record)
        store.put_attachment(StoredAttachment("c1", "v1", "attached", record.request, record.ref_ids, '{}', None))
        assert [r.state for r in store.load_attachments()] == ["attached"]
        assert [r.id for r in store.load_refs()] == ["a"]
        store.delete_attachment("c1")
        assert store.load_attachments() == []
    finally:
        store.close()
