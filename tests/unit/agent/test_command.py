"""command.run: what a child inherits from the agent."""

from __future__ import annotations

import pytest

from storconn.agent.system.command import run


def test_a_child_does_not_inherit_the_agents_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STORCONN_ADMIN_PASSWORD", "admin-secret-77")
    monkeypatch.setenv("LIBISCSI_CHAP_PASSWORD", "stale-chap-88")
    monkeypatch.setenv("LANG", "de_DE.UTF-8")
    result = run(["env"], timeout=5)
    seen = dict(line.split("=", 1) for line in result.stdout.splitlines() if "=" in line)
    assert "admin-secret-77" not in result.stdout and "stale-chap-88" not in result.stdout
    assert seen["LC_ALL"] == "C"  # the tools' messages stay in the English they are parsed in
    assert seen["PATH"]


def test_variables_given_for_one_command_reach_it(monkeypatch: pytest.MonkeyPatch) -> None:
    result = run(["env"], timeout=5, env={"LIBISCSI_CHAP_USERNAME": "alice"})
    assert "LIBISCSI_CHAP_USERNAME=alice" in result.stdout.splitlines()
