"""The iscsi driver's configuration and set-up checks (no tgtd needed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from storconn.connection import InvalidParameter
from storconn.volumes.drivers import parse_share
from storconn.volumes.drivers.iscsi import IscsiDriver
from storconn.volumes.drivers.tgt import TgtClient
from storconn.volumes.errors import BackendError

SHARE = parse_share("localfs:///srv/volumes")


class NoFiles:
    """The FileStore's interface, for checks that never reach a file."""

    def do_setup(self) -> None:
        pass

    def path_of(self, name: str) -> Path:
        return Path("/srv/volumes") / name

    def create(self, name: str, size_gib: int, fmt: str = "raw") -> None:
        raise AssertionError("no file is made in these tests")

    def delete(self, name: str) -> None:
        raise AssertionError("no file is deleted in these tests")

    def extend(self, name: str, size_gib: int, fmt: str = "raw") -> None:
        raise AssertionError("no file is extended in these tests")

    def clone(self, source: str, target: str) -> str:
        raise AssertionError("no file is copied in these tests")

    def stats(self) -> dict[str, Any]:
        return {}

    def close(self, *, release: bool = False) -> None:
        pass


@pytest.mark.parametrize(("key", "value"), [
    ("target_port", 0), ("target_ip_address", "not-an-ip"), ("target_prefix", "bad prefix"),
    ("tgt_control_port", 40000), ("shared_targets", "maybe"), ("volume_format", "qcow2"),
    ("use_chap", True), ("target_secondary_ip_addresses", ["127.0.0.1", "nope"]),
])
def test_bad_configuration_names_the_key(key: str, value: Any) -> None:
    with pytest.raises(InvalidParameter) as caught:
        IscsiDriver("gl1", SHARE, None, files=NoFiles(), **{key: value})
    assert caught.value.field == key


def test_cinder_style_text_values_are_taken() -> None:
    driver = IscsiDriver(
        "gl1", SHARE, None, files=NoFiles(), target_port="3261", shared_targets="False",
        use_chap_auth="true", target_secondary_ip_addresses="127.0.0.2, 127.0.0.3",
    )
    config = driver.config
    assert (config.target_port, config.shared_targets, config.use_chap_auth) == (3261, False, True)
    assert config.portals(multipath=True) == ["127.0.0.1:3261", "127.0.0.2:3261", "127.0.0.3:3261"]
    assert config.portals(multipath=False) == ["127.0.0.1:3261"]
    assert driver.acl_scope == "volume"


def test_an_ipv6_portal_is_bracketed() -> None:
    driver = IscsiDriver("gl1", SHARE, None, files=NoFiles(), target_ip_address="::1")
    assert driver.config.portals(multipath=False) == ["[::1]:3260"]


def test_a_share_that_cannot_hold_files_is_refused() -> None:
    with pytest.raises(InvalidParameter) as caught:
        IscsiDriver("gl1", parse_share("iscsi://127.0.0.1/iqn.2026-01.test:t"), None,
                    files=NoFiles())
    assert caught.value.field == "share"


def test_a_backend_name_tgtd_cannot_take_gets_a_distinct_target_name() -> None:
    names = {IscsiDriver(name, SHARE, None, files=NoFiles()).backend_slug
             for name in ("lvm_1", "lvm-1", "LVM_1")}
    assert len(names) == 3 and "lvm-1" in names
    assert all(all(c.isalnum() or c in ".-" for c in name) for name in names)


def test_a_missing_tgtd_is_a_clear_setup_error(tmp_path: Path) -> None:
    driver = IscsiDriver(
        "gl1", SHARE, None, tgt_control_port=31999,
        files=NoFiles(), tgt=TgtClient(31999, socket_dir=tmp_path),
    )
    with pytest.raises(BackendError, match="start tgtd"):
        driver.do_setup()


def test_the_configuration_repr_holds_no_share_credentials() -> None:
    share = parse_share({"type": "glusterfs", "params": {"spec": "gl1.example:/vol0"}})
    driver = IscsiDriver("gl1", share, None, files=NoFiles())
    assert "gl1.example" not in repr(driver.config)
