"""The library's volume lifecycle on a real share held by a real agent (memory persistence)."""

from __future__ import annotations

import json
import os

import pytest

import storconn.volumes as cl
from storconn.connection import InvalidParameter

from .conftest import Library

GIB = 1024**3


def _files(library: Library) -> list[str]:
    return sorted(os.listdir(library.share_dir))


def test_create_makes_a_sparse_file_of_the_size_and_an_available_volume(library: Library) -> None:
    volume = library.backend().create_volume(size=2, name="data", description="d")
    path = library.share_dir / f"volume-{volume.id}"
    assert path.stat().st_size == 2 * GIB
    assert path.stat().st_blocks == 0  # sparse
    assert (volume.status, volume.name, volume.description, volume.size) == ("available", "data", "d", 2)
    assert cl.Volume.get_by_id(volume.id).status == "available"


def test_the_share_is_held_by_one_backend_reference(library: Library) -> None:
    backend = library.backend()
    backend.create_volume(size=1)
    backend.create_volume(size=1)
    statuses = library.agent.client().statuses()
    assert [ref for ref in statuses if ref.startswith("volumes-backend:")] == ["volumes-backend:b1"]


def test_backend_lists_and_filters_its_volumes(library: Library) -> None:
    backend = library.backend()
    one = backend.create_volume(size=1, name="one")
    two = backend.create_volume(size=1, name="two")
    assert [v.id for v in backend.volumes] == [one.id, two.id]
    assert [v.id for v in backend.volumes_filtered(volume_name="two")] == [two.id]
    assert backend.Volume.get_by_id(one.id).name == "one"
    assert [v.id for v in cl.Volume.get_by_name("one")] == [one.id]


def test_backend_is_one_per_name_and_refuses_another_configuration(library: Library) -> None:
    backend = library.backend()
    assert library.backend() is backend
    with pytest.raises(ValueError, match="different configuration"):
        library.backend(volume_format="qcow2")


def test_extend_grows_the_file_and_refuses_shrinking(library: Library) -> None:
    volume = library.backend().create_volume(size=1)
    volume.extend(3)
    assert (library.share_dir / f"volume-{volume.id}").stat().st_size == 3 * GIB
    assert volume.size == 3
    with pytest.raises(cl.InvalidSize, match="size"):
        volume.extend(2)
    assert cl.Volume.get_by_id(volume.id).size == 3


def test_clone_and_snapshot_copy_the_data(library: Library) -> None:
    volume = library.backend().create_volume(size=1)
    with open(library.share_dir / f"volume-{volume.id}", "r+b") as f:
        f.seek(5 * 1024 * 1024)
        f.write(b"payload")
    snapshot = volume.create_snapshot(name="s1")
    clone = volume.clone(name="c1")
    from_snapshot = snapshot.create_volume(name="r1")
    for copy in (clone, from_snapshot):
        with open(library.share_dir / f"volume-{copy.id}", "rb") as f:
            f.seek(5 * 1024 * 1024)
            assert f.read(7) == b"payload"
        assert copy.size == 1 and copy.status == "available"
    assert [s.id for s in volume.snapshots] == [snapshot.id]
    assert cl.Snapshot.get_by_id(snapshot.id).name == "s1"


def test_delete_removes_file_and_record_and_is_refused_with_snapshots(library: Library) -> None:
    volume = library.backend().create_volume(size=1)
    snapshot = volume.create_snapshot()
    with pytest.raises(cl.InvalidVolume, match="snapshots"):
        volume.delete()
    snapshot.delete()
    volume.delete()
    assert _files(library) == []
    with pytest.raises(cl.VolumeNotFound):
        cl.Volume.get_by_id(volume.id)


def test_delete_is_refused_while_connected(library: Library) -> None:
    volume = library.backend().create_volume(size=1)
    connection = volume.connect(cl.get_connector_properties())
    with pytest.raises(cl.InvalidVolume, match="connections"):
        volume.delete()
    assert (library.share_dir / f"volume-{volume.id}").exists()
    connection.disconnect()
    volume.delete()


@pytest.mark.parametrize("size", [0, -1, "1", 1.5, True, 2**40])
def test_bad_sizes_are_refused_and_nothing_is_stored(library: Library, size: object) -> None:
    backend = library.backend()
    with pytest.raises(cl.InvalidSize, match="size"):
        backend.create_volume(size=size)  # type: ignore[arg-type]
    assert backend.volumes == [] and _files(library) == []


