"""Answers as oVirt gives them: the empty-GUID host, hosts that are not Up, PUT of unknown ids,
oVirt's message keys and texts (AppErrors.properties) and the order of its validations.

Through REST in XML and JSON against the real Engine; each refusal leaves
everything stored as it was.
"""

from __future__ import annotations

from storconn.engine.model import ConnectionFields, StorageType
from storconn.engine.service import Engine

from .rest import ISCSI, NFS, NFS_FIELDS, Api, iscsi_fields, unreachable_host

EMPTY = "00000000-0000-0000-0000-000000000000"
NOT_UP = "[Cannot add storage server connection when Host status is not up]"


def test_delete_with_the_empty_guid_host_means_no_host(api: Api, engine: Engine) -> None:
    for how in ("body", "query"):
        conn = engine.add_connection(ConnectionFields(
            type=StorageType.NFS, address="filer", path=f"/exports/{how}"))
        path = f"/storageconnections/{conn.id}"
        if how == "query":
            answer = api.delete(path, params={"host": EMPTY})
        else:
            # oVirt 3's <host> body in XML; the action form in JSON.
            body = ("host", {"id": EMPTY}) if api.fmt == "xml" else ("action", {"host": {"id": EMPTY}})
            answer = api.call("DELETE", path, body)
        assert answer.status_code == 200, answer.text
        assert api.get(path).status_code == 404


def test_add_and_edit_with_the_empty_guid_host_connect_nowhere(api: Api, engine: Engine) -> None:
    added = api.add_connection({**NFS, "host": {"id": EMPTY}})
    answer = api.put(f"/storageconnections/{added['id']}", "storage_connection",
                     {"path": "/exports/moved", "host": {"id": EMPTY}})
    assert answer.status_code == 200, answer.text
    assert api.read(answer)["path"] == "/exports/moved"


def test_a_host_that_is_not_up_is_refused_before_anything_is_tried(api: Api, engine: Engine) -> None:
    unreachable_host(engine, "h1")  # its agent does not answer: non-responsive
    conn = engine.add_connection(NFS_FIELDS)
    before = api.snapshot()
    api.expect_fault(
        api.post("/storageconnections", "storage_connection",
                 {**NFS, "path": "/exports/other", "host": {"name": "h1"}}),
        409, "VDS_ADD_STORAGE_SERVER_STATUS_MUST_BE_UP", detail=NOT_UP,
    )
    api.expect_fault(
        api.put(f"/storageconnections/{conn.id}", "storage_connection",
                {"path": "/exports/moved", "host": {"name": "h1"}}),
        409, "VDS_ADD_STORAGE_SERVER_STATUS_MUST_BE_UP", detail=NOT_UP,
    )
    api.expect_fault(
        api.delete(f"/storageconnections/{conn.id}", params={"host": "h1"}),
        409, "VDS_ADD_STORAGE_SERVER_STATUS_MUST_BE_UP", detail=NOT_UP,
    )
    assert api.snapshot() == before


def test_a_duplicate_is_found_before_the_hosts_status(api: Api, engine: Engine) -> None:
    # oVirt's AddStorageServerConnectionCommand.validate: duplicates, then the host.
    unreachable_host(engine, "h1")
    conn = engine.add_connection(NFS_FIELDS)
    engine.add_domain("data1", storage_type=StorageType.NFS, connection_id=conn.id)
    api.expect_fault(
        api.post("/storageconnections", "storage_connection", {**NFS, "host": {"name": "h1"}}),
        409, "ACTION_TYPE_FAILED_STORAGE_CONNECTION_ALREADY_EXISTS",
        detail=f"[Cannot add Storage Connection. Storage connection {conn.id} already exists for data1.]",
    )


def test_put_of_unknown_ids_is_404(api: Api) -> None:
    unknown = "0b9e0000-0000-0000-0000-00000000dead"
    for path, tag, fields in (
        (f"/storageconnections/{unknown}", "storage_connection", {"path": "/x"}),
        (f"/storagedomains/{unknown}", "storage_domain", {"name": "renamed"}),
    ):
        answer = api.put(path, tag, fields)
        assert answer.status_code == 404, answer.text
        api.fault(answer)  # a fault body in the asked format


