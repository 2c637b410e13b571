"""The Engine against SQLite and a real PostgreSQL, and against real agents that really mount.

Every test that takes ``engine`` runs twice: on a SQLite file and on a
fresh database of a PostgreSQL 15 server started for the session
(``tests/peers/postgres.py``; skipped with the reason printed when the
binaries are missing). Tests with real agents need root: they mount tmpfs
through posixfs connections and check ``/proc/self/mountinfo``.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from storconn.engine import secrets
from storconn.engine.db import Database, Repository
from storconn.engine.errors import (
    BadRequest,
    Conflict,
    EngineError,
    NotFound,
    ObjectLocked,
    Unauthorized,
)
from storconn.engine.hosts import HostDispatcher
from storconn.engine.model import (
    ConnectionFields,
    DomainStatus,
    HostStatus,
    Role,
    StorageType,
    VmStatus,
)
from storconn.engine.rules import locks as lock_keys
from storconn.engine.service import Engine
from tests.conftest import needs_root
from tests.peers.agent import AgentProcess, free_port
from tests.peers.mounts import eventually, mounts_under
from tests.peers.postgres import PostgresServer

# Locks hold across processes only on PostgreSQL: an SQLite file has one engine process.
POSTGRES_ONLY = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)

NFS = ConnectionFields(type=StorageType.NFS, address="nfs.example.com", path="/export/data")
ISCSI = ConnectionFields(
    type=StorageType.ISCSI, address="10.0.0.1", port=3260, target="iqn.2026-01.test:lun1"
)


def tmpfs(name: str = "scratch", size: str = "16m") -> ConnectionFields:
    return ConnectionFields(
        type=StorageType.POSIXFS, path=name, vfs_type="tmpfs", mount_options=f"size={size}"
    )


# -- fixtures ----------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _cheap_password_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(secrets, "SCRYPT_N", 2**10)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/engine.db"
    server: PostgresServer = request.getfixturevalue("postgres")
    return server.new_database()


@pytest.fixture
def make_engine(database_url: str, tmp_path: Path) -> Iterator[Callable[..., Engine]]:
    made: list[Engine] = []

    def make(**options: object) -> Engine:
        options.setdefault("admin_password", "admin-pw")
        options.setdefault("hosts", HostDispatcher(timeout=3.0))
        engine = Engine(database_url, key_file=tmp_path / "engine.key", **options)  # type: ignore[arg-type]
        made.append(engine)
        return engine

    yield make
    for engine in made:
        engine.close()


@pytest.fixture
def engine(make_engine: Callable[..., Engine]) -> Engine:
    return make_engine()


def stored_password(database_url: str, key_file: Path, connection_id: str) -> str | None:
    db = Database(database_url)
    try:
        with db.transaction(write=False) as session:
            conn = Repository(session, secrets.SecretBox(key_file)).connection(
                connection_id, secrets=True
            )
            return conn.password if conn else None
    finally:
        db.close()


# -- users -----------------------------------------------------------------------------------


def test_start_creates_the_admin(engine: Engine) -> None:
    user = engine.authenticate("admin@internal", "admin-pw")
    assert user.name == "admin@internal" and user.role is Role.ADMIN


def test_admin_password_from_the_environment(
    make_engine: Callable[..., Engine], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STORCONN_ADMIN_PASSWORD", "from-env")
    engine = make_engine(admin_password=None)
    assert engine.authenticate("admin", "from-env").name == "admin@internal"


def test_a_second_start_keeps_the_users(make_engine: Callable[..., Engine]) -> None:
    make_engine()
    second = make_engine(admin_password="other")
    assert second.authenticate("admin", "admin-pw")
    with pytest.raises(Unauthorized):
        second.authenticate("admin", "other")


def test_wrong_password_or_unknown_user_is_unauthorized(engine: Engine) -> None:
    with pytest.raises(Unauthorized):
        engine.authenticate("admin@internal", "wrong")
    with pytest.raises(Unauthorized):
        engine.authenticate("nobody@internal", "admin-pw")


def test_add_viewer_user(engine: Engine) -> None:
    engine.add_user("viewer@internal", "view-pw", Role.VIEWER)
    assert engine.authenticate("viewer@internal", "view-pw").role is Role.VIEWER
    with pytest.raises(Conflict):
        engine.add_user("viewer", "again", Role.VIEWER)


# -- storage connections -------------------------------------------------------------------------


def test_add_get_and_list_connections(engine: Engine) -> None:
    added = engine.add_connection(NFS)
    assert engine.get_connection(added.id) == added
    assert added.connection == "nfs.example.com:/export/data"
    engine.add_connection(ISCSI)
    assert [c.id for c in engine.list_connections()][0] == added.id
    assert len(engine.list_connections(max=1)) == 1


def test_password_is_never_returned(engine: Engine, database_url: str, tmp_path: Path) -> None:
    added = engine.add_connection(
        ConnectionFields(**{**vars_of(ISCSI), "username": "u", "password": "chap-pw"})
    )
    assert added.password is None and engine.get_connection(added.id).password is None
    assert stored_password(database_url, tmp_path / "engine.key", added.id) == "chap-pw"


def vars_of(fields: ConnectionFields) -> dict[str, object]:
    return {name: getattr(fields, name) for name in fields.__slots__}  # type: ignore[attr-defined]


def test_add_with_a_client_id_is_refused(engine: Engine) -> None:
    with pytest.raises(BadRequest) as err:
        engine.add_connection(NFS, connection_id="mine")
    assert err.value.key == "ACTION_TYPE_FAILED_STORAGE_CONNECTION_ID_NOT_EMPTY"
    assert err.value.detail.startswith("[Cannot add Storage Connection. ")


def test_add_duplicate_spelled_otherwise_is_a_conflict(engine: Engine) -> None:
    first = engine.add_connection(NFS)
    with pytest.raises(Conflict) as err:
        engine.add_connection(
            ConnectionFields(type=StorageType.NFS, address="NFS.example.com", path="/export//data/")
        )
    assert err.value.detail == f"[Cannot add Storage Connection. Storage connection {first.id} already exists.]"
    assert first.id in err.value.detail


def test_add_incomplete_is_400_incomplete_parameters(engine: Engine) -> None:
    with pytest.raises(BadRequest) as err:
        engine.add_connection(ConnectionFields(type=StorageType.NFS, address="s"))
    assert (
        err.value.reason == "Incomplete parameters"
        and err.value.detail == "StorageConnection [path] required for add"
    )


def test_update_merges_and_keeps_the_password(
    engine: Engine, database_url: str, tmp_path: Path
) -> None:
    added = engine.add_connection(
        ConnectionFields(**{**vars_of(ISCSI), "username": "u", "password": "chap-pw"})
    )
    updated = engine.update_connection(added.id, ConnectionFields(port=3261))
    assert (updated.port, updated.iqn, updated.revision) == (3261, ISCSI.target, 2)
    assert stored_password(database_url, tmp_path / "engine.key", added.id) == "chap-pw"


def test_new_chap_password_bumps_the_revision(engine: Engine) -> None:
    added = engine.add_connection(
        ConnectionFields(**{**vars_of(ISCSI), "username": "u", "password": "one"})
    )
    assert engine.update_connection(added.id, ConnectionFields(password="two")).revision == 2
    assert engine.update_connection(added.id, ConnectionFields(username="u")).revision == 2


def test_update_unknown_connection_is_404(engine: Engine) -> None:
    # oVirt's REST layer looks the connection up before the command: 404.
    with pytest.raises(NotFound):
        engine.update_connection("nope", ConnectionFields(path="/x"))


def test_update_cannot_change_the_type(engine: Engine) -> None:
    added = engine.add_connection(NFS)
    with pytest.raises(BadRequest) as err:
        engine.update_connection(added.id, ConnectionFields(type=StorageType.POSIXFS))
    assert err.value.key == "ACTION_TYPE_FAILED_STORAGE_CONNECTION_UNSUPPORTED_CHANGE_STORAGE_TYPE"


def test_update_onto_another_connection_is_a_conflict(engine: Engine) -> None:
    engine.add_connection(NFS)
    other = engine.add_connection(
        ConnectionFields(type=StorageType.NFS, address="nfs.example.com", path="/other")
    )
    with pytest.raises(Conflict):
        engine.update_connection(other.id, ConnectionFields(path="/export/data/"))


def test_update_invalid_value_is_refused_and_nothing_changes(engine: Engine) -> None:
    added = engine.add_connection(NFS)
    with pytest.raises(BadRequest):
        engine.update_connection(added.id, ConnectionFields(mount_options="timeo=5"))
    assert engine.get_connection(added.id) == added


def test_remove_unused_connection(engine: Engine) -> None:
    added = engine.add_connection(NFS)
    engine.remove_connection(added.id)
    with pytest.raises(NotFound):
        engine.get_connection(added.id)


def test_remove_with_unknown_host_is_404_and_removes_nothing(engine: Engine) -> None:
    added = engine.add_connection(NFS)
    with pytest.raises(NotFound):
        engine.remove_connection(added.id, host="no-such-host")
    assert engine.get_connection(added.id) == added


# -- domains ----------------------------------------------------------------------------------------


def test_domain_with_unknown_connection_is_400(engine: Engine) -> None:
    with pytest.raises(BadRequest) as err:
        engine.add_domain("d", storage_type=StorageType.NFS, connection_id="missing")
    assert err.value.key == "ACTION_TYPE_FAILED_STORAGE_CONNECTION_NOT_EXIST"


def test_domain_with_embedded_connection_creates_it(engine: Engine) -> None:
    domain = engine.add_domain("data", storage_type=StorageType.NFS, connection=NFS)
    (conn,) = engine.domain_connections(domain.id)
    assert (
        conn.connection == "nfs.example.com:/export/data"
        and domain.status is DomainStatus.UNATTACHED
    )


def test_failed_domain_add_does_not_leave_its_connection(engine: Engine) -> None:
    engine.add_domain("data", storage_type=StorageType.NFS, connection=NFS)
    before = engine.list_connections()
    with pytest.raises(Conflict):
        engine.add_domain(
            "data",
            storage_type=StorageType.NFS,
            connection=ConnectionFields(type=StorageType.NFS, address="s", path="/new"),
        )
    assert engine.list_connections() == before


def test_file_connection_serves_one_domain(engine: Engine) -> None:
    conn = engine.add_connection(NFS)
    engine.add_domain("a", storage_type=StorageType.NFS, connection_id=conn.id)
    with pytest.raises(Conflict):
        engine.add_domain("b", storage_type=StorageType.NFS, connection_id=conn.id)


def test_remove_connection_of_a_domain_is_a_conflict(engine: Engine) -> None:
    conn = engine.add_connection(NFS)
    engine.add_domain("a", storage_type=StorageType.NFS, connection_id=conn.id)
    with pytest.raises(Conflict) as err:
        engine.remove_connection(conn.id)
    assert (
        err.value.key == "ACTION_TYPE_FAILED_STORAGE_CONNECTION_BELONGS_TO_SEVERAL_STORAGE_DOMAINS"
    )


def test_iscsi_multipath_attach_and_detach_only_that_path(engine: Engine) -> None:
    first = engine.add_connection(ISCSI)
    second = engine.add_connection(ConnectionFields(**{**vars_of(ISCSI), "address": "10.0.0.2"}))
    domain = engine.add_domain("san", storage_type=StorageType.ISCSI, connection_id=first.id)
    engine.attach_connection(domain.id, second.id)
    with pytest.raises(Conflict):
        engine.attach_connection(domain.id, second.id)
    assert [c.id for c in engine.domain_connections(domain.id)] == [first.id, second.id]
    engine.detach_connection(domain.id, second.id)
    assert [c.id for c in engine.domain_connections(domain.id)] == [first.id]
    assert engine.get_connection(second.id) == second
    with pytest.raises(BadRequest):
        engine.detach_connection(domain.id, second.id)


def test_attach_connection_to_a_file_domain_is_refused(engine: Engine) -> None:
    domain = engine.add_domain("data", storage_type=StorageType.NFS, connection=NFS)
    other = engine.add_connection(ConnectionFields(type=StorageType.NFS, address="s", path="/x"))
    with pytest.raises(BadRequest) as err:
        engine.attach_connection(domain.id, other.id)
    assert err.value.key == "ACTION_TYPE_FAILED_ACTION_IS_SUPPORTED_ONLY_FOR_ISCSI_DOMAINS"


def test_domain_status_moves_through_its_data_center(engine: Engine) -> None:
    dc = engine.add_data_center("dc")
    domain = engine.add_domain("data", storage_type=StorageType.NFS, connection=NFS)
    # Attaching activates, as oVirt's attach does.
    assert engine.attach_domain(dc.id, domain.id).status is DomainStatus.ACTIVE
    assert engine.data_center_domains(dc.id)[0].id == domain.id
    engine.deactivate_domain(dc.id, domain.id)
    assert engine.get_domain(domain.id).status is DomainStatus.MAINTENANCE
    assert engine.activate_domain(dc.id, domain.id) == []
    assert engine.get_domain(domain.id).status is DomainStatus.ACTIVE
    with pytest.raises(Conflict):
        engine.detach_domain(dc.id, domain.id)
    with pytest.raises(Conflict):
        engine.remove_domain(domain.id)
    engine.deactivate_domain(dc.id, domain.id)
    engine.detach_domain(dc.id, domain.id)
    assert engine.get_domain(domain.id).status is DomainStatus.UNATTACHED
    engine.remove_domain(domain.id)
    assert engine.list_domains() == []


def test_edit_with_active_domain_needs_force(engine: Engine) -> None:
    dc = engine.add_data_center("dc")
    domain = engine.add_domain("data", storage_type=StorageType.NFS, connection=NFS)
    engine.attach_domain(dc.id, domain.id)
    engine.deactivate_domain(dc.id, domain.id)  # attach activated it
    engine.activate_domain(dc.id, domain.id)
    conn_id = domain.connection_ids[0]
    with pytest.raises(BadRequest) as err:
        engine.update_connection(conn_id, ConnectionFields(path="/export/moved"))
    assert (
        err.value.key
        == "ACTION_TYPE_FAILED_UNSUPPORTED_ACTION_DOMAIN_MUST_BE_IN_MAINTENANCE_OR_UNATTACHED"
    )
    updated = engine.update_connection(conn_id, ConnectionFields(path="/export/moved"), force=True)
    assert updated.connection == "nfs.example.com:/export/moved" and updated.revision == 2


def test_local_storage_is_unique_per_data_center(engine: Engine) -> None:
    local = ConnectionFields(type=StorageType.LOCALFS, path="/srv/data")
    dc1 = engine.add_data_center("l1", local=True)
    dc2 = engine.add_data_center("l2", local=True)
    one = engine.add_domain("one", storage_type=StorageType.LOCALFS, connection=local)
    two = engine.add_domain("two", storage_type=StorageType.LOCALFS, connection=local)
    three = engine.add_domain("three", storage_type=StorageType.LOCALFS, connection=local)
    engine.attach_domain(dc1.id, one.id)
    engine.attach_domain(dc2.id, two.id)
    with pytest.raises(Conflict):
        engine.attach_domain(dc1.id, three.id)


# -- LUN disks and VMs -------------------------------------------------------------------------------


def test_lun_disk_reuses_the_connection_to_its_target(engine: Engine) -> None:
    existing = engine.add_connection(ISCSI)
    disk = engine.add_lun_disk(
        "lun",
        lun_id="36001405",
        connections=[
            ConnectionFields(address="10.0.0.1", target="IQN.2026-01.test:lun1"),
            ConnectionFields(address="10.0.0.3", target="iqn.2026-01.test:lun1"),
        ],
    )
    assert disk.connection_ids[0] == existing.id and len(disk.connection_ids) == 2
    assert engine.get_disk(disk.id) == disk


def test_iscsi_edit_is_refused_while_a_vm_runs_on_it(engine: Engine) -> None:
    disk = engine.add_lun_disk("lun", lun_id="36001405", connections=[ISCSI])
    vm = engine.add_vm("web")
    engine.attach_disk(vm.id, disk.id)
    engine.set_vm_status(vm.id, VmStatus.UP)
    with pytest.raises(BadRequest) as err:
        engine.update_connection(disk.connection_ids[0], ConnectionFields(port=3261), force=True)
    assert (
        err.value.key == "ACTION_TYPE_FAILED_STORAGE_CONNECTION_UNSUPPORTED_ACTION_FOR_RUNNING_VMS"
    )
    with pytest.raises(Conflict):
        engine.remove_disk(disk.id)
    with pytest.raises(Conflict):
        engine.remove_connection(disk.connection_ids[0])
    engine.set_vm_status(vm.id, VmStatus.DOWN)
    assert (
        engine.update_connection(disk.connection_ids[0], ConnectionFields(port=3261)).port == 3261
    )
    engine.remove_disk(disk.id)


# -- locks ------------------------------------------------------------------------------------------------


def test_a_held_lock_refuses_the_command_at_once(engine: Engine) -> None:
    conn = engine.add_connection(NFS)
    with engine.locks.hold([lock_keys.connection_key(conn.id)]):
        with pytest.raises(ObjectLocked) as err:
            engine.remove_connection(conn.id)
    assert err.value.status == 409 and err.value.detail.startswith(
        "[Cannot remove Storage Connection. "
    )
    engine.remove_connection(conn.id)


def test_concurrent_adds_of_one_target_store_one(engine: Engine) -> None:
    outcomes: list[str] = []
    barrier = threading.Barrier(4)

    def add() -> None:
        barrier.wait()
        try:
            engine.add_connection(NFS)
            outcomes.append("added")
        except (ObjectLocked, Conflict) as exc:
            outcomes.append(type(exc).__name__)

    threads = [threading.Thread(target=add) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes.count("added") == 1 and len(engine.list_connections()) == 1


@POSTGRES_ONLY
def test_locks_hold_across_engines_on_postgres(
    database_url: str, make_engine: Callable[..., Engine]
) -> None:
    first, second = make_engine(), make_engine()
    conn = first.add_connection(NFS)
    with first.locks.hold([lock_keys.connection_key(conn.id)]):
        with pytest.raises(ObjectLocked):
            second.update_connection(conn.id, ConnectionFields(path="/export/other"))
    assert second.update_connection(conn.id, ConnectionFields(path="/export/other")).revision == 2


@POSTGRES_ONLY
def test_locks_hold_across_processes_on_postgres(database_url: str, engine: Engine) -> None:
    conn = engine.add_connection(NFS)
    process = _lock_holder(database_url, lock_keys.connection_key(conn.id), until="sys.stdin.readline()")
    try:
        assert process.stdout is not None and process.stdout.readline().strip() == "held"
        with pytest.raises(ObjectLocked):
            engine.remove_connection(conn.id)
    finally:
        assert process.stdin is not None
        process.stdin.write("\n")
        process.stdin.close()
        process.wait(timeout=20)
    engine.remove_connection(conn.id)


@POSTGRES_ONLY
def test_a_killed_lock_holder_frees_its_locks(database_url: str, engine: Engine) -> None:
    conn = engine.add_connection(NFS)
    process = _lock_holder(database_url, lock_keys.connection_key(conn.id), until="time.sleep(60)")
    assert process.stdout is not None and process.stdout.readline().strip() == "held"
    process.kill()
    process.wait(timeout=10)
    eventually(lambda: _removable(engine, conn.id), timeout=10)


def _lock_holder(database_url: str, key: str, *, until: str) -> subprocess.Popen[str]:
    """A Python process of its own that takes ``key``, prints "held" and keeps it until ``until`` returns."""
    script = textwrap.dedent(f"""
        import sys, time
        from storconn.engine.db import Locks, make_engine
        with Locks(make_engine({database_url!r})).hold([{key!r}]):
            print("held", flush=True)
            {until}
    """)
    return subprocess.Popen(
        [sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )


def _removable(engine: Engine, connection_id: str) -> bool:
    try:
        engine.remove_connection(connection_id)
        return True
    except ObjectLocked:
        return False


# -- hosts -----------------------------------------------------------------------------------------------


def test_host_that_does_not_answer_is_non_responsive(engine: Engine) -> None:
    dc = engine.add_data_center("dc")
    host = engine.add_host(
        "ghost", address="127.0.0.1", port=free_port(), token="t", data_center_id=dc.id
    )
    assert host.status is HostStatus.NON_RESPONSIVE and host.token is None
    assert engine.get_host("ghost").id == host.id
    with pytest.raises(NotFound):
        engine.get_host("nobody")


def test_add_host_in_unknown_data_center_is_404(engine: Engine) -> None:
    with pytest.raises(NotFound):
        engine.add_host("h", address="127.0.0.1", port=1, token=None, data_center_id="missing")


# -- real agents, real mounts -------------------------------------------------------------------------------


@pytest.fixture
def agents(tmp_path: Path) -> Iterator[Callable[[str], AgentProcess]]:
    started: list[AgentProcess] = []

    def start(name: str) -> AgentProcess:
        mount_root = tmp_path / f"{name}-mnt"
        mount_root.mkdir()
        agent = AgentProcess(tmp_path / f"{name}-state", mount_root)
        agent.start()
        started.append(agent)
        return agent

    yield start
    from tests.peers.mounts import unmount_all_under

    for agent in started:
        agent.stop()
        unmount_all_under(agent.mount_root)


def _token(agent: AgentProcess) -> str:
    return (agent.state_dir / "token").read_text().strip()


def _add_agent_host(engine: Engine, agent: AgentProcess, name: str, dc_id: str | None) -> str:
    host = engine.add_host(
        name, address="127.0.0.1", port=agent.port, token=_token(agent), data_center_id=dc_id
    )
    assert host.status is HostStatus.UP
    return host.id


def _engine_refs(agent: AgentProcess) -> dict[str, dict[str, object]]:
    with agent.client() as client:
        return {
            ref: status for ref, status in client.statuses().items() if ref.startswith("engine")
        }


def _tmpfs_mounts(agent: AgentProcess) -> list[str]:
    return [
        path for path, entry in mounts_under(agent.mount_root).items() if entry.fstype == "tmpfs"
    ]


@needs_root
def test_activate_mounts_on_every_up_host_and_deactivate_unmounts(
    engine: Engine, agents: Callable[[str], AgentProcess]
) -> None:
    one, two = agents("one"), agents("two")
    dc = engine.add_data_center("dc")
    _add_agent_host(engine, one, "one", dc.id)
    _add_agent_host(engine, two, "two", dc.id)
    ghost = engine.add_host(
        "ghost", address="127.0.0.1", port=free_port(), token="t", data_center_id=dc.id
    )
    domain = engine.add_domain("scratch", storage_type=StorageType.POSIXFS, connection=tmpfs())
    engine.attach_domain(dc.id, domain.id)
    engine.deactivate_domain(dc.id, domain.id)  # attach activated it

    assert (
        engine.activate_domain(dc.id, domain.id) == []
    )  # the ghost is not Up: not asked, not failed
    ref = f"engine:{domain.id}:{domain.connection_ids[0]}:1"
    for agent in (one, two):
        assert list(_engine_refs(agent)) == [ref]
        eventually(lambda agent=agent: _tmpfs_mounts(agent), timeout=15)  # type: ignore[misc]
    assert engine.get_host(ghost.id).status is HostStatus.NON_RESPONSIVE

    assert engine.deactivate_domain(dc.id, domain.id) == []
    for agent in (one, two):
        assert _engine_refs(agent) == {}
        eventually(lambda agent=agent: not _tmpfs_mounts(agent), timeout=15)  # type: ignore[misc]


@needs_root
def test_activate_names_the_host_that_stopped_answering(
    engine: Engine, agents: Callable[[str], AgentProcess]
) -> None:
    one, two = agents("one"), agents("two")
    dc = engine.add_data_center("dc")
    _add_agent_host(engine, one, "one", dc.id)
    two_id = _add_agent_host(engine, two, "two", dc.id)
    domain = engine.add_domain("scratch", storage_type=StorageType.POSIXFS, connection=tmpfs())
    engine.attach_domain(dc.id, domain.id)
    engine.deactivate_domain(dc.id, domain.id)  # attach activated it
    two.stop()
    assert engine.activate_domain(dc.id, domain.id) == ["two"]
    assert engine.get_host(two_id).status is HostStatus.NON_RESPONSIVE
    eventually(lambda: _tmpfs_mounts(one), timeout=15)


@needs_root
def test_forced_edit_acquires_the_new_revision_and_releases_the_old(
    engine: Engine, agents: Callable[[str], AgentProcess]
) -> None:
    agent = agents("one")
    dc = engine.add_data_center("dc")
    _add_agent_host(engine, agent, "one", dc.id)
    domain = engine.add_domain(
        "scratch", storage_type=StorageType.POSIXFS, connection=tmpfs("first")
    )
    engine.attach_domain(dc.id, domain.id)
    engine.deactivate_domain(dc.id, domain.id)  # attach activated it
    engine.activate_domain(dc.id, domain.id)
    conn_id = domain.connection_ids[0]
    eventually(lambda: _tmpfs_mounts(agent), timeout=15)
    (first_mount,) = _tmpfs_mounts(agent)

    engine.update_connection(conn_id, ConnectionFields(path="second"), force=True)
    assert list(_engine_refs(agent)) == [f"engine:{domain.id}:{conn_id}:2"]
    eventually(lambda: any(path != first_mount for path in _tmpfs_mounts(agent)), timeout=15)
    eventually(lambda: first_mount not in _tmpfs_mounts(agent), timeout=15)

    # Same target, other options: the agent refuses both at once, so the old goes first.
    engine.update_connection(conn_id, ConnectionFields(mount_options="size=32m"), force=True)
    assert list(_engine_refs(agent)) == [f"engine:{domain.id}:{conn_id}:3"]


@needs_root
def test_connectivity_test_answers_what_the_agent_saw(
    engine: Engine, agents: Callable[[str], AgentProcess]
) -> None:
    agent = agents("one")
    host_id = _add_agent_host(engine, agent, "one", None)
    conn = engine.add_connection(tmpfs())
    answer = engine.test_connection(conn.id, host="one", timeout=15)
    assert answer["connected"] is True and answer["host"]["id"] == host_id
    assert str(answer["path"]).startswith(str(agent.mount_root))
    assert _engine_refs(agent) == {}  # the flow reference is gone
    eventually(lambda: not _tmpfs_mounts(agent), timeout=15)


@needs_root
def test_add_with_a_host_connects_there_first(
    engine: Engine, agents: Callable[[str], AgentProcess], tmp_path: Path
) -> None:
    agent = agents("one")
    _add_agent_host(engine, agent, "one", None)
    assert engine.add_connection(tmpfs(), host="one").connection == "scratch"
    broken = ConnectionFields(
        type=StorageType.POSIXFS,
        path=str(tmp_path / "missing.img"),
        vfs_type="ext4",
        mount_options="loop",
    )
    with pytest.raises(BadRequest) as err:
        engine.add_connection(broken, host="one")
    assert err.value.key == "ACTION_TYPE_FAILED_STORAGE_CONNECTION_FAILED"
    assert len(engine.list_connections()) == 1
    assert _engine_refs(agent) == {}


@needs_root
def test_start_syncs_hosts_and_releases_leftovers(
    make_engine: Callable[..., Engine], agents: Callable[[str], AgentProcess]
) -> None:
    agent = agents("one")
    engine = make_engine()
    dc = engine.add_data_center("dc")
    _add_agent_host(engine, agent, "one", dc.id)
    domain = engine.add_domain("scratch", storage_type=StorageType.POSIXFS, connection=tmpfs())
    engine.attach_domain(dc.id, domain.id)
    engine.deactivate_domain(dc.id, domain.id)  # attach activated it
    engine.activate_domain(dc.id, domain.id)
    wanted = f"engine:{domain.id}:{domain.connection_ids[0]}:1"
    with agent.client() as client:
        info = {"type": "localfs", "params": {"path": "/tmp"}}
        client.acquire(
            {"engine:gone:gone:1": info, "engine-flow:crashed:0": info, "somebody-else": info}
        )
        client.release([wanted])
    make_engine()  # a new engine process starting on the same database
    assert list(_engine_refs(agent)) == [wanted]
    with agent.client() as client:
        assert "somebody-else" in client.statuses()


@needs_root
def test_remove_host_releases_what_it_held(
    engine: Engine, agents: Callable[[str], AgentProcess]
) -> None:
    agent = agents("one")
    dc = engine.add_data_center("dc")
    host_id = _add_agent_host(engine, agent, "one", dc.id)
    domain = engine.add_domain("scratch", storage_type=StorageType.POSIXFS, connection=tmpfs())
    engine.attach_domain(dc.id, domain.id)
    engine.deactivate_domain(dc.id, domain.id)  # attach activated it
    engine.activate_domain(dc.id, domain.id)
    assert _engine_refs(agent)
    # oVirt's RemoveVds: an Up host is not removed, and keeps what it holds.
    with pytest.raises(EngineError) as refused:
        engine.remove_host(host_id)
    assert refused.value.key == "VDS_CANNOT_REMOVE_VDS_STATUS_ILLEGAL" and refused.value.status == 409
    assert "Cannot remove Host." in refused.value.detail and _engine_refs(agent)
    engine.deactivate_host(host_id)  # maintenance lets go of everything
    # Something left behind (a flow's reference from before) goes when the host does.
    with agent.client() as client:
        client.acquire({"engine-flow:crashed:0": {"type": "localfs", "params": {"path": "/tmp"}}})
    assert _engine_refs(agent)
    engine.remove_host(host_id)
    assert _engine_refs(agent) == {}
    assert engine.list_hosts() == []


@needs_root
def test_host_joining_a_data_center_gets_its_active_domains(
    engine: Engine, agents: Callable[[str], AgentProcess]
) -> None:
    one = agents("one")
    dc = engine.add_data_center("dc")
    domain = engine.add_domain("scratch", storage_type=StorageType.POSIXFS, connection=tmpfs())
    engine.attach_domain(dc.id, domain.id)
    engine.deactivate_domain(dc.id, domain.id)  # attach activated it
    engine.activate_domain(dc.id, domain.id)
    _add_agent_host(engine, one, "one", dc.id)
    assert list(_engine_refs(one)) == [f"engine:{domain.id}:{domain.connection_ids[0]}:1"]


def test_engine_errors_carry_the_action(engine: Engine) -> None:
    with pytest.raises(EngineError) as err:
        engine.activate_domain("missing-dc", "missing-domain")
    assert err.value.status == 404


def test_without_an_admin_password_no_user_is_created(
    make_engine: Callable[..., Engine], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("STORCONN_ADMIN_PASSWORD", raising=False)
    engine = make_engine(admin_password=None)
    engine.add_user("admin@internal", "chosen-later", Role.ADMIN)
    assert engine.authenticate("admin", "chosen-later").role is Role.ADMIN


@pytest.mark.parametrize("username", ["ad\x00min", "admin\x00@internal", "a" * 300, "\x7f"])
def test_a_user_name_no_user_can_have_is_a_wrong_login(engine: Engine, username: str) -> None:
    """Issue 7, defect 14's class: PostgreSQL refused the NUL and the SSO endpoint answered 500."""
    with pytest.raises(Unauthorized):
        engine.authenticate(username, "admin-pw")
