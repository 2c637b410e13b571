"""The Python client of the agent's JSON-RPC API, used by the CLI, the engine and the volumes library.

    with AgentClient("http://127.0.0.1:54321", token_file=Path("/var/lib/storconn/agent/token")) as agent:
        agent.acquire({"data1": {"type": "localfs", "params": {"path": "/srv/data"}}})
        agent.wait(["data1"], timeout=10)
"""

from __future__ import annotations

import builtins
import itertools
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel

from storconn.connection import ErrorCode, StorconnError

DEFAULT_URL = "http://127.0.0.1:54321"
MAX_IDS_PER_CALL = 10_000  # the agent's bound (storconn.agent.rpc_params)

_T = TypeVar("_T")


def _parts(items: builtins.list[_T]) -> builtins.list[builtins.list[_T]]:
    return [items[start : start + MAX_IDS_PER_CALL] for start in range(0, len(items), MAX_IDS_PER_CALL)]


class AgentRpcError(StorconnError):
    """The agent answered with a JSON-RPC error object."""

    def __init__(self, rpc_code: int, message: str, data: Any = None) -> None:
        super().__init__(message, code=ErrorCode.GENERAL)
        self.rpc_code = rpc_code
        self.data = data


class AgentUnavailable(StorconnError):
    """The agent could not be reached, refused the token, or answered something that is not JSON-RPC."""

    def __init__(self, message: str) -> None:
        super().__init__(message, code=ErrorCode.CONNECTION)


