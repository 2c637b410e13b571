"""The export and ACL lifecycle rules, against a driver that records what it is asked.

The real iSCSI driver on a real tgtd checks the same rules end to end
(tests/integration/volumes/test_iscsi_driver.py); here each rule is one
test, with no storage, so that a broken rule names itself.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest

import storconn.volumes as cl
from storconn.volumes.records import SnapshotRecord, VolumeRecord


class RecordingDriver:
    protocol = "iscsi"

    def __init__(self, acl_scope: str = "backend") -> None:
        self.acl_scope = acl_scope
        self.calls: list[tuple[str, str]] = []
        self.fail_initialize = False

    def _log(self, action: str, volume: VolumeRecord, detail: str = "") -> None:
        self.calls.append((action, f"{volume.name}{detail}"))

    def do_setup(self) -> None: ...
    def stats(self) -> dict[str, Any]: return {}
    def create_volume(self, volume: VolumeRecord) -> None: self._log("create", volume)
    def create_cloned_volume(self, volume: VolumeRecord, source: VolumeRecord) -> None: ...
    def create_volume_from_snapshot(self, volume: VolumeRecord, snapshot: SnapshotRecord) -> None: ...
    def delete_volume(self, volume: VolumeRecord) -> None: self._log("delete", volume)
    def extend_volume(self, volume: VolumeRecord, new_size: int) -> None: ...
    def create_snapshot(self, snapshot: SnapshotRecord, volume: VolumeRecord) -> None: ...
    def delete_snapshot(self, snapshot: SnapshotRecord) -> None: ...
    def create_export(self, volume: VolumeRecord) -> None: self._log("export", volume)
    def remove_export(self, volume: VolumeRecord) -> None: self._log("unexport", volume)

    def initialize_connection(self, volume: VolumeRecord, connector: dict[str, Any], *, access_mode: str) -> dict[str, Any]:
        if self.fail_initialize:
            raise cl.BackendError("the target refused")
        self._log("bind", volume, f":{connector['initiator']}")
        return {"driver_volume_type": "iscsi", "data": {"volume_id": volume.id, "access_mode": access_mode}}

    def terminate_connection(self, volume: VolumeRecord, connector: dict[str, Any], *, initiator_done: bool) -> None:
        if initiator_done:
            self._log("unbind", volume, f":{connector['initiator']}")

    def ensure_exports(self, exported: list[VolumeRecord], initiators: dict[str, list[str]]) -> None: ...
    def close(self) -> None: ...
    def destroy(self) -> None: ...


@pytest.fixture
def driver() -> Iterator[RecordingDriver]:
    cl.Backend.backends.clear()
    cl.setup(persistence_config={"storage": "memory"})
    backend = cl.Backend("rec", volume_driver="file", share="localfs:///nonexistent")
    recording = RecordingDriver()
    backend.driver = recording  # type: ignore[assignment]
    backend._ready = True
    yield recording
    cl.Backend.backends.clear()


def node(name: str) -> dict[str, Any]:
    return {"host": name, "initiator": f"iqn.2024-01.org.example:{name}"}


def volume(name: str, *, multiattach: bool = False) -> cl.Volume:
    return cl.Backend.backends["rec"].create_volume(size=1, name=name, multiattach=multiattach)


def test_export_is_removed_only_with_the_volumes_last_connection(driver: RecordingDriver) -> None:
    vol = volume("v", multiattach=True)
    one = vol.connect(node("n1"))
    two = vol.connect(node("n2"))
    one.disconnect()
    assert ("unexport", "v") not in driver.calls  # cinderlib removed it here, cutting n2
    two.disconnect()
    assert driver.calls[-1] == ("unexport", "v")
    assert [c for c in driver.calls if c[0] == "unexport"] == [("unexport", "v")]


def test_an_initiators_acl_goes_with_its_last_connection_to_the_shared_target(driver: RecordingDriver) -> None:
    a, b = volume("a"), volume("b")
    on_a = a.connect(node("n1"))
    on_b = b.connect(node("n1"))
    on_a.disconnect()
    assert ("unbind", "a:iqn.2024-01.org.example:n1") not in driver.calls
    on_b.disconnect()
    assert ("unbind", "b:iqn.2024-01.org.example:n1") in driver.calls


def test_with_a_target_per_volume_the_acl_follows_the_volume(driver: RecordingDriver) -> None:
    driver.acl_scope = "volume"
    a, b = volume("a"), volume("b")
    on_a = a.connect(node("n1"))
    b.connect(node("n1"))
    on_a.disconnect()
    assert ("unbind", "a:iqn.2024-01.org.example:n1") in driver.calls


def test_a_failed_connect_leaves_no_row_no_export_and_the_status_unchanged(driver: RecordingDriver) -> None:
    vol = volume("v")
    driver.fail_initialize = True
    with pytest.raises(cl.BackendError):
        vol.connect(node("n1"))
    assert vol.connections == []
    assert driver.calls[-1] == ("unexport", "v")
    assert cl.Volume.get_by_id(vol.id).status == "available"


def test_disconnect_of_an_attached_connection_needs_force(driver: RecordingDriver) -> None:
    vol = volume("v")
    connection = vol.connect(node("n1"))
    connection.device = {"type": "block", "path": "/dev/loop7"}
    connection.save()
    with pytest.raises(cl.InvalidVolume, match="detach it there first"):
        connection.disconnect()
    assert [c.id for c in vol.connections] == [connection.id]
    connection.disconnect(force=True)
    assert vol.connections == []


def test_racing_connects_of_a_single_attach_volume_yield_exactly_one(driver: RecordingDriver) -> None:
    vol = volume("v")
    outcomes: list[str] = []
    barrier = threading.Barrier(8)

    def connect(i: int) -> None:
        barrier.wait()
        try:
            cl.Volume.get_by_id(vol.id).connect(node(f"n{i}"))
            outcomes.append("ok")
        except cl.InvalidVolume:
            outcomes.append("refused")

    threads = [threading.Thread(target=connect, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["ok"] + ["refused"] * 7
    assert len(vol.connections) == 1
