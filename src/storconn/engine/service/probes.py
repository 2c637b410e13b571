"""The connectivity test of details not saved yet: what an edit form would store, tried on hosts first.

The web admin's Test button asks this before the administrator saves: each
chosen host connects the merged details for a moment through a flow
reference (as the stored connection's test does) and answers in the agent's
words. Nothing is stored.
"""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from storconn.engine import rules
from storconn.engine.errors import EngineError
from storconn.engine.model import ConnectionFields, Host, HostStatus, StorageConnection
from storconn.engine.rules import Action
from storconn.engine.service.base import EngineBase, command

__all__ = ["ProbeCommands"]

# Hosts tried at once: a data center's worth, without a thread per host of a large site.
MAX_PARALLEL = 8


class ProbeCommands(EngineBase):
    @command(Action.TEST_CONNECTION)
    def test_fields(
        self,
        connection_id: str,
        fields: ConnectionFields,
        *,
        host_ids: list[str],
        timeout: float = 30.0,
    ) -> list[dict[str, Any]]:
        """Each host's answer for ``connection_id``'s details with ``fields`` laid over them.

        An answer is ``{"host": {id, name}, "connected", "lastError", "path"}``,
        or ``{"host", "error"}`` when the host could not be asked.
        """
        probe = self._probe(connection_id, fields)
        with self._tx(write=False) as repo:
            hosts = [repo.host(host_id, secrets=True) for host_id in host_ids]
        chosen = [host for host in hosts if host is not None]
        if not chosen:
            raise rules.not_found("host", ", ".join(host_ids) or "(none chosen)")
        with ThreadPoolExecutor(max_workers=min(MAX_PARALLEL, len(chosen))) as pool:
            return list(pool.map(lambda host: self._answer(host, probe, timeout), chosen))

    def _probe(self, connection_id: str, fields: ConnectionFields) -> StorageConnection:
        with self._tx(write=False) as repo:
            stored = repo.connection(connection_id, secrets=True)
        if stored is None:
            raise rules.not_found("storage connection", connection_id)
        merged = rules.merge_fields(rules.stored_fields(stored), fields)
        rules.validate_fields(merged)
        return rules.build_connection(merged, connection_id=str(uuid.uuid4()))

    def _answer(self, host: Host, probe: StorageConnection, timeout: float) -> dict[str, Any]:
        named = {"id": host.id, "name": host.name}
        if host.status is HostStatus.MAINTENANCE:
            return {"host": named, "error": "the host is in maintenance"}
        try:
            status = self._try_on_host(host, probe, timeout=timeout)
        except EngineError as exc:
            return {"host": named, "error": exc.message}
        return {"host": named, **status}
