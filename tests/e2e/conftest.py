"""The web admin in a real browser: Debian's chromium driven by Playwright (pytest-playwright).

Playwright's own browser download is not reachable here, so the system
chromium is launched by ``executable_path``; without it the tests skip and
say why. Screenshots go to ``STORCONN_ARTIFACTS`` (default
``test-artifacts/web``) so that a CI run keeps them.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from storconn.engine.api import create_app
from storconn.engine.service import Engine
from storconn.engine.web import create_web_app
from tests.integration.engine.conftest import open_engine
from tests.unit.engine_api.server import serve

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
AXE = Path(__file__).parent / "vendor" / "axe-4.14.1.min.js"
ARTIFACTS = Path(os.environ.get("STORCONN_ARTIFACTS", "test-artifacts/web"))


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    if not os.path.exists(CHROMIUM):
        pytest.skip("needs Debian's chromium (scripts/install-test-deps installs it)")
    # --no-sandbox: the tests run as root, where chromium's sandbox refuses to start.
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": ["--no-sandbox"]}


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    real = open_engine(tmp_path / "engine")
    yield real
    real.close()


@pytest.fixture
def site(engine: Engine) -> Iterator[str]:
    web = create_web_app(engine, session_key=engine.web_session_key())
    with serve(create_app(engine, web=web)) as root:
        yield root


def axe_violations(page: Any) -> list[dict[str, Any]]:
    """What axe-core finds on the page as it stands (WCAG 2 A and AA rules)."""
    page.add_script_tag(content=AXE.read_text())
    found = page.evaluate(
        "async () => (await axe.run(document, {runOnly: ['wcag2a', 'wcag2aa', 'best-practice']})).violations"
    )
    return [{"id": v["id"], "nodes": [n["target"] for n in v["nodes"]][:3]} for v in found]


def screenshot(page: Any, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def describe(violations: list[dict[str, Any]]) -> str:
    return json.dumps(violations, indent=1)
