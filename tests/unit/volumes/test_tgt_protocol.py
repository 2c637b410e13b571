"""tgtd's management protocol as tgt.py packs and reads it (no tgtd needed).

The byte layout is checked field by field against ``struct tgtadm_req`` of
tgt's usr/tgtadm.h; the client's framing, timeouts and error texts against
a small Unix-socket stand-in (tests/integration/volumes/test_iscsi_driver.py
runs the same client against a real tgtd).
"""

from __future__ import annotations

import socket
import struct
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from storconn.connection import InvalidParameter
from storconn.volumes.drivers.tgt import (
    REQUEST_HEADER,
    Mode,
    Op,
    TgtClient,
    TgtErr,
    TgtError,
    TgtUnavailable,
    check_backing_path,
    check_initiator_name,
    check_password,
    pack_request,
    parse_show,
    size_mb,
    unpack_response_header,
)

SHOW = """Target 1: iqn.2010-10.org.openstack:gl1
    System information:
        Driver: iscsi
        State: ready
    I_T nexus information:
        I_T nexus: 1
            Initiator: iqn.2026-01.test:host-a alias: none
            Connection: 0
                IP Address: 127.0.0.1
    LUN information:
        LUN: 0
            Type: controller
            SCSI ID: IET     00010000
            SCSI SN: beaf10
            Size: 0 MB, Block size: 1
            Online: Yes
            Removable media: No
            Prevent removal: No
            Readonly: No
            SWP: No
            Thin-provisioning: No
            Backing store type: null
            Backing store path: None
            Backing store flags: 
        LUN: 1
            Type: disk
            SCSI ID: IET     00010001
            SCSI SN: beaf11
            Size: 1074 MB, Block size: 512
            Online: Yes
            Removable media: No
            Prevent removal: No
            Readonly: Yes
            SWP: No
            Thin-provisioning: No
            Backing store type: rdwr
            Backing store path: /srv/share/volume-1
            Backing store flags: 
    Account information:
        gl1-0a1b2c3d
        other (outgoing)
    ACL information:
        127.0.0.1
        iqn.2026-01.test:host-a
Target 2: iqn.2010-10.org.openstack:volume-2
    System information:
        Driver: iscsi
        State: ready
    I_T nexus information:
    LUN information:
        LUN: 0
            Type: controller
            Backing store path: None
    Account information:
    ACL information:
"""


# -- packing -------------------------------------------------------------------


def test_the_request_header_has_tgtadm_reqs_size_and_offsets() -> None:
    data = pack_request(
        Mode.DEVICE, Op.UPDATE, "readonly=1", tid=7, lun=3, sid=0x1122, cid=5, host_no=6,
        device_type=0, ac_dir=1, force=True,
    )
    assert REQUEST_HEADER.size == 120
    assert struct.unpack_from("=i", data, 0) == (Mode.DEVICE,)
    assert struct.unpack_from("=i", data, 4) == (Op.UPDATE,)
    assert data[8:72] == b"iscsi" + b"\0" * 59
    assert struct.unpack_from("=I", data, 72) == (120 + len("readonly=1") + 1,)
    assert struct.unpack_from("=i", data, 76) == (7,)
    assert struct.unpack_from("=Q", data, 80) == (0x1122,)
    assert struct.unpack_from("=Q", data, 88) == (3,)
    assert struct.unpack_from("=IIIIII", data, 96) == (5, 6, 0, 1, 0, 1)
    assert data[120:] == b"readonly=1\0"


def test_a_request_without_text_is_the_header_alone_with_its_length() -> None:
    data = pack_request(Mode.TARGET, Op.SHOW)
    assert len(data) == 120
    assert struct.unpack_from("=I", data, 72) == (120,)
    assert struct.unpack_from("=i", data, 76) == (-1,)  # all targets, as tgtadm sends


def test_a_body_longer_than_tgtds_limit_is_refused_before_sending() -> None:
    with pytest.raises(InvalidParameter) as caught:
        pack_request(Mode.TARGET, Op.BIND, "x" * 9000, tid=1)
    assert caught.value.field == "body"


def test_the_response_header_is_err_then_length() -> None:
    assert unpack_response_header(struct.pack("=II", 0, 20)) == (0, 20)
    assert unpack_response_header(struct.pack("=II", TgtErr.LUN_EXIST, 8)) == (10, 8)


# -- show ------------------------------------------------------------------------


def test_show_text_becomes_targets_luns_accounts_acls_and_sessions() -> None:
    first, second = parse_show(SHOW)
    assert (first.tid, first.iqn) == (1, "iqn.2010-10.org.openstack:gl1")
    assert sorted(first.luns) == [0, 1]
    lun = first.luns[1]
    assert (lun.type, lun.path, lun.online, lun.readonly, lun.size_mb) == (
        "disk", "/srv/share/volume-1", True, True, 1074)
    assert first.luns[0].path is None
    assert first.lun_of("/srv/share/volume-1") == 1
    assert first.lun_of("/srv/share/volume-9") is None
    assert first.accounts == ["gl1-0a1b2c3d"]
    assert first.acl_addresses == ["127.0.0.1"]
    assert first.acl_names == ["iqn.2026-01.test:host-a"]
    assert first.initiators == ["iqn.2026-01.test:host-a"]
    assert (second.tid, second.accounts, second.acl_names, second.initiators) == (2, [], [], [])


