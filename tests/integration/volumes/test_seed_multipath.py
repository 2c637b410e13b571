"""Seed 004's multipath sample on the iSCSI driver, against a real tgtd with two portals.

The seed's Backend arguments name Cinder's LVM driver; on storconn they
become the ``iscsi`` driver's (``use_multipath_for_image_xfer=True`` is the
seed's own). The conn_info must list every portal, and the host must hold
one reference — one session — per portal. The kernel half (sessions, the
SCSI disks, dm-multipath) needs ``iscsi_tcp`` and device-mapper, which this
kernel lacks: that step skips with the reason.
"""

from __future__ import annotations

from typing import Any

import pytest

import storconn.volumes as cl
from tests.conftest import kernel_module_available
from tests.peers.tgt import BareTgtd

from .conftest import Library
from .test_iscsi_driver import HOST_A, capacity, libiscsi


def _multipath_backend(library: Library, server: BareTgtd) -> cl.Backend:
    # The seed: cinderlib.Backend(volume_driver=..., volume_backend_name='lvm_iscsi',
    #                             use_multipath_for_image_xfer=True, ...)
    return cl.Backend(
        volume_driver="iscsi",
        volume_backend_name="lvm_iscsi",
        use_multipath_for_image_xfer=True,
        share=library.share_uri,
        target_ip_address="127.0.0.1",
        target_secondary_ip_addresses=["127.0.0.2"],
        target_port=server.port,
        tgt_control_port=server.control,
        target_prefix="iqn.2026-01.test.storconn:",
    )


def test_multipath_conn_info_lists_every_portal_and_each_serves_the_lun(
    library: Library, tgtd: BareTgtd
) -> None:
    tgtd.tgtadm("--mode", "portal", "--op", "new", "--param", f"portal=127.0.0.2:{tgtd.port}")
    backend = _multipath_backend(library, tgtd)
    volume = backend.create_volume(size=1)
    connector = cl.get_connector_properties("sudo", "127.0.0.1", True, False, initiator=HOST_A)
    assert connector["multipath"] is True
    connection = volume.connect(connector)
    data: dict[str, Any] = connection.conn_info["data"]
    assert data["target_portals"] == [f"127.0.0.1:{tgtd.port}", f"127.0.0.2:{tgtd.port}"]
    assert len(data["target_iqns"]) == len(data["target_luns"]) == 2
    for index in range(2):
        assert capacity(connection.conn_info, HOST_A, index=index) == 2**30
    conn_info = connection.conn_info
    connection.disconnect()
    assert libiscsi("iscsi-readcapacity16", conn_info, HOST_A).returncode != 0


def test_multipath_attach_holds_one_session_per_portal(library: Library, tgtd: BareTgtd) -> None:
    if not kernel_module_available("iscsi_tcp"):
        pytest.skip("needs the iscsi_tcp kernel module (sessions, SCSI disks) and device-mapper for "
                    "dm-multipath; the agent's fake-sysfs tests cover the per-portal disks")
    backend = _multipath_backend(library, tgtd)
    volume = backend.create_volume(size=1)
    connector = cl.get_connector_properties("sudo", "127.0.0.1", True, False)
    connection = volume.connect(connector)
    device = connection.attach()
    assert len(device["refIDs"]) == 2
    volume.detach()
