"""The ``db`` persistence on a real PostgreSQL: the whole contract, several controllers, secrets.

One server for the module (``tests/peers/postgres.py``), a fresh database per
test. Skips with the printed reason where PostgreSQL cannot run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from storconn.volumes.errors import ConcurrentUpdate
from storconn.volumes.persistence import DbPersistence
from storconn.volumes.persistence.db_schema import VERSION_TABLE, metadata
from storconn.volumes.records import KeyValue
from storconn.volumes.secrets import SecretError
from tests.peers.postgres import PostgresServer
from tests.unit.volumes.test_persistence import (
    SECRET,
    PersistenceContract,
    chap_conn_info,
    connection,
    share_conn_info,
    volume,
)
from tests.unit.volumes.test_persistence_processes import (
    run_counter,
    run_lock_dies_with_its_holder,
    run_locked_counter,
    run_openers,
)


@pytest.fixture
def pg_url(postgres: PostgresServer) -> str:
    return postgres.new_database()


@pytest.fixture(scope="module")
def shared_db(postgres: PostgresServer, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One migrated database for the contract tests (a new one per test costs ~0.3 s here)."""
    url = postgres.new_database()
    key_file = tmp_path_factory.mktemp("pg-key") / "volumes.key"
    DbPersistence(url, key_file=key_file).close()
    return {"storage": "db", "connection": url, "key_file": str(key_file)}


class TestPostgres(PersistenceContract):
    @pytest.fixture
    def config(self, shared_db: dict[str, Any]) -> dict[str, Any]:
        engine = create_engine(shared_db["connection"])
        try:
            with engine.begin() as conn:
                conn.execute(text("TRUNCATE volumes, snapshots, connections, key_values"))
        finally:
            engine.dispose()
        return shared_db


def test_plain_postgresql_urls_use_psycopg_3(pg_url: str, tmp_path: Path) -> None:
    plain = pg_url.replace("postgresql+psycopg://", "postgresql://")
    store = DbPersistence(plain, key_file=tmp_path / "key")
    try:
        store.set_volume(volume())
        assert len(store.get_volumes()) == 1
    finally:
        store.close()


def test_no_secret_is_stored_in_clear(pg_url: str, tmp_path: Path) -> None:
    store = DbPersistence(pg_url, key_file=tmp_path / "key")
    try:
        vol = volume(provider_auth=f"CHAP user1 {SECRET}", extra={"auth_password": SECRET})
        store.set_volume(vol)
        store.set_connection(connection(vol.id, conn_info=chap_conn_info()))
        store.set_connection(connection(vol.id, conn_info=share_conn_info()))
        store.set_key_value(KeyValue("node1", '{"password": "%s"}' % SECRET))
    finally:
        store.close()
    engine = create_engine(pg_url)
    try:
        with engine.connect() as conn:
            for table in metadata.sorted_tables:
                rows = conn.execute(text(f"SELECT row_to_json(t)::text FROM {table.name} t")).all()
                dumped = "\n".join(row[0] for row in rows)
                assert SECRET not in dumped, table.name
            assert conn.execute(text("SELECT count(*) FROM connections")).scalar_one() == 2
    finally:
        engine.dispose()


def test_a_controller_with_another_key_file_fails_on_open(pg_url: str, tmp_path: Path) -> None:
    DbPersistence(pg_url, key_file=tmp_path / "site.key").close()
    with pytest.raises(SecretError, match="another key file"):
        DbPersistence(pg_url, key_file=tmp_path / "other.key")


def test_two_controllers_see_each_others_writes_and_conflicts(pg_url: str, tmp_path: Path) -> None:
    key = tmp_path / "key"
    one, two = DbPersistence(pg_url, key_file=key), DbPersistence(pg_url, key_file=key)
    try:
        record = volume()
        one.set_volume(record)
        (theirs,) = two.get_volumes(volume_id=record.id)
        theirs.status = "available"
        two.set_volume(theirs)
        record.status = "error"
        with pytest.raises(ConcurrentUpdate):
            one.set_volume(record)
        assert one.get_volumes()[0].status == "available"
    finally:
        one.close()
        two.close()


def test_the_migration_creates_exactly_the_tables_of_the_schema(
    pg_url: str, tmp_path: Path
) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    DbPersistence(pg_url, key_file=tmp_path / "key").close()
    engine = create_engine(pg_url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE})
            assert compare_metadata(context, metadata) == []
    finally:
        engine.dispose()


def test_controllers_on_one_postgresql_never_lose_an_update(pg_url: str, tmp_path: Path) -> None:
    # The controllers open the fresh database at the same moment: the migrations race too.
    conflicts = run_counter(pg_url, tmp_path / "key", processes=4, times=25)
    print(f"optimistic retries: {conflicts}")


def test_controllers_opening_a_new_database_at_once_all_open_it(
    postgres: PostgresServer, tmp_path: Path
) -> None:
    # READ COMMITTED lets every opener see no key check yet; all but one insert loses.
    urls = [postgres.new_database() for _ in range(8)]
    assert run_openers(urls, tmp_path / "key", processes=6) == []


def test_lock_excludes_other_processes_on_one_postgresql(pg_url: str, tmp_path: Path) -> None:
    run_locked_counter(pg_url, tmp_path / "key", tmp_path / "counter", processes=3, times=30)


def test_a_killed_holder_releases_its_lock_on_postgresql(pg_url: str, tmp_path: Path) -> None:
    run_lock_dies_with_its_holder(pg_url, tmp_path / "key")