def test_the_shown_size_follows_tgtds_rounding() -> None:
    # What tgtd printed for these files (see the integration test).
    assert size_mb(64 * 2**20) == 67
    assert size_mb(128 * 2**20) == 134
    assert size_mb(2**30) == 1074


# -- checks on values -------------------------------------------------------------


@pytest.mark.parametrize("name", [
    "iqn.2026-01.test:a,initiator-address=ALL", "iqn.x:a=b", "host-a", "iqn.x:a b", "",
])
def test_an_initiator_name_tgtd_would_misread_is_refused(name: str) -> None:
    with pytest.raises(InvalidParameter) as caught:
        check_initiator_name(name, "connector_info.initiator")
    assert caught.value.field == "connector_info.initiator"
    assert name not in str(caught.value) or not name


def test_a_backing_path_with_a_comma_is_refused() -> None:
    with pytest.raises(InvalidParameter, match="path"):
        check_backing_path("/srv/a,bstype=sg")
    with pytest.raises(InvalidParameter):
        check_backing_path("relative/file")


def test_a_bad_password_is_refused_without_quoting_it() -> None:
    with pytest.raises(InvalidParameter) as caught:
        check_password("has a space in it")
    assert "space in it" not in str(caught.value)


# -- the client on a stand-in socket ------------------------------------------------


class StandIn:
    """A Unix socket that records one request per connection and answers as told."""

    def __init__(self, directory: Path, port: int) -> None:
        self.path = directory / f"socket.{port}"
        self.requests: list[bytes] = []
        self.answer = struct.pack("=II", 0, 8)
        self.silent = False
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._sock.bind(str(self.path))
        self._sock.listen(8)
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            with conn:
                header = conn.recv(120, socket.MSG_WAITALL)
                length = struct.unpack_from("=I", header, 72)[0]
                body = conn.recv(length - 120, socket.MSG_WAITALL) if length > 120 else b""
                self.requests.append(header + body)
                if self.silent:
                    time.sleep(2)
                    continue
                conn.sendall(self.answer)

    def close(self) -> None:
        self._sock.close()


@pytest.fixture
def stand_in(tmp_path: Path) -> Iterator[StandIn]:
    server = StandIn(tmp_path, 4242)
    yield server
    server.close()


def test_the_client_sends_account_text_with_the_password_last(stand_in: StandIn, tmp_path: Path) -> None:
    client = TgtClient(4242, socket_dir=tmp_path)
    client.new_account("gl1-0a1b2c3d", "Secret0123456789")
    (request,) = stand_in.requests
    assert struct.unpack_from("=ii", request, 0) == (Mode.ACCOUNT, Op.NEW)
    assert request[120:] == b"user=gl1-0a1b2c3d,password=Secret0123456789\0"


def test_a_refusal_carries_tgtadms_words_and_never_the_request_text(
    stand_in: StandIn, tmp_path: Path
) -> None:
    stand_in.answer = struct.pack("=II", TgtErr.USER_EXIST, 8)
    client = TgtClient(4242, socket_dir=tmp_path)
    with pytest.raises(TgtError) as caught:
        client.new_account("gl1-0a1b2c3d", "Secret0123456789")
    assert caught.value.err == TgtErr.USER_EXIST
    assert "this account already exists" in str(caught.value)
    assert "Secret0123456789" not in str(caught.value) + repr(caught.value)


def test_a_show_answer_is_read_whole(stand_in: StandIn, tmp_path: Path) -> None:
    text = SHOW.encode() + b"\0"
    stand_in.answer = struct.pack("=II", 0, 8 + len(text)) + text
    targets = TgtClient(4242, socket_dir=tmp_path).show_targets()
    assert [t.iqn for t in targets] == [
        "iqn.2010-10.org.openstack:gl1", "iqn.2010-10.org.openstack:volume-2"]


def test_a_silent_tgtd_costs_one_timeout(stand_in: StandIn, tmp_path: Path) -> None:
    stand_in.silent = True
    client = TgtClient(4242, socket_dir=tmp_path, timeout=0.3)
    started = time.monotonic()
    with pytest.raises(TgtError, match="no answer within 0.3 s"):
        client.show_system()
    assert time.monotonic() - started < 1.5


def test_no_tgtd_is_tgt_unavailable(tmp_path: Path) -> None:
    client = TgtClient(4243, socket_dir=tmp_path)
    with pytest.raises(TgtUnavailable, match="no tgtd"):
        client.show_targets()
    assert client.ping() is False


def test_a_control_port_tgtd_cannot_have_is_refused() -> None:
    with pytest.raises(InvalidParameter) as caught:
        TgtClient(70000)
    assert caught.value.field == "tgt_control_port"
