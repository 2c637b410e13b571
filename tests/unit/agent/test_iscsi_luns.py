"""The LUNs of the host's iSCSI sessions, read from a fake sysfs (this kernel has no iscsi_tcp)."""

from __future__ import annotations

from pathlib import Path

from storconn.agent.system import iscsi_luns
from tests.unit.agent.test_iscsi import IQN, FakeSysfs, sysfs  # noqa: F401  (the fixture)


def _describe(tree: FakeSysfs, disk: str, *, wwid: str | None, serial: bytes = b"", sectors: int = 131072) -> None:
    device = tree.root / "class" / "block" / disk / "device"
    device.mkdir(parents=True, exist_ok=True)
    (tree.root / "class" / "block" / disk / "size").write_text(f"{sectors}\n")
    (device / "vendor").write_text("IET     \n")
    (device / "model").write_text("VIRTUAL-DISK    \n")
    if wwid is not None:
        (device / "wwid").write_text(f"{wwid}\n")
    if serial:
        (device / "vpd_pg80").write_bytes(b"\x00\x80\x00" + bytes([len(serial)]) + serial)


def test_no_initiator_no_luns(tmp_path: Path) -> None:
    assert iscsi_luns.luns(tmp_path) == []


def test_each_disk_of_each_session_is_a_lun_with_ovirts_id(sysfs: FakeSysfs) -> None:  # noqa: F811
    sysfs.session(1, address="10.0.0.5", port=3260, disks=("sdb", "sdc"))
    sysfs.session(2, iqn="iqn.2026-01.test:other", address="10.0.0.6", port=3261, disks=("sdd",))
    _describe(sysfs, "sdb", wwid="naa.60014055f0a8c5b6d8e4f1a2b3c4d5e6", serial=b"beaf11")
    _describe(sysfs, "sdc", wwid="t10.IET     VIRTUAL-DISK    beaf12")
    _describe(sysfs, "sdd", wwid=None)
    found = iscsi_luns.luns(sysfs.root)
    assert [(lun.device, lun.lun) for lun in found] == [("sdb", 1), ("sdc", 2), ("sdd", 1)]
    first = found[0].to_wire()
    assert first["lunID"] == "360014055f0a8c5b6d8e4f1a2b3c4d5e6"
    assert first["size"] == 131072 * 512
    assert (first["vendor"], first["product"], first["serial"]) == ("IET", "VIRTUAL-DISK", "beaf11")
    assert first["target"] == {"portal": {"hostname": "10.0.0.5", "port": 3260}, "iqn": IQN, "tpgt": 1}
    assert found[1].lun_id == "1IET_____VIRTUAL-DISK____beaf12"
    # No wwid from the kernel: the target and LUN number still name it uniquely.
    assert found[2].lun_id == "iqn.2026-01.test:other:1"
    assert found[2].to_wire()["target"]["portal"] == {"hostname": "10.0.0.6", "port": 3261}


def test_a_disk_still_being_probed_is_left_out(sysfs: FakeSysfs) -> None:  # noqa: F811
    sysfs.session(1, disks=("sdb",))
    lun_dir = sysfs.root / "class" / "iscsi_session" / "session1" / "device" / "target1:0:0" / "1:0:0:2"
    (lun_dir / "block").mkdir(parents=True)
    assert [lun.device for lun in iscsi_luns.luns(sysfs.root)] == ["sdb"]