def test_unknown_fields_and_options_name_the_field(library: Library) -> None:
    backend = library.backend()
    with pytest.raises(InvalidParameter, match="colour"):
        backend.create_volume(size=1, colour="red")
    with pytest.raises(InvalidParameter, match="volume_driver"):
        cl.Backend("b2", volume_driver="lvm", share=library.share_uri)
    with pytest.raises(InvalidParameter, match="share"):
        cl.Backend("b3", volume_driver="file")
    with pytest.raises(InvalidParameter, match="target_port"):
        cl.Backend("b4", volume_driver="file", share=library.share_uri, target_port=3260)
    with pytest.raises(InvalidParameter, match="share"):
        cl.Backend("b5", volume_driver="file", share="iscsi://127.0.0.1/iqn.2024-01.org.x:t")
    assert backend.volumes == []


def test_unknown_ids_raise_not_found(library: Library) -> None:
    library.backend()
    with pytest.raises(cl.VolumeNotFound):
        cl.Volume.get_by_id("no-such-volume")
    with pytest.raises(cl.SnapshotNotFound):
        cl.Snapshot.get_by_id("no-such-snapshot")
    with pytest.raises(cl.ConnectionNotFound):
        cl.Connection.get_by_id("no-such-connection")


def test_a_second_connection_of_a_volume_that_is_not_multiattach_is_refused(library: Library) -> None:
    volume = library.backend().create_volume(size=1)
    first = volume.connect(cl.get_connector_properties())
    with pytest.raises(cl.InvalidVolume, match="not multiattach"):
        volume.connect(cl.get_connector_properties(host="node2"))
    assert [c.id for c in volume.connections] == [first.id]
    assert cl.Volume.get_by_id(volume.id).status == "in-use"


def test_multiattach_volume_takes_several_connections_and_stays_in_use_until_the_last(library: Library) -> None:
    volume = library.backend().create_volume(size=1, multiattach=True)
    first = volume.connect(cl.get_connector_properties(host="node1"), attach_mode="ro")
    second = volume.connect(cl.get_connector_properties(host="node2"))
    assert first.conn_info["data"]["access_mode"] == "ro"
    assert second.conn_info["data"]["access_mode"] == "rw"
    first.disconnect()
    assert cl.Volume.get_by_id(volume.id).status == "in-use"
    second.disconnect()
    assert cl.Volume.get_by_id(volume.id).status == "available"
    second.disconnect()  # idempotent


def test_conn_info_is_os_brick_remotefs_shaped(library: Library) -> None:
    volume = library.backend().create_volume(size=1)
    connection = volume.connect(cl.get_connector_properties())
    info = connection.conn_info
    assert info["driver_volume_type"] == "localfs"
    assert info["data"]["export"] == str(library.share_dir)
    assert info["data"]["name"] == f"volume-{volume.id}"
    assert info["data"]["format"] == "raw"
    assert connection.connection_info["connector"]["host"] == connection.connector_info["host"]
    assert connection.protocol == "localfs" and connection.connected and not connection.attached


def test_json_round_trip_and_dump_carries_connections(library: Library) -> None:
    volume = library.backend().create_volume(size=1, name="j")
    connection = volume.connect(cl.get_connector_properties())
    loaded = cl.load(volume.jsons)
    assert isinstance(loaded, cl.Volume) and loaded.id == volume.id and loaded.name == "j"
    dumped = json.loads(volume.dumps)
    assert [c["data"]["id"] for c in dumped["connections"]] == [connection.id]
    (backend,) = cl.load(cl.dumps())
    assert isinstance(backend, cl.Backend) and [v.id for v in backend.volumes] == [volume.id]
    assert isinstance(cl.load(connection.json), cl.Connection)


def test_connector_properties_have_os_brick_keys(library: Library) -> None:
    properties = cl.get_connector_properties("sudo", "127.0.0.1", True, False)
    for key in ("platform", "os_type", "ip", "host", "multipath", "enforce_multipath", "do_local_attach"):
        assert key in properties
    assert properties["ip"] == "127.0.0.1" and properties["multipath"] is True
    assert properties["agent"] == library.agent.url


def test_key_values_as_the_seed_uses_them(library: Library) -> None:
    assert cl.Backend.persistence.get_key_values("node-1") == []
    cl.Backend.persistence.set_key_value(cl.KeyValue("node-1", '{"host":"n1"}'))
    kv = cl.Backend.persistence.get_key_values("node-1")
    assert json.loads(kv[0].value) == {"host": "n1"}


def test_an_unreachable_share_fails_create_before_anything_is_stored(library: Library) -> None:
    backend = library.backend("gone", share=f"localfs://{library.tmp}/does-not-exist")
    with pytest.raises(cl.BackendError, match="not connected"):
        backend.create_volume(size=1)
    assert backend.volumes == []
