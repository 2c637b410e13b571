"""The database layer on SQLite: migrations, the unique identity index, the repository (db/)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from storconn.engine.db import (
    Base,
    Database,
    Repository,
    current_revision,
    head_revision,
    normalize_url,
    upgrade,
)
from storconn.engine.db.database import make_engine
from storconn.engine.model import (
    DomainStatus,
    Host,
    HostStatus,
    StorageConnection,
    StorageDomain,
    StorageType,
)
from storconn.engine.rules.references import DesiredRef
from storconn.engine.secrets import SecretBox


@pytest.fixture
def url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path}/engine.db"
    upgrade(url)
    return url


@pytest.fixture
def db(url: str) -> Iterator[Database]:
    database = Database(url)
    yield database
    database.close()


@pytest.fixture
def box(tmp_path: Path) -> SecretBox:
    return SecretBox(tmp_path / "key")


def nfs(cid: str, connection: str = "srv:/e") -> StorageConnection:
    return StorageConnection(id=cid, type=StorageType.NFS, connection=connection)


def iscsi_with_chap() -> StorageConnection:
    return StorageConnection(
        id="i1",
        type=StorageType.ISCSI,
        connection="10.0.0.1",
        port=3260,
        iqn="iqn.x:t",
        portal="1",
        username="u",
        password="chap-secret",
    )


def test_migrations_create_exactly_the_models(url: str) -> None:
    engine = make_engine(url)
    with engine.connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []
    assert current_revision(engine) == head_revision()
    engine.dispose()


def _schema(url: str) -> list[tuple[str, ...]]:
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                text("SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name")
            )
            return [tuple(row) for row in rows]
    finally:
        engine.dispose()


def test_upgrade_twice_is_a_no_op(url: str, box: SecretBox) -> None:
    database = Database(url)
    with database.transaction() as session:
        Repository(session, box).save_connection(iscsi_with_chap())
    database.close()
    before = _schema(url)

    upgrade(url)

    assert _schema(url) == before
    engine = make_engine(url)
    assert current_revision(engine) == head_revision()
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM alembic_version")).scalar() == 1
    engine.dispose()
    database = Database(url)
    with database.transaction(write=False) as session:
        kept = Repository(session, box).connection("i1", secrets=True)
    database.close()
    assert kept is not None and kept.password == "chap-secret"


def _modes(directory: Path) -> dict[str, int]:
    return {path.name: path.stat().st_mode & 0o777 for path in directory.iterdir() if "engine.db" in path.name}


def test_the_database_files_are_created_0600(tmp_path: Path, box: SecretBox) -> None:
    """Issue 7, defect 14: engine.db, -wal and -shm hold password hashes and secrets; they were 0644."""
    old_umask = os.umask(0o022)
    try:
        url = f"sqlite:///{tmp_path}/state/engine.db"
        upgrade(url)
        database = Database(url)
        with database.transaction() as session:
            Repository(session, box).save_connection(iscsi_with_chap())
        modes = _modes(tmp_path / "state")
        database.close()
    finally:
        os.umask(old_umask)
    assert set(modes) >= {"engine.db", "engine.db-wal", "engine.db-shm"}, modes
    assert set(modes.values()) == {0o600}, modes


def test_an_older_world_readable_database_is_narrowed_to_0600(tmp_path: Path) -> None:
    path = tmp_path / "engine.db"
    url = f"sqlite:///{path}"
    upgrade(url)
    for name in ("engine.db", "engine.db-wal", "engine.db-shm"):
        (tmp_path / name).touch()
        os.chmod(tmp_path / name, 0o644)
    Database(url).close()
    assert set(_modes(tmp_path).values()) == {0o600}, _modes(tmp_path)


def test_sqlite_runs_in_wal_mode_with_foreign_keys(db: Database) -> None:
    with db.transaction(write=False) as session:
        assert session.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert session.execute(text("PRAGMA foreign_keys")).scalar() == 1


def test_postgres_url_gets_the_psycopg_driver() -> None:
    assert normalize_url("postgresql://u:p@h/db") == "postgresql+psycopg://u:p@h/db"
    assert normalize_url("sqlite:///x.db") == "sqlite:///x.db"


def test_connection_round_trips(db: Database, box: SecretBox) -> None:
    conn = iscsi_with_chap()
    with db.transaction() as session:
        Repository(session, box).save_connection(conn)
    with db.transaction(write=False) as session:
        repo = Repository(session, box)
        assert repo.connection("i1", secrets=True) == conn
        assert repo.connection("i1").password is None  # type: ignore[union-attr]


def test_chap_password_is_encrypted_at_rest(db: Database, box: SecretBox) -> None:
    with db.transaction() as session:
        Repository(session, box).save_connection(iscsi_with_chap())
    with db.transaction(write=False) as session:
        stored = session.execute(
            text("SELECT password_encrypted FROM storage_connections")
        ).scalar_one()
    assert "chap-secret" not in stored


def test_host_token_is_encrypted_at_rest(db: Database, box: SecretBox) -> None:
    with db.transaction() as session:
        Repository(session, box).add_host(
            Host(id="h1", name="h", address="127.0.0.1", port=1, token="agent-token")
        )
    with db.transaction(write=False) as session:
        stored = session.execute(text("SELECT token_encrypted FROM hosts")).scalar_one()
        assert "agent-token" not in stored
        assert Repository(session, box).host("h", secrets=True).token == "agent-token"  # type: ignore[union-attr]


def test_the_database_refuses_a_duplicate_identity(db: Database, box: SecretBox) -> None:
    with db.transaction() as session:
        Repository(session, box).save_connection(nfs("a", "Srv:/export/"))
    with pytest.raises(IntegrityError):
        with db.transaction() as session:
            Repository(session, box).save_connection(nfs("b", "srv:/export"))


def test_local_paths_are_unique_per_data_center(db: Database, box: SecretBox) -> None:
    with db.transaction() as session:
        session.execute(
            text(
                "INSERT INTO data_centers (id, name, local, created_at) "
                "VALUES ('dc1', 'a', 1, '2026-01-01'), ('dc2', 'b', 1, '2026-01-01')"
            )
        )
        repo = Repository(session, box)
        repo.save_connection(
            StorageConnection(id="l1", type=StorageType.LOCALFS, connection="/d"),
            data_center_id="dc1",
        )
        repo.save_connection(
            StorageConnection(id="l2", type=StorageType.LOCALFS, connection="/d"),
            data_center_id="dc2",
        )
    with pytest.raises(IntegrityError):
        with db.transaction() as session:
            Repository(session, box).save_connection(
                StorageConnection(id="l3", type=StorageType.LOCALFS, connection="/d/"),
                data_center_id="dc1",
            )


def test_a_failed_transaction_leaves_nothing(db: Database, box: SecretBox) -> None:
    with pytest.raises(RuntimeError):
        with db.transaction() as session:
            Repository(session, box).save_connection(nfs("a"))
            raise RuntimeError
    with db.transaction(write=False) as session:
        assert Repository(session, box).connections() == []


def test_a_connection_in_use_cannot_be_deleted_under_its_domain(
    db: Database, box: SecretBox
) -> None:
    with db.transaction() as session:
        repo = Repository(session, box)
        repo.save_connection(nfs("c1"))
        repo.save_domain(StorageDomain(id="d1", name="d", storage_type=StorageType.NFS))
        repo.attach("d1", "c1")
    with pytest.raises(IntegrityError):
        with db.transaction() as session:
            Repository(session, box).delete_connection("c1")


def test_domains_list_their_connections_in_creation_order(db: Database, box: SecretBox) -> None:
    with db.transaction() as session:
        repo = Repository(session, box)
        repo.save_connection(
            StorageConnection(
                id="z", type=StorageType.ISCSI, connection="a", port=3260, iqn="iqn.x:1"
            )
        )
        repo.save_connection(
            StorageConnection(
                id="a", type=StorageType.ISCSI, connection="b", port=3260, iqn="iqn.x:2"
            )
        )
        repo.save_domain(StorageDomain(id="d1", name="d", storage_type=StorageType.ISCSI))
        repo.attach("d1", "a")
        repo.attach("d1", "z")
    with db.transaction(write=False) as session:
        assert Repository(session, box).domain("d1").connection_ids == ["z", "a"]  # type: ignore[union-attr]


def test_replace_references_makes_rows_exactly_the_wanted_set(db: Database, box: SecretBox) -> None:
    with db.transaction() as session:
        repo = Repository(session, box)
        repo.add_host(Host(id="h1", name="h", address="127.0.0.1", port=1, status=HostStatus.UP))
        repo.save_connection(nfs("c1"))
        repo.save_domain(
            StorageDomain(
                id="d1", name="d", storage_type=StorageType.NFS, status=DomainStatus.ACTIVE
            )
        )
        old = DesiredRef("h1", "engine:d1:c1:1", "d1", "c1", 1)
        new = DesiredRef("h1", "engine:d1:c1:2", "d1", "c1", 2)
        repo.replace_references(["h1"], {old})
        repo.replace_references(["h1"], {new})
        assert repo.references("h1") == [new]


def test_old_flows_are_not_live(db: Database, box: SecretBox) -> None:
    with db.transaction() as session:
        repo = Repository(session, box)
        repo.add_host(Host(id="h1", name="h", address="127.0.0.1", port=1))
        repo.add_flow("f1", "h1", "test")
        assert repo.live_flows(max_age=timedelta(minutes=10)) == {"f1"}
        assert repo.live_flows(max_age=timedelta(seconds=-1)) == set()


def test_in_memory_database_works() -> None:
    database = Database("sqlite://")
    from storconn.engine.db import upgrade_engine

    upgrade_engine(database.engine)
    with database.transaction(write=False) as session:
        assert session.execute(text("SELECT count(*) FROM storage_connections")).scalar() == 0
    database.close()


def test_unit_of_work_turns_a_duplicate_into_a_conflict(db: Database, box: SecretBox) -> None:
    from storconn.engine.db import UnitOfWork
    from storconn.engine.errors import Conflict

    uow = UnitOfWork(db, box)
    with uow() as repo:
        repo.save_connection(nfs("a"))
    with pytest.raises(Conflict) as err:
        with uow() as repo:
            repo.save_connection(nfs("b"))
    assert err.value.key == "ACTION_TYPE_FAILED_STORAGE_CONNECTION_ALREADY_EXISTS"
    assert err.value.__cause__ is None and err.value.__suppress_context__


def test_unit_of_work_turns_a_taken_name_into_a_conflict(db: Database, box: SecretBox) -> None:
    from storconn.engine.db import UnitOfWork
    from storconn.engine.errors import Conflict

    uow = UnitOfWork(db, box)
    with uow() as repo:
        repo.save_domain(StorageDomain(id="d1", name="same", storage_type=StorageType.NFS))
    with pytest.raises(Conflict) as err:
        with uow() as repo:
            repo.save_domain(StorageDomain(id="d2", name="same", storage_type=StorageType.NFS))
    assert err.value.key == "ACTION_TYPE_FAILED_NAME_ALREADY_USED"


def test_the_domain_overview_reads_what_the_single_reads_do(db: Database, box: SecretBox) -> None:
    """domains_and_connections (one joined query) against domains() and connections_by_id()."""
    from storconn.engine.model import DomainLun

    with db.transaction() as session:
        repo = Repository(session, box)
        for cid, export in (("c2", "srv:/two"), ("c1", "srv:/one"), ("c3", "srv:/three"), ("orphan", "srv:/o")):
            repo.save_connection(nfs(cid, export))  # c2 made before c1: a domain lists it first
        repo.save_connection(iscsi_with_chap())
        for did in ("multi", "none", "shares", "block"):
            repo.save_domain(StorageDomain(id=did, name=did, storage_type=StorageType.NFS,
                                           status=DomainStatus.MAINTENANCE))
        repo.attach("multi", "c1")
        repo.attach("multi", "c2")
        repo.attach("shares", "c1")
        repo.attach("block", "i1")
        repo.add_luns("block", [DomainLun("lun-1", "i1", 0)])
    with db.transaction(write=False) as session:
        repo = Repository(session, box)
        domains, connections = repo.domains_and_connections()
        alone = repo.domains()
        assert domains == alone
        assert [d.connection_ids for d in domains] == [["c2", "c1"], [], ["c1"], ["i1"]]
        assert domains[3].luns == [DomainLun("lun-1", "i1", 0)]
        assert connections == repo.connections_by_id(["c1", "c2", "i1"])
        assert connections["i1"].password is None