def test_validation_texts_are_ovirts_without_the_action(api: Api) -> None:
    cases = [
        ({**NFS, "nfs_timeo": 0}, "VALIDATION_STORAGE_CONNECTION_NFS_TIMEO",
         "[NFS Timeout should be between 1 and 6000]"),
        ({**NFS, "nfs_retrans": 40000}, "VALIDATION_STORAGE_CONNECTION_NFS_RETRANS",
         "[NFS Retransmissions should be between 0 and 32767]"),
        ({**NFS, "address": "bad host"}, "VALIDATION_STORAGE_CONNECTION_INVALID",
         "[Mount path is illegal, please use [IP:/path or FQDN:/path] convention.]"),
        ({**ISCSI, "port": 0}, "VALIDATION_STORAGE_CONNECTION_INVALID_PORT",
         "[Invalid value for port, should be an integer greater than 0.]"),
    ]
    before = api.snapshot()
    for fields, key, detail in cases:
        api.expect_fault(api.post("/storageconnections", "storage_connection", fields), 400, key,
                         detail=detail)
    # A managed mount option: oVirt's text carries the action.
    api.expect_fault(
        api.post("/storageconnections", "storage_connection", {**NFS, "mount_options": "timeo=30"}),
        400, "VALIDATION_STORAGE_CONNECTION_MOUNT_OPTIONS_CONTAINS_MANAGED_PROPERTY",
        detail="[Cannot add Storage Connection. Custom mount options contain the following"
        " duplicate managed options: timeo.]",
    )
    assert api.snapshot() == before


def test_command_texts_are_ovirts(api: Api, engine: Engine) -> None:
    nfs = engine.add_connection(NFS_FIELDS)
    iscsi = engine.add_connection(iscsi_fields())
    sd = engine.add_domain("iscsi1", storage_type=StorageType.ISCSI, connection_id=iscsi.id)
    before = api.snapshot()
    api.expect_fault(
        api.post(f"/storagedomains/{sd.id}/storageconnections", "storage_connection", {"id": nfs.id}),
        400, "ACTION_TYPE_FAILED_STORAGE_CONNECTION_UNSUPPORTED_ACTION_NOT_SAME_STORAGE_TYPE",
        detail="[Cannot attach Storage Connection. Storage connection and domain type don't match.]",
    )
    api.expect_fault(
        api.post(f"/storagedomains/{sd.id}/storageconnections", "storage_connection", {"id": iscsi.id}),
        409, "ACTION_TYPE_FAILED_STORAGE_CONNECTION_FOR_DOMAIN_ALREADY_EXISTS",
        detail="[Cannot attach Storage Connection. Storage connection is already attached to the"
        " specified domain.]",
    )
    api.expect_fault(
        api.post("/storagedomains", "storage_domain",
                 {"name": "d2", "type": "data", "storage": {"id": nfs.id, "type": "iscsi"}}),
        400, "ACTION_TYPE_FAILED_STORAGE_CONNECTION_UNSUPPORTED_ACTION_NOT_SAME_STORAGE_TYPE",
        detail="[Cannot add Storage. Storage connection and domain type don't match.]",
    )
    api.expect_fault(
        api.delete(f"/storageconnections/{iscsi.id}"),
        409, "ACTION_TYPE_FAILED_STORAGE_CONNECTION_BELONGS_TO_SEVERAL_STORAGE_DOMAINS",
        detail="[Cannot remove Storage Connection. Storage connection parameters are used by the"
        " following storage domains : iscsi1.]",
    )
    assert api.snapshot() == before


def test_edit_validations_come_in_ovirts_order(api: Api, engine: Engine) -> None:
    """UpdateStorageServerConnectionCommand.validate: the fields' validity before who uses them."""
    conn = engine.add_connection(NFS_FIELDS)
    domain = engine.add_domain("data1", storage_type=StorageType.NFS, connection_id=conn.id)
    dc = engine.add_data_center("dc1")
    engine.attach_domain(dc.id, domain.id)  # active
    path = f"/storageconnections/{conn.id}"
    api.expect_fault(api.put(path, "storage_connection", {"nfs_timeo": 0}), 400,
                     "VALIDATION_STORAGE_CONNECTION_NFS_TIMEO")
    api.expect_fault(
        api.put(path, "storage_connection", {"path": "/exports/moved"}), 400,
        "ACTION_TYPE_FAILED_UNSUPPORTED_ACTION_DOMAIN_MUST_BE_IN_MAINTENANCE_OR_UNATTACHED",
        detail="[Cannot edit Storage Connection. The data domains data1 should be in maintenance"
        " or unattached.]",
    )
    api.expect_fault(
        api.put(path, "storage_connection", {"type": "posixfs", "vfs_type": "tmpfs"}), 400,
        "ACTION_TYPE_FAILED_STORAGE_CONNECTION_UNSUPPORTED_CHANGE_STORAGE_TYPE",
        detail="[Cannot edit Storage Connection. Storage type cannot be edited.]",
    )
