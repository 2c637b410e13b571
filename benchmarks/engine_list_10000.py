"""engine_list_10000: ``GET /ovirt-engine/api/storageconnections`` with 10,000 connections, XML and JSON.

The engine runs as its own process (``storconn engine serve``), once on
SQLite in its state directory and once on a PostgreSQL on loopback. The
10,000 NFS connections go in through the engine's repository in one
transaction (``rules.checked_connection`` + ``Repository.save_connection``,
what ``Engine.add_connection`` stores; see ``engine_process``), while the
engine is already up and idle.

The figures are the medians of GETs over HTTP (a bearer token from the SSO
endpoint, the whole body read) against the issue's budgets: 300 ms for XML,
150 ms for JSON. The notes put them next to the database work alone, timed
in the same rounds in the benchmark process: ``Engine.list_connections()``
on the same database (query and entities), and the raw ``SELECT`` of the
rows. The RSS row is the engine's peak resident memory (VmHWM) after
serving all these lists, against 250 MB.
"""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import text

from storconn.engine.db import Database
from storconn.engine.service import Engine

from .engine_process import ADMIN, JSON, XML, EngineProcess, databases, engine, insert_connections, postgres, status_kib
from .report import Row
from .timing import interleave
from .workspace import Workspace

NAME = "engine_list_10000"
DESCRIPTION = "GET /storageconnections of 10,000 over HTTP (XML, JSON; SQLite, PostgreSQL) vs fixed budgets"
COUNT = 10_000
ROUNDS = 7
WARMUP = 1
BUDGET_MS = {"XML": 300.0, "JSON": 150.0}
RSS_BUDGET_MB = 250.0
RAW_SELECT = "SELECT * FROM storage_connections ORDER BY created_at, id"


def run(work: Workspace) -> list[Row]:
    rows: list[Row] = []
    with postgres() as server:
        for label, url, skipped in databases(server):
            if skipped:
                rows += _skipped(label, skipped)
                continue
            with engine(work, label.lower(), url) as process:
                rows += _measure(process, label)
    return rows


def _measure(process: EngineProcess, label: str) -> list[Row]:
    inserted = insert_connections(process.db, process.key_file, COUNT)
    rss_idle = status_kib(process.pid, "VmRSS")
    local = Engine(process.db, key_file=process.key_file, admin_password=ADMIN[1], sync_on_start=False)
    raw = Database(process.db)
    sizes: dict[str, int] = {}
    try:
        with process.client() as client:

            def get(kind: str, headers: dict[str, str]) -> Any:
                def call(n: int) -> None:
                    answer = client.get("/storageconnections", headers=headers)
                    if answer.status_code != 200:
                        raise RuntimeError(f"GET {kind}: HTTP {answer.status_code}: {answer.text[:300]}")
                    sizes[kind] = len(answer.content)

                return call

            def in_process(n: int) -> None:
                found = local.list_connections()
                if len(found) != COUNT:
                    raise RuntimeError(f"list_connections gave {len(found)}, not {COUNT}")

            def raw_select(n: int) -> None:
                with raw.transaction(write=False) as session:
                    session.execute(text(RAW_SELECT)).fetchall()

            samples = interleave(
                ROUNDS,
                {"XML": get("XML", XML), "JSON": get("JSON", JSON), "list": in_process, "select": raw_select},
                warmup=WARMUP,
            )
    except httpx.HTTPError as exc:
        raise RuntimeError(f"the engine on {label} failed: {exc}") from exc
    finally:
        local.close()
        raw.close()
    rss_after = status_kib(process.pid, "VmRSS")
    peak = status_kib(process.pid, "VmHWM")

    ms = 1000.0
    listed, select = samples["list"], samples["select"]
    rows = []
    for kind in ("XML", "JSON"):
        got = samples[kind]
        rows.append(
            Row(
                f"{NAME} ({kind}, {label})",
                got.median * ms,
                BUDGET_MS[kind],
                "ms",
                target=1.0,
                note=(
                    f"GET of {COUNT:,} ({sizes[kind] / 1e6:.1f} MB) over HTTP, median of {ROUNDS} "
                    f"(max {max(got.values) * ms:.0f} ms); {got.median / listed.median:.1f}× the in-process "
                    f"Engine.list_connections() ({listed.median * ms:.0f} ms), "
                    f"{got.median / select.median:.0f}× the raw SELECT ({select.median * ms:.0f} ms)"
                ),
            )
        )
    rows.append(
        Row(
            f"{NAME} (RSS, {label})",
            peak * 1024 / 1e6,
            RSS_BUDGET_MB,
            "MB",
            target=1.0,
            note=(
                f"engine process's VmHWM after {2 * (ROUNDS + WARMUP)} lists; VmRSS "
                f"{rss_idle * 1024 / 1e6:.0f} MB before the first, {rss_after * 1024 / 1e6:.0f} MB after the last; "
                f"the {COUNT:,} rows went in through the repository in {inserted:.1f} s"
            ),
        )
    )
    return rows


def _skipped(label: str, reason: str) -> list[Row]:
    return [
        Row(f"{NAME} (XML, {label})", None, None, "ms", target=1.0, skipped=reason),
        Row(f"{NAME} (JSON, {label})", None, None, "ms", target=1.0, skipped=reason),
        Row(f"{NAME} (RSS, {label})", None, None, "MB", target=1.0, skipped=reason),
    ]
