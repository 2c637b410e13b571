"""The ``db`` persistence on a SQLite file: files, keys, secrets at rest, migrations, failures."""

from __future__ import annotations

import os
import stat
import threading
from dataclasses import fields
from pathlib import Path

import pytest
from sqlalchemy import create_engine

from storconn.volumes.errors import VolumeError
from storconn.volumes.persistence import (
    DbPersistence,
)
from storconn.volumes.records import ConnectionRecord, KeyValue, SnapshotRecord, VolumeRecord
from storconn.volumes.secrets import SecretBox, SecretError
from tests.peers.agent import free_port

from .test_persistence import SECRET, chap_conn_info, connection, share_conn_info, volume


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "state" / "volumes.db"


def test_records_survive_a_reopen(db_path: Path) -> None:
    first = DbPersistence(f"sqlite:///{db_path}")
    record = volume(provider_auth=SECRET)
    first.set_volume(record)
    first.set_key_value(KeyValue("node1", "{}"))
    first.close()
    second = DbPersistence(f"sqlite:///{db_path}")
    try:
        assert second.get_volumes() == [record]
        assert second.get_key_values("node1")[0].value == "{}"
    finally:
        second.close()


def test_no_secret_is_in_the_database_files(db_path: Path) -> None:
    store = DbPersistence(f"sqlite:///{db_path}")
    try:
        vol = volume(provider_auth=f"CHAP user1 {SECRET}", extra={"auth_password": SECRET})
        store.set_volume(vol)
        store.set_connection(connection(vol.id, conn_info=chap_conn_info()))
        store.set_connection(
            connection(vol.id, conn_info=share_conn_info(), device={"password": SECRET})
        )
        store.set_key_value(KeyValue("node1", '{"password": "%s"}' % SECRET))
        # Read while the WAL still holds the rows, then after a checkpoint.
        files = sorted(db_path.parent.glob("volumes.db*"))
        assert db_path in files
        for path in files:
            assert SECRET.encode() not in path.read_bytes(), path.name
        assert store.get_connections()[0].conn_info["data"]["auth_password"] == SECRET
    finally:
        store.close()
    assert SECRET.encode() not in db_path.read_bytes()
    for path in db_path.parent.iterdir():
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), path.name


def test_database_key_and_lock_files_are_private(db_path: Path) -> None:
    os.umask(0o022)
    DbPersistence(f"sqlite:///{db_path}").close()
    key = db_path.with_name("volumes.db.key")
    for path in (db_path, key, db_path.with_name("volumes.db.locks")):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path.name
    assert stat.S_IMODE(db_path.parent.stat().st_mode) == 0o700


def test_the_key_file_can_be_named_and_comes_from_the_environment(
    tmp_path: Path, db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    named = tmp_path / "keys" / "named.key"
    store = DbPersistence(f"sqlite:///{db_path}", key_file=named)
    assert store.key_file == named and named.exists()
    store.close()
    from_env = tmp_path / "env.key"
    monkeypatch.setenv("STORCONN_VOLUMES_KEY_FILE", str(from_env))
    other = DbPersistence(f"sqlite:///{tmp_path}/other.db")
    assert other.key_file == from_env
    other.close()
    assert not (tmp_path / "other.db.key").exists()


def test_a_wrong_key_file_fails_on_open_naming_it(tmp_path: Path, db_path: Path) -> None:
    store = DbPersistence(f"sqlite:///{db_path}")
    store.set_volume(volume(provider_auth=SECRET))
    store.close()
    wrong = tmp_path / "wrong.key"
    with pytest.raises(SecretError) as caught:
        DbPersistence(f"sqlite:///{db_path}", key_file=wrong)
    assert str(wrong) in str(caught.value)
    assert "another key file" in str(caught.value)
    assert SECRET not in str(caught.value)


def test_a_secret_written_with_another_key_fails_clearly_when_read(db_path: Path) -> None:
    store = DbPersistence(f"sqlite:///{db_path}")
    record = volume(provider_auth=SECRET)
    store.set_volume(record)
    # As if the row came from a controller with another key file.
    store._box = SecretBox.ephemeral()  # noqa: SLF001 - the only way to get two keys into one db
    with pytest.raises(SecretError, match=f"provider_auth of volume {record.id}"):
        store.get_volumes()
    store.close()


def test_a_key_file_others_can_read_is_refused(tmp_path: Path) -> None:
    key = tmp_path / "loose.key"
    SecretBox(key)
    key.chmod(0o644)
    with pytest.raises(SecretError, match="chmod 600"):
        SecretBox(key)
    key.chmod(0o600)
    key.write_text("not a key\n")
    with pytest.raises(SecretError, match="does not hold a key"):
        SecretBox(key)


def test_two_persistences_in_one_process_exclude_each_other(db_path: Path) -> None:
    url = f"sqlite:///{db_path}"
    first, second = DbPersistence(url), DbPersistence(url)
    entered = threading.Event()

    def other() -> None:
        with second.lock("volume-1"):
            entered.set()

    try:
        with first.lock("volume-1"):
            thread = threading.Thread(target=other)
            thread.start()
            assert not entered.wait(0.3)
        assert entered.wait(5)
        thread.join(5)
    finally:
        first.close()
        second.close()


def test_the_migration_creates_exactly_the_tables_of_the_schema(db_path: Path) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from storconn.volumes.persistence.db_schema import VERSION_TABLE, metadata

    DbPersistence(f"sqlite:///{db_path}").close()
    engine = create_engine(f"sqlite:///{db_path}")
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE})
            assert compare_metadata(context, metadata) == []
            assert context.get_current_revision() == "v0001"
    finally:
        engine.dispose()


