"""Storage connections: list, add, edit (the seed's rules), remove, and the connectivity test."""

from __future__ import annotations

from collections.abc import Iterable

from dataclasses import replace
from typing import Any

from storconn.engine import rules
from storconn.engine.errors import BadRequest, EngineError, NotFound
from storconn.engine.model import (
    ConnectionFields,
    StorageConnection,
    StorageDomain,
    StorageType,
)
from storconn.engine.rules import Action
from storconn.engine.rules import events as event_rules
from storconn.engine.rules.events import EventKind
from storconn.engine.rules import locks as keys
from storconn.engine.service.base import EMPTY_GUID, EngineBase, command, found


class ConnectionCommands(EngineBase):
    def list_connections(self, *, max: int | None = None) -> list[StorageConnection]:
        with self._tx(write=False) as repo:
            return repo.connections(max=max)

    def connections_by_id(self, connection_ids: Iterable[str]) -> dict[str, StorageConnection]:
        """The given connections (unknown ids left out), without passwords: what a page lists."""
        with self._tx(write=False) as repo:
            return repo.connections_by_id(connection_ids)

    def get_connection(self, connection_id: str) -> StorageConnection:
        with self._tx(write=False) as repo:
            return found(repo.connection(connection_id), "storage connection", connection_id)

    @command(Action.ADD_CONNECTION)
    def add_connection(
        self, fields: ConnectionFields, *, host: str | None = None, connection_id: str | None = None
    ) -> StorageConnection:
        if connection_id:
            raise BadRequest(
                "ACTION_TYPE_FAILED_STORAGE_CONNECTION_ID_NOT_EMPTY",
                "Storage connection id is not empty.",
            )
        conn = self._checked(fields)
        named = None if host is None or host.strip() in ("", EMPTY_GUID) else self._host(host)
        dc_id = (
            named.data_center_id if named is not None and conn.type is StorageType.LOCALFS else None
        )
        with self.locks.hold(keys.add_connection_keys(conn), action=Action.ADD_CONNECTION):
            with self._tx(write=False) as repo:
                rules.check_duplicates(conn, repo.candidates(conn), data_center_id=dc_id)
            # oVirt's order: the host's status is checked after the duplicates, before connecting.
            target = self._up_target(host)
            if target is not None:
                self._connect_or_raise(target, conn)
            with self._tx() as repo:
                repo.save_connection(conn, data_center_id=dc_id)
                self._record(event_rules.build(EventKind.CONNECTION_ADDED, connection=conn), repo)
        return rules.without_password(conn)

    @command(Action.EDIT_CONNECTION)
    def update_connection(
        self,
        connection_id: str,
        fields: ConnectionFields,
        *,
        force: bool = False,
        host: str | None = None,
    ) -> StorageConnection:
        # Not cleaned here: an empty string clears a field, and merge_fields
        # must see it as given ("" → null), not as absent (None → keep).
        given = (
            fields if fields.type is None else replace(fields, type=rules.storage_type(fields.type))
        )
        # oVirt's REST layer looks the connection up first: an unknown id is 404.
        self.get_connection(connection_id)
        new, domains, disk_ids = self._plan_edit(connection_id, given, force)
        target = self._up_target(host)
        lock_keys = keys.edit_connection_keys(
            new, domain_ids=[d.id for d in domains], disk_ids=disk_ids
        )
        with self.locks.hold(lock_keys, action=Action.EDIT_CONNECTION):
            # Planned again under the locks: what was read before them may have moved.
            new, domains, _ = self._plan_edit(connection_id, given, force)
            if target is not None:
                self._connect_or_raise(target, new)
            with self._tx() as repo:
                repo.save_connection(new, data_center_id=repo.connection_data_center(connection_id))
                self._record(event_rules.build(EventKind.CONNECTION_UPDATED, connection=new), repo)
                dc_ids = {d.data_center_id for d in domains if d.data_center_id}
                for dc_id in dc_ids:
                    repo.refresh_references(dc_id)
                hosts = [h for dc_id in dc_ids for h in self._up_hosts(repo, dc_id)]
            # A forced edit of a connection in use: new revision first, then the old one goes.
            self._sync(hosts)
        return rules.without_password(new)

    def _plan_edit(
        self, connection_id: str, given: ConnectionFields, force: bool
    ) -> tuple[StorageConnection, list[StorageDomain], list[str]]:
        with self._tx(write=False) as repo:
            stored = self._existing(repo, connection_id, secrets=True, missing=NotFound)
            domains = repo.domains_using(connection_id)
            disks = repo.disks_using(connection_id)
            vms = repo.vms(disk_ids=[disk.id for disk in disks])
            # oVirt's order (UpdateStorageServerConnectionCommand.validate): the type, the
            # merged fields' validity, the type change, duplicates, then who uses it.
            rules.check_edit_type(stored, given)
            merged = rules.merge_fields(rules.stored_fields(stored), given)
            rules.validate_fields(merged)
            rules.check_type_change(stored, given)
            new = rules.build_connection(merged, connection_id=stored.id, revision=stored.revision)
            if rules.details_changed(stored, new):
                new.revision += 1
            rules.check_duplicates(
                new, repo.candidates(new), data_center_id=repo.connection_data_center(connection_id)
            )
            rules.check_edit_usage(stored, domains=domains, disks=disks, vms=vms, force=force)
        return new, domains, [disk.id for disk in disks]

    @command(Action.REMOVE_CONNECTION)
    def remove_connection(self, connection_id: str, *, host: str | None = None) -> None:
        conn = self.get_connection(connection_id)
        # An unknown host: 404, where oVirt ignores it; the empty GUID is no host.
        target = self._up_target(host)
        with self.locks.hold(keys.remove_connection_keys(conn), action=Action.REMOVE_CONNECTION):
            with self._tx() as repo:
                rules.check_remove(
                    conn, domains=repo.domains_using(conn.id), disks=repo.disks_using(conn.id)
                )
                repo.delete_connection(conn.id)
                self._record(event_rules.build(EventKind.CONNECTION_REMOVED, connection=conn), repo)
        if target is not None:
            # Disconnecting is making the host hold only what it should: nothing of this connection.
            # A failure is logged and does not undo the removal.
            self._sync([target])

    @command(Action.TEST_CONNECTION)
    def test_connection(
        self, connection_id: str, *, host: str, timeout: float = 30.0
    ) -> dict[str, Any]:
        """What the agent saw of a flow reference (``connected``, ``lastError``, ``path``), and the host."""
        conn = self._existing_connection(connection_id, secrets=True, missing=NotFound)
        target = self._host(host)
        try:
            status = self._try_on_host(target, conn, timeout=timeout)
        except EngineError as exc:
            self._record(event_rules.connection_tested(conn, target, connected=False, error=exc.message))
            raise
        connected = bool(status.get("connected"))
        error = None
        if not connected:
            code, message = (status.get("lastError") or [0, ""])[:2]
            error = f"[{code}] {message}" if code else None
        self._record(event_rules.connection_tested(conn, target, connected=connected, error=error))
        return {**status, "host": {"id": target.id, "name": target.name}, "connection": conn.id}
