"""The write batcher: concurrent acquires and releases share registry calls, and every answer stays its own."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Mapping, Sequence
from typing import Any

import pytest

from storconn.agent.write_batch import WriteBatcher


class RecordingAgent:
    """Answers like the registry (0 for each id, 479 for ids it does not hold) and records its calls."""

    def __init__(self) -> None:
        self.held: set[str] = set()
        self.calls: list[tuple[str, list[str]]] = []
        self.gate = threading.Event()  # the first call blocks until set, so others queue behind it
        self.gate.set()
        self.fail = False

    def acquire(self, entries: Mapping[str, object]) -> dict[str, int]:
        self.gate.wait(5)
        self.calls.append(("acquire", list(entries)))
        if self.fail:
            raise RuntimeError("surprise")
        self.held |= set(entries)
        return dict.fromkeys(entries, 0)

    def release(self, ref_ids: Sequence[object] = (), prefixes: Sequence[object] = ()) -> dict[str, int]:
        self.gate.wait(5)
        self.calls.append(("release", [str(i) for i in ref_ids] + [f"prefix {p}" for p in prefixes]))
        answers: dict[str, int] = {}
        for ref_id in ref_ids:
            answers[str(ref_id)] = 0 if ref_id in self.held else 479
            self.held.discard(str(ref_id))
        for prefix in prefixes:
            for ref_id in sorted(i for i in self.held if i.startswith(str(prefix))):
                answers[ref_id] = 0
                self.held.discard(ref_id)
        return answers


def _run(agent: RecordingAgent, *calls: tuple[str, Any]) -> list[dict[str, int]]:
    """Submit ``calls`` together while the writer is held up by a first one, then let it go."""

    async def main() -> list[dict[str, int]]:
        writer = WriteBatcher(agent)  # type: ignore[arg-type]
        agent.gate.clear()
        first = asyncio.ensure_future(writer.acquire({"first": {}}))
        await asyncio.sleep(0.05)  # the writer thread is inside the first call now
        tasks = []
        for kind, args in calls:
            if kind == "acquire":
                tasks.append(asyncio.ensure_future(writer.acquire(args)))
            else:
                tasks.append(asyncio.ensure_future(writer.release(*args)))
        await asyncio.sleep(0.05)
        agent.gate.set()
        await first
        return list(await asyncio.gather(*tasks))

    return asyncio.run(main())


def test_concurrent_acquires_share_one_call_and_each_gets_its_own_answers() -> None:
    agent = RecordingAgent()
    answers = _run(agent, ("acquire", {"a": {}}), ("acquire", {"b": {}, "c": {}}), ("acquire", {"d": {}}))
    assert answers == [{"a": 0}, {"b": 0, "c": 0}, {"d": 0}]
    assert agent.calls[1:] == [("acquire", ["a", "b", "c", "d"])]


def test_calls_naming_the_same_id_run_apart_and_in_order() -> None:
    agent = RecordingAgent()
    answers = _run(agent, ("acquire", {"a": {}}), ("release", (["a"], [])), ("release", (["a"], [])))
    assert answers == [{"a": 0}, {"a": 0}, {"a": 479}]
    assert [kind for kind, _ in agent.calls[1:]] == ["acquire", "release", "release"]


def test_a_release_by_prefix_runs_alone() -> None:
    agent = RecordingAgent()
    agent.held |= {"flow:1", "flow:2", "x"}
    answers = _run(agent, ("release", (["x"], [])), ("release", ([], ["flow:"])))
    assert answers == [{"x": 0}, {"flow:1": 0, "flow:2": 0}]
    assert agent.calls[1:] == [("release", ["x"]), ("release", ["prefix flow:"])]


def test_a_surprise_reaches_every_caller_of_the_merged_call() -> None:
    agent = RecordingAgent()
    agent.fail = True

    async def main() -> list[BaseException | dict[str, int]]:
        writer = WriteBatcher(agent)  # type: ignore[arg-type]
        return list(await asyncio.gather(writer.acquire({"a": {}}), writer.acquire({"b": {}}), return_exceptions=True))

    results = asyncio.run(main())
    assert all(isinstance(result, RuntimeError) for result in results)


def test_non_string_release_entries_are_answered_under_their_json_text() -> None:
    agent = RecordingAgent()
    answers = _run(agent, ("release", ([1], [])), ("release", (["y"], [])))
    assert answers == [{"1": 479}, {"y": 479}]


@pytest.mark.parametrize("count", [1, 50])
def test_many_clients_all_answered(count: int) -> None:
    agent = RecordingAgent()
    answers = _run(agent, *[("acquire", {f"r{n}": {}}) for n in range(count)])
    assert answers == [{f"r{n}": 0} for n in range(count)]