def test_a_corrupt_database_is_a_volume_error_without_sql(db_path: Path) -> None:
    db_path.parent.mkdir(parents=True)
    db_path.write_bytes(b"this is not a database" * 400)
    with pytest.raises(VolumeError) as caught:
        DbPersistence(f"sqlite:///{db_path}")
    message = str(caught.value)
    assert "DatabaseError" in message
    assert "SELECT" not in message and "INSERT" not in message


def test_an_unreachable_postgresql_is_a_volume_error_without_the_password() -> None:
    url = f"postgresql://someone:{SECRET}@127.0.0.1:{free_port()}/volumes"
    with pytest.raises(VolumeError) as caught:
        DbPersistence(url)
    assert SECRET not in str(caught.value)
    assert "***" in str(caught.value)


def test_a_relative_sqlite_path_stays_where_it_was_opened(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "here").mkdir()
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "here")
    store = DbPersistence("sqlite:///volumes.db")
    try:
        monkeypatch.chdir(tmp_path / "elsewhere")
        store.set_volume(volume())
        with store.lock("volume-1"):
            pass
    finally:
        store.close()
    assert sorted(p.name for p in (tmp_path / "elsewhere").iterdir()) == []
    assert (tmp_path / "here" / "volumes.db.key").exists()
    reopened = DbPersistence(f"sqlite:///{tmp_path}/here/volumes.db")
    try:
        assert len(reopened.get_volumes()) == 1
    finally:
        reopened.close()


def test_every_record_field_has_a_column() -> None:
    from storconn.volumes.persistence import db_schema

    pairs = [
        (db_schema.volumes, VolumeRecord),
        (db_schema.snapshots, SnapshotRecord),
        (db_schema.connections, ConnectionRecord),
        (db_schema.key_values, KeyValue),
    ]
    for table, kind in pairs:
        names = {f.name for f in fields(kind)}
        columns = set(table.c.keys())
        assert names <= columns, f"{kind.__name__} fields without a column: {names - columns}"
        assert columns - names <= {"sealed"}, table.name


def test_a_forked_child_uses_connections_of_its_own(db_path: Path) -> None:
    store = DbPersistence(f"sqlite:///{db_path}")
    try:
        store.set_volume(volume(name="parent"))  # the pool now holds a connection
        child = os.fork()
        if child == 0:  # pragma: no cover - the child's outcome is its exit status
            code = 1
            try:
                store.set_volume(volume(name="child"))
                code = 0 if len(store.get_volumes()) == 2 else 2
            finally:
                os._exit(code)
        _, status = os.waitpid(child, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        store.set_volume(volume(name="parent again"))
        assert [v.name for v in store.get_volumes()] == ["parent", "child", "parent again"]
    finally:
        store.close()


def test_a_database_from_a_newer_storconn_is_refused_clearly(db_path: Path) -> None:
    from sqlalchemy import text

    from storconn.volumes.persistence.db_schema import VERSION_TABLE

    DbPersistence(f"sqlite:///{db_path}").close()
    engine = create_engine(f"sqlite:///{db_path}")
    try:
        with engine.begin() as conn:
            conn.execute(text(f"UPDATE {VERSION_TABLE} SET version_num = 'v9999'"))
    finally:
        engine.dispose()
    with pytest.raises(VolumeError, match="written by a newer version"):
        DbPersistence(f"sqlite:///{db_path}")
