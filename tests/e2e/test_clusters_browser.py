"""Clusters in the browser: add one, move a host in maintenance into it, and see it on the host's page."""

from __future__ import annotations

from typing import Any

import pytest

from storconn.engine.service import Engine
from tests.integration.engine.conftest import ADMIN
from tests.peers.agent import AgentProcess

from .conftest import axe_violations, describe, screenshot
from .test_storage_flow import _host, _log_in

pytestmark = pytest.mark.root


def test_a_new_cluster_takes_a_host_in_maintenance(
    page: Any, site: str, engine: Engine, agent_process: AgentProcess
) -> None:
    dc = engine.add_data_center("dc1")
    host_id = _host(engine, agent_process, dc.id)  # in dc1's Default cluster
    _log_in(page, site, ADMIN)

    page.get_by_role("link", name="Clusters").click()
    page.get_by_role("button", name="New cluster").click()
    page.get_by_label("Name").fill("rack2")
    page.get_by_label("Data center").select_option(label="dc1")
    page.get_by_label("Description").fill("the second rack")
    assert axe_violations(page) == [], describe(axe_violations(page))
    page.get_by_role("button", name="Add").click()
    page.get_by_text("Cluster rack2 added.").wait_for()
    [rack2] = [c for c in engine.list_clusters() if c.name == "rack2"]
    row = page.locator(f"#cluster-{rack2.id}")
    assert "dc1" in row.inner_text() and "none" in row.locator("td.hosts").inner_text()

    page.get_by_role("link", name="Hosts").click()
    page.get_by_role("link", name="host1").click()
    assert page.locator("#host-cluster").inner_text() == "Default"
    assert page.get_by_role("button", name="Move host1", exact=True).count() == 0  # Up: no move offered
    page.get_by_role("button", name="Maintenance host1").click()
    page.get_by_text("Host host1 moved to maintenance.").wait_for()
    page.get_by_label("Cluster", exact=True).select_option(label="rack2")
    assert axe_violations(page) == [], describe(axe_violations(page))
    screenshot(page, "host-move")
    page.get_by_role("button", name="Move host1", exact=True).click()
    page.get_by_text("Host host1 moved to cluster rack2.").wait_for()
    assert page.locator("#host-cluster").inner_text() == "rack2"
    assert engine.get_host(host_id).cluster_id == rack2.id

    page.locator("#host-cluster").click()
    row = page.locator(f"#cluster-{rack2.id}")
    row.wait_for()
    assert "host1 (maintenance)" in row.locator("td.hosts").inner_text()
    screenshot(page, "clusters")
