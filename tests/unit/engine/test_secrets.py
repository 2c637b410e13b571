"""Password hashes and encrypted secrets (secrets.py)."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from storconn.engine import secrets
from storconn.engine.secrets import SecretBox, SecretError, hash_password, verify_password


@pytest.fixture(autouse=True)
def _cheap_scrypt(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(secrets, "SCRYPT_N", 2**10)


def test_password_verifies() -> None:
    assert verify_password("s3cret", hash_password("s3cret"))


def test_wrong_password_does_not_verify() -> None:
    assert not verify_password("guess", hash_password("s3cret"))


def test_hashes_are_salted() -> None:
    assert hash_password("s3cret") != hash_password("s3cret")


def test_hash_does_not_contain_the_password() -> None:
    assert "s3cret" not in hash_password("s3cret")


def test_hash_records_its_cost() -> None:
    assert hash_password("x", n=2**11).split("$")[:4] == ["scrypt", "2048", "8", "1"]


def test_malformed_or_missing_hash_does_not_verify() -> None:
    assert not verify_password("x", "garbage")
    assert not verify_password("x", None)


def test_key_file_is_created_0600(tmp_path: Path) -> None:
    SecretBox(tmp_path / "state" / "engine.key")
    mode = stat.S_IMODE((tmp_path / "state" / "engine.key").stat().st_mode)
    assert mode == 0o600


def test_secret_round_trips(tmp_path: Path) -> None:
    box = SecretBox(tmp_path / "key")
    token = box.encrypt("chap-password")
    assert token is not None and "chap-password" not in token
    assert box.decrypt(token) == "chap-password"


def test_the_key_is_reused(tmp_path: Path) -> None:
    token = SecretBox(tmp_path / "key").encrypt("x")
    assert SecretBox(tmp_path / "key").decrypt(token) == "x"


def test_another_key_cannot_decrypt(tmp_path: Path) -> None:
    token = SecretBox(tmp_path / "a").encrypt("x")
    with pytest.raises(SecretError) as err:
        SecretBox(tmp_path / "b").decrypt(token)
    assert err.value.__cause__ is None and err.value.__context__ is None


def test_none_stays_none(tmp_path: Path) -> None:
    box = SecretBox(tmp_path / "key")
    assert box.encrypt(None) is None and box.decrypt(None) is None


def test_a_key_file_readable_by_others_is_refused(tmp_path: Path) -> None:
    SecretBox(tmp_path / "key")
    (tmp_path / "key").chmod(0o644)
    with pytest.raises(SecretError):
        SecretBox(tmp_path / "key")


def test_repr_shows_no_key(tmp_path: Path) -> None:
    box = SecretBox(tmp_path / "key")
    assert (tmp_path / "key").read_text().strip() not in repr(box)