class AgentClient:
    def __init__(
        self,
        url: str = DEFAULT_URL,
        *,
        token: str | None = None,
        token_file: Path | str | None = None,
        timeout: float = 30.0,
        verify: bool | str = True,
    ) -> None:
        if token is None and token_file is not None:
            token = Path(token_file).read_text().strip()
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._http = httpx.Client(base_url=url, headers=headers, timeout=timeout, verify=verify)
        self._ids = itertools.count(1)

    def __enter__(self) -> AgentClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def call(self, method: str, params: Mapping[str, Any], *, timeout: float | None = None) -> Any:
        request = {"jsonrpc": "2.0", "id": next(self._ids), "method": method, "params": dict(params)}
        answer = self._post(request, timeout)
        if not isinstance(answer, dict):
            raise AgentUnavailable(f"{method}: the agent's answer is not a JSON-RPC response")
        if "error" in answer:
            error = answer["error"]
            raise AgentRpcError(error.get("code", 0), error.get("message", ""), error.get("data"))
        return answer.get("result")

    # The agent takes at most MAX_IDS_PER_CALL ids in one call (-32602 beyond);
    # larger requests are sent in parts and their answers merged.

    def acquire(self, refs: Mapping[str, BaseModel | Mapping[str, Any]]) -> dict[str, int]:
        wire = {
            ref_id: info.to_wire(secrets=True) if hasattr(info, "to_wire") else dict(info)
            for ref_id, info in refs.items()
        }
        items = list(wire.items())
        result: dict[str, int] = {}
        for part in _parts(items) or [[]]:
            result.update(self.call("ConnectionRefs.acquire", {"conRefArgs": dict(part)}))
        return result

    def release(self, ref_ids: Sequence[str] = (), *, prefixes: Sequence[str] = ()) -> dict[str, int]:
        result: dict[str, int] = {}
        for part in _parts(list(ref_ids)) or [[]]:
            result.update(self.call("ConnectionRefs.release", {"refIDs": part, "prefixes": list(prefixes)}))
            prefixes = ()  # released by the first part
        return result

    def statuses(self, ref_ids: Sequence[str] | None = None) -> dict[str, dict[str, Any]]:
        if ref_ids is None:
            everything: dict[str, dict[str, Any]] = self.call("ConnectionRefs.statuses", {})
            return everything
        result: dict[str, dict[str, Any]] = {}
        for part in _parts(list(ref_ids)) or [[]]:
            result.update(self.call("ConnectionRefs.statuses", {"refIDs": part}))
        return result

    def wait(self, ref_ids: Sequence[str], timeout: float) -> dict[str, dict[str, Any]]:
        deadline = time.monotonic() + timeout
        result: dict[str, dict[str, Any]] = {}
        for part in _parts(list(ref_ids)) or [[]]:
            # Parts one after the other, within one deadline for them all.
            remaining = max(0.0, deadline - time.monotonic())
            result.update(self.call(
                "ConnectionRefs.wait", {"refIDs": part, "timeout": remaining}, timeout=remaining + 10
            ))
        return result

    def manage(self, uri: str, connection_id: str) -> int:
        result: int = self.call("StorageConnection.manage", {"uri": uri, "connectionID": connection_id})
        return result

    def unmanage(self, connection_id: str) -> int:
        result: int = self.call("StorageConnection.unmanage", {"connectionID": connection_id})
        return result

    def list(self) -> dict[str, dict[str, Any]]:
        result: dict[str, dict[str, Any]] = self.call("StorageConnection.list", {})
        return result

    def discover(
        self, hostname: str, port: int = 3260, *, iface: str = "default", timeout: float | None = None
    ) -> builtins.list[dict[str, Any]]:
        """The targets an iSCSI portal offers, each shaped as an iscsi info's ``params.target``."""
        result: builtins.list[dict[str, Any]] = self.call(
            "Iscsi.discover", {"hostname": hostname, "port": port, "iface": iface}, timeout=timeout
        )
        return result

    def iscsi_devices(self) -> builtins.list[dict[str, Any]]:
        """The disks of the host's iSCSI sessions: ``lunID``, ``device``, ``lun``, ``size``, ``target``..."""
        result: builtins.list[dict[str, Any]] = self.call("Iscsi.devices", {})
        return result

    # -- volume attachments (Volumes.*, DESIGN.md section 5 "Host side") --

    def volumes_attach(
        self,
        connection_id: str,
        conn_info: Mapping[str, Any],
        *,
        mode: str | None = None,
        device_type: str | None = None,
        timeout: float = 60.0,
    ) -> dict[str, Any]:
        """Attach a volume on this host: ``{"type", "path", "refIDs", "backingFile"?, "readOnly"?}``."""
        params: dict[str, Any] = {"connectionID": connection_id, "connInfo": dict(conn_info), "timeout": timeout}
        if mode is not None:
            params["mode"] = mode
        if device_type is not None:
            params["deviceType"] = device_type
        result: dict[str, Any] = self.call("Volumes.attach", params, timeout=timeout + 30)
        return result

    def volumes_detach(self, connection_id: str) -> None:
        self.call("Volumes.detach", {"connectionID": connection_id}, timeout=60)

    def volumes_list(self) -> dict[str, dict[str, Any]]:
        result: dict[str, dict[str, Any]] = self.call("Volumes.list", {})
        return result

    def volumes_resize(self, connection_id: str) -> int:
        result: dict[str, int] = self.call("Volumes.resize", {"connectionID": connection_id}, timeout=60)
        return result["size"]

    def healthz(self) -> dict[str, Any]:
        try:
            response = self._http.get("/healthz")
        except httpx.HTTPError as exc:
            raise AgentUnavailable(f"cannot reach the agent: {exc}") from exc
        result: dict[str, Any] = response.json()
        return result

    def _post(self, request: dict[str, Any], timeout: float | None) -> Any:
        try:
            response = self._http.post(
                "/jsonrpc", json=request, timeout=timeout if timeout is not None else httpx.USE_CLIENT_DEFAULT
            )
        except httpx.HTTPError as exc:
            raise AgentUnavailable(f"cannot reach the agent at {self._http.base_url}: {exc}") from exc
        if response.status_code == 401:
            raise AgentUnavailable("the agent refused the token (401): check --token-file")
        if response.status_code != 200:
            raise AgentUnavailable(f"the agent answered HTTP {response.status_code}: {response.text[:200]}")
        try:
            return response.json()
        except ValueError as exc:
            raise AgentUnavailable("the agent's answer is not JSON") from exc
