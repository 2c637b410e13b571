"""Property-based fuzzing of the JSON-RPC surface against a real agent over HTTP.

Whatever a client sends: no HTTP 5xx, the agent stays alive, a rejected call
leaves the stored references (and the volume attachments) as they were, and
a rejected acquire or attach mounts nothing under the mount root. A few thousand cases by default (under a
minute); ``STORCONN_FUZZ_EXAMPLES=50000`` for a long run.

Host names are loopback or text that cannot be a host name, so an accepted
network info never makes the agent talk beyond this machine.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.peers.agent import AgentProcess, is_root
from tests.peers.mounts import mounts_under

EXAMPLES = int(os.environ.get("STORCONN_FUZZ_EXAMPLES", "1500"))
KEEP = {"type": "localfs", "params": {"path": "/srv/storconn-fuzz-keep"}}
# A share with one real volume file, so that some fuzzed attaches succeed and
# the clean-up after an accepted one is exercised too.
SHARE_PATH = "/srv/storconn-fuzz-share"
SHARE = {"type": "localfs", "params": {"path": SHARE_PATH}}
VOLUME = "volume-1"
METHODS = [
    "ConnectionRefs.acquire", "ConnectionRefs.release", "ConnectionRefs.statuses", "ConnectionRefs.wait",
    "StorageConnection.manage", "StorageConnection.unmanage", "StorageConnection.list", "Iscsi.discover",
    "Volumes.attach", "Volumes.detach", "Volumes.list", "Volumes.resize",
    "Iscsi.devices",
]

# -- strategies ---------------------------------------------------------------

# Any code point, lone surrogates and control characters included.
any_char = st.characters(codec=None, exclude_categories=())
tricky = st.sampled_from([",", "=", "-", "#", "\n", "\r", "\x00", "\t", " ", "/", "..", ":", "@", "%", "\ud800",
                          "\u202e", "'", '"', "\\", "$(id)", "`id`", ";"])
short_text = st.lists(st.one_of(any_char, tricky), max_size=12).map("".join)
long_text = st.integers(min_value=200, max_value=5_000).map(lambda n: "x" * n)
text = st.one_of(short_text, long_text, tricky)

# Loopback, or text that no resolver takes for a host name.
host = st.one_of(
    st.sampled_from(["127.0.0.1", "localhost", "::1", "[::1]", "127.0.0.2"]),
    short_text.map(lambda t: f"bad host{t}#\x00"),
)
option_word = st.one_of(
    st.sampled_from(["bind", "rbind", "rw", "ro", "size=1m", "-o", "#", "log-file=/tmp/fuzz", "volfile=/x",
                     "ssh_command=id", "uid=0", "nosuid", "X-mount.mkdir", "remount", "hard", "vers=3",
                     "allow_other", "nolock", "=", ",", "a=b=c"]),
    short_text,
)
options = st.lists(option_word, max_size=6).map(",".join)
path = st.one_of(st.sampled_from(["/", "/etc", "/tmp", "/srv/storconn-fuzz", "relative", "../../etc", "/a/../b",
                                  "//x", "/x/./y"]), short_text.map(lambda t: "/" + t))
scalar = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), text)
json_value = st.recursive(scalar, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                          st.dictionaries(short_text, inner, max_size=4)),
                          max_leaves=5)


def _params(fields: dict[str, st.SearchStrategy[Any]]) -> st.SearchStrategy[dict[str, Any]]:
    """Some of ``fields`` (each maybe replaced by any JSON value), maybe with an unknown one."""
    return st.fixed_dictionaries(
        {}, optional={name: st.one_of(strategy, json_value) for name, strategy in fields.items()}
    ) | st.dictionaries(short_text, json_value, max_size=2)


network_spec = st.builds(lambda h, p: f"{h}:{p}", host, path)
info_params = {
    "nfs": _params({"export": network_spec, "version": st.sampled_from(["3", "4", "4.1", "auto", "5", ""]),
                    "timeout": st.integers(-5, 7000), "retrans": st.integers(-1, 40000), "options": options}),
    "posixfs": _params({"spec": st.one_of(path, network_spec, st.sampled_from(["tmpfs", "none", "-o"])),
                        "vfsType": st.sampled_from(["tmpfs", "fuse.awk", "fuse", "fuseblk", "none", "nfs", "nfs4",
                                                    "ext4", "fuse.sshfs", "glusterfs", "proc", "bind", "-t"]),
                        "options": options}),
    "glusterfs": _params({"spec": network_spec, "options": options,
                          "backupServers": st.lists(host, max_size=3).map(":".join)}),
    "localfs": _params({"path": path}),
    "iscsi": _params({"target": st.fixed_dictionaries({"portal": st.fixed_dictionaries(
                          {"hostname": host, "port": st.integers(-1, 70000)}), "iqn": text}),
                      "iface": st.one_of(st.just("default"), short_text),
                      "credentials": json_value}),
    "fcp": _params({}),
}
connection_info = st.one_of(
    st.sampled_from(sorted(info_params)).flatmap(
        lambda kind: st.fixed_dictionaries({"type": st.just(kind), "params": info_params[kind]})
    ),
    json_value,
)
file_data = _params({
    "export": st.one_of(path, network_spec), "options": options, "share": st.one_of(st.just(SHARE), connection_info),
    "name": st.one_of(st.sampled_from([VOLUME, "../../etc/passwd", "/etc/shadow", "a/b", ".", "", "x" * 300]),
                      short_text),
    "format": st.sampled_from(["raw", "qcow2", "vmdk", "", "raw -o"]), "volume_id": text,
    "access_mode": st.sampled_from(["rw", "ro", "x"]), "vfs_type": st.sampled_from(["tmpfs", "fuse.sh", "-t"]),
})
iscsi_data = _params({
    "target_portal": network_spec, "target_iqn": text, "target_lun": st.integers(-1, 70000),
    "target_portals": st.lists(network_spec, max_size=3), "target_iqns": st.lists(text, max_size=3),
    "target_luns": st.lists(st.integers(-1, 300), max_size=3), "auth_method": st.sampled_from(["CHAP", "none"]),
    "auth_username": text, "auth_password": text, "volume_id": text, "access_mode": st.sampled_from(["rw", "ro"]),
})
conn_info = st.one_of(
    st.fixed_dictionaries({
        "driver_volume_type": st.sampled_from(["localfs", "posixfs", "nfs", "glusterfs", "iscsi", "file", "rbd"]),
        "data": st.one_of(file_data, iscsi_data),
    }),
    json_value,
)
ref_id = st.one_of(short_text, st.sampled_from(["keep", "unmanaged:1", "a/b", "", "x" * 256]), json_value)
ref_ids = st.lists(ref_id, max_size=5)
method_params = {
    "ConnectionRefs.acquire": _params({"conRefArgs": st.dictionaries(short_text, connection_info, max_size=4)}),
    "ConnectionRefs.release": _params({"refIDs": ref_ids, "prefixes": ref_ids}),
    "ConnectionRefs.statuses": _params({"refIDs": ref_ids}),
    "ConnectionRefs.wait": _params({"refIDs": ref_ids, "timeout": st.one_of(
        st.floats(-1, 0.05), st.sampled_from([math.nan, math.inf, -math.inf, 301, 1e999, "0", True]))}),
    "StorageConnection.manage": _params({"uri": text, "connectionID": ref_id}),
    "StorageConnection.unmanage": _params({"connectionID": ref_id}),
    "StorageConnection.list": _params({}),
    "Iscsi.discover": _params({"hostname": host, "port": st.integers(-1, 70000), "iface": short_text}),
    "Volumes.attach": _params({"connectionID": ref_id, "connInfo": conn_info,
                               "mode": st.sampled_from(["rw", "ro", "wx"]),
                               "deviceType": st.sampled_from(["file", "block", "char"]),
                               "timeout": st.one_of(st.floats(-1, 2), st.sampled_from([math.nan, 1e999, "1"]))}),
    "Volumes.detach": _params({"connectionID": ref_id}),
    "Volumes.list": _params({}),
    "Volumes.resize": _params({"connectionID": ref_id}),
    "Iscsi.devices": _params({}),
}
method = st.one_of(st.sampled_from(METHODS), text, json_value)
request_id = st.one_of(st.none(), st.integers(), st.floats(), short_text, st.booleans(), json_value)


@st.composite
def request(draw: st.DrawFn) -> Any:
    name = draw(method)
    fields: dict[str, Any] = {"jsonrpc": draw(st.one_of(st.just("2.0"), json_value)), "method": name}
    if draw(st.booleans()):
        fields["id"] = draw(request_id)
    if draw(st.integers(0, 9)):  # mostly the method's own params, sometimes anything
        strategy = method_params.get(name, json_value) if isinstance(name, str) else json_value
        fields["params"] = draw(st.one_of(strategy, strategy.map(lambda p: list(p.values()) if isinstance(p, dict) else p)))
    else:
        fields["params"] = draw(json_value)
    return fields


body = st.one_of(request(), st.lists(request(), min_size=1, max_size=4), json_value)

# -- the agent ----------------------------------------------------------------


@pytest.fixture(scope="module")
def agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AgentProcess]:
    if not is_root():
        pytest.skip("needs root: the agent mounts")
    base = tmp_path_factory.mktemp("fuzz")
    share = Path(SHARE_PATH)
    share.mkdir(parents=True, exist_ok=True)
    with open(share / VOLUME, "wb") as volume:
        volume.truncate(1 << 20)
    (base / "mnt").mkdir()
    process = AgentProcess(base / "state", base / "mnt")
    process.start()
    with process.client() as client:
        assert client.acquire({"keep": KEEP}) == {"keep": 0}
    yield process
    process.stop()
    from tests.peers.mounts import unmount_all_under

    unmount_all_under(base / "mnt")
    shutil.rmtree(SHARE_PATH, ignore_errors=True)


class _Wire:
    def __init__(self, agent: AgentProcess) -> None:
        token = (agent.state_dir / "token").read_text().strip()
        self.agent = agent
        self.http = httpx.Client(base_url=agent.url, timeout=30,
                                 headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})

    def post(self, payload: bytes) -> httpx.Response:
        return self.http.post("/jsonrpc", content=payload)

    def stored(self) -> dict[str, Any]:
        """The references the agent holds: id → connectionInfo."""
        answer = self.post(b'{"jsonrpc":"2.0","id":0,"method":"ConnectionRefs.statuses","params":{}}').json()
        return {ref: s["connectionInfo"] for ref, s in answer["result"].items() if s["managed"]}

    def attachments(self) -> dict[str, Any]:
        answer = self.post(b'{"jsonrpc":"2.0","id":0,"method":"Volumes.list","params":{}}').json()
        return dict(answer["result"])

    def detach_all(self) -> None:
        for connection_id in self.attachments():
            payload = {"jsonrpc": "2.0", "id": 0, "method": "Volumes.detach",
                       "params": {"connectionID": connection_id}}
            answer = self.post(json.dumps(payload).encode()).json()
            assert "error" not in answer, answer

    def release_all_but_keep(self, before: dict[str, Any]) -> bool:
        """Release what the call stored; whether any of it may have mounted (anything but localfs)."""
        stored = self.stored()
        extra = [ref for ref in stored if ref not in before]
        if extra:
            payload = {"jsonrpc": "2.0", "id": 0, "method": "ConnectionRefs.release", "params": {"refIDs": extra}}
            self.post(json.dumps(payload).encode())
        return any((stored[ref] or {}).get("type") != "localfs" for ref in extra)


@pytest.fixture(scope="module")
def wire(agent: AgentProcess) -> Iterator[_Wire]:
    connection = _Wire(agent)
    yield connection
    connection.http.close()


def _encode(value: Any) -> bytes:
    # NaN and Infinity as Python writes them: the agent must cope with what
    # lax JSON encoders send, too.
    return json.dumps(value, allow_nan=True).encode("utf-8", "surrogatepass")


def _accepted(answer: Any) -> bool:
    """Whether the answer says some call changed the references (any result that is not all errors)."""
    answers = answer if isinstance(answer, list) else [answer]
    for one in answers:
        result = one.get("result") if isinstance(one, dict) else None
        if isinstance(result, dict) and any(code == 0 for code in result.values() if isinstance(code, int)):
            return True
        if result == 0 or (isinstance(result, dict) and "refIDs" in result):
            return True  # a release, or an attach (its answer names its references)
    return False


def _has_notification(payload: Any) -> bool:
    calls = payload if isinstance(payload, list) else [payload]
    return any(isinstance(call, dict) and "id" not in call for call in calls)


def _error_codes(answer: Any) -> list[int]:
    answers = answer if isinstance(answer, list) else [answer]
    return [one["error"]["code"] for one in answers if isinstance(one, dict) and "error" in one]


def _strict(response: httpx.Response) -> Any:
    def refuse(constant: str) -> None:
        raise AssertionError(f"the agent answered {constant}, which is not JSON")

    return json.loads(response.content.decode("utf-8"), parse_constant=refuse)


@settings(max_examples=EXAMPLES, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much,
                                 HealthCheck.function_scoped_fixture])
@given(payload=body)
# An attach that succeeds, every run: the clean-up after an accepted attach is exercised too.
@example(payload={"jsonrpc": "2.0", "id": 1, "method": "Volumes.attach",
                  "params": {"connectionID": "c1", "deviceType": "block",
                             "connInfo": {"driver_volume_type": "localfs",
                                          "data": {"share": SHARE, "name": VOLUME, "volume_id": "v1"}}}})
def test_any_request_is_answered_without_harm(wire: _Wire, payload: Any) -> None:
    # Every example leaves the agent as the fixture made it: one reference, nothing mounted.
    before = {"keep": KEEP}
    mounts_before: set[str] = set()
    encoded = _encode(payload)
    response = wire.post(encoded)
    assert response.status_code < 500, response.text[:500]
    assert response.status_code in (200, 204, 413), response.status_code
    answer = _strict(response) if response.status_code == 200 else None
    # -32603 is the agent's own surprise: every input has an expected answer.
    assert -32603 not in _error_codes(answer), response.text[:500]
    if _accepted(answer) or _has_notification(payload):
        # (A notification gets no answer: whether it changed something is not said.)
        # Something was stored (a valid info, a release of a fuzz id): put the agent back as it was.
        wire.detach_all()
        may_have_mounted = wire.release_all_but_keep(before)
        if "keep" not in wire.stored():
            with wire.agent.client() as client:
                client.acquire({"keep": KEEP})
        if may_have_mounted:
            _settle(wire, mounts_before)
        return
    assert wire.stored() == before, "a rejected call changed the stored references"
    assert wire.attachments() == {}, "a rejected call left an attachment"
    # (connectionInfo as the agent shows it: KEEP has no defaults to fill in)
    new_mounts = set(mounts_under(wire.agent.mount_root)) - mounts_before
    assert not new_mounts, f"a rejected call mounted {new_mounts}"


def _settle(wire: _Wire, mounts_before: set[str]) -> None:
    """Wait until what an accepted call mounted is gone again (after the grace period).

    A connect still under way when its reference was released may mount
    late, so look only after the grace period (0.5 s here) has passed.
    """
    time.sleep(1.0)
    deadline = time.monotonic() + 15
    while set(mounts_under(wire.agent.mount_root)) - mounts_before:
        assert time.monotonic() < deadline, "mounts of released references stayed"
        time.sleep(0.1)


def test_agent_alive_after_the_fuzzing(wire: _Wire) -> None:
    health = wire.http.get("/healthz")
    assert health.status_code == 200
    assert health.json()["status"] == "ok"
    assert wire.http.get("/metrics").status_code == 200
    assert "keep" in wire.stored()
    assert not math.isnan(float(health.json()["references"]))
