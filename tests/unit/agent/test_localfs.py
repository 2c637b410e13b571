"""The localfs connector's checks of the directory are bounded in time."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from storconn.agent.connectors import localfs
from storconn.agent.connectors.localfs import LocalfsConnector
from storconn.connection import ErrorCode, StorconnError, parse_info


def test_a_directory_that_never_answers_fails_the_connect_within_the_deadline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    released = threading.Event()
    real_stat = os.stat

    def hung_stat(path: object, *args: object, **kwargs: object) -> os.stat_result:
        if str(path) == str(data):
            released.wait(10)  # as a stat on a hung NFS mount does
        return real_stat(path, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(localfs.os, "stat", hung_stat)
    connector = LocalfsConnector(tmp_path / "mnt", timeout=0.3)
    info = parse_info({"type": "localfs", "params": {"path": str(data)}})
    started = time.monotonic()
    try:
        with pytest.raises(StorconnError) as caught:
            connector.connect(info, connector.path(info))
        assert time.monotonic() - started < 2
        assert caught.value.code == ErrorCode.HUNG and str(data) in caught.value.message
        assert not os.path.lexists(connector.path(info))
    finally:
        released.set()


def test_a_healthy_directory_is_linked(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    connector = LocalfsConnector(tmp_path / "mnt", timeout=0.3)
    info = parse_info({"type": "localfs", "params": {"path": str(data)}})
    connector.connect(info, connector.path(info))
    assert os.readlink(connector.path(info)) == str(data)


def test_a_missing_directory_keeps_its_own_error(tmp_path: Path) -> None:
    connector = LocalfsConnector(tmp_path / "mnt", timeout=0.3)
    info = parse_info({"type": "localfs", "params": {"path": str(tmp_path / "missing")}})
    with pytest.raises(StorconnError) as caught:
        connector.connect(info, connector.path(info))
    assert caught.value.code == ErrorCode.STORAGE_SERVER_VALIDATION
