"""engine_list_10000: ``GET /ovirt-engine/api/storageconnections`` with 10,000 connections, XML and JSON.

The engine runs as its own process (``storconn engine serve``), once on
SQLite in its state directory and once on a PostgreSQL on loopback. The
10,000 NFS connections go in through the engine's repository in one
transaction (``rules.checked_connection`` + ``Repository.save_connection``,
what ``Engine.add_connection`` stores; see ``engine_process``), while the
engine is already up and idle.

The figures are the medians of GETs over HTTP (a bearer token from the SSO
endpoint, the whole body read). The limit is what no implementation can
skip, measured interleaved with them in the same rounds, in the benchmark
process: the raw SELECT of the same 10,000 rows (SQLAlchemy Core
``select`` of the connections table in the listing's order, ``fetchall``)
plus one ``json.dumps`` of an answer of the same size (the JSON answer's
own list of 10,000 dicts). Targets: 2× for JSON, 3× for XML. The notes
split the limit and give ``Engine.list_connections()`` in the benchmark
process (query and entities) for where the time goes. The RSS row is the
engine's peak resident memory (VmHWM) after serving all these lists,
against 250 MB.
"""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
from sqlalchemy import select

from storconn.engine.db import Database
from storconn.engine.db.schema import ConnectionRow
from storconn.engine.service import Engine

from .engine_process import ADMIN, JSON, XML, EngineProcess, databases, engine, insert_connections, postgres, status_kib
from .report import Row
from .timing import Samples, interleave
from .workspace import Workspace

NAME = "engine_list_10000"
DESCRIPTION = "GET /storageconnections of 10,000 over HTTP (XML, JSON; SQLite, PostgreSQL) vs raw SELECT + json.dumps"
COUNT = 10_000
ROUNDS = 9
WARMUP = 1
TARGET = {"XML": 3.0, "JSON": 2.0}
RSS_BUDGET_MB = 250.0


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
    table = ConnectionRow.__table__
    raw_select = select(table).order_by(table.c.created_at, table.c.id)
    sizes: dict[str, int] = {}
    parts = {"select": Samples(), "dumps": Samples()}
    try:
        with process.client() as client:

            def get(kind: str, headers: dict[str, str]) -> Any:
                def call(n: int) -> None:
                    answer = client.get("/storageconnections", headers=headers)
                    if answer.status_code != 200:
                        raise RuntimeError(f"GET {kind}: HTTP {answer.status_code}: {answer.text[:300]}")
                    sizes[kind] = len(answer.content)

                return call

            # An answer of the same size and shape: the engine's own JSON answer, as dicts.
            shaped = client.get("/storageconnections", headers=JSON).json()["storage_connection"]
            if len(shaped) != COUNT:
                raise RuntimeError(f"the engine listed {len(shaped)}, not {COUNT}")

            def floor(n: int) -> None:
                started = time.perf_counter()
                with raw.transaction(write=False) as session:
                    fetched = session.connection().execute(raw_select).fetchall()
                selected = time.perf_counter()
                json.dumps(shaped, ensure_ascii=False)
                if n >= 0:
                    parts["select"].add(selected - started)
                    parts["dumps"].add(time.perf_counter() - selected)
                if len(fetched) != COUNT:
                    raise RuntimeError(f"the raw SELECT gave {len(fetched)}, not {COUNT}")

            def in_process(n: int) -> None:
                found = local.list_connections()
                if len(found) != COUNT:
                    raise RuntimeError(f"list_connections gave {len(found)}, not {COUNT}")

            samples = interleave(
                ROUNDS,
                {"XML": get("XML", XML), "JSON": get("JSON", JSON), "floor": floor, "list": in_process},
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
    limit, listed = samples["floor"], samples["list"]
    rows = []
    for kind in ("XML", "JSON"):
        got = samples[kind]
        rows.append(
            Row(
                f"{NAME} ({kind}, {label})",
                got.median * ms,
                limit.median * ms,
                "ms",
                target=TARGET[kind],
                note=(
                    f"GET of {COUNT:,} ({sizes[kind] / 1e6:.1f} MB) over HTTP, median of {ROUNDS} "
                    f"(max {max(got.values) * ms:.0f} ms) vs raw SELECT of the rows "
                    f"{parts['select'].median * ms:.0f} ms + json.dumps of the answer "
                    f"{parts['dumps'].median * ms:.0f} ms, interleaved; in-process "
                    f"Engine.list_connections() {listed.median * ms:.0f} ms"
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
                f"engine process's VmHWM after {2 * (ROUNDS + WARMUP) + 1} lists; VmRSS "
                f"{rss_idle * 1024 / 1e6:.0f} MB before the first, {rss_after * 1024 / 1e6:.0f} MB after the last; "
                f"the {COUNT:,} rows went in through the repository in {inserted:.1f} s"
            ),
        )
    )
    return rows


def _skipped(label: str, reason: str) -> list[Row]:
    return [
        Row(f"{NAME} (XML, {label})", None, None, "ms", target=TARGET["XML"], skipped=reason),
        Row(f"{NAME} (JSON, {label})", None, None, "ms", target=TARGET["JSON"], skipped=reason),
        Row(f"{NAME} (RSS, {label})", None, None, "MB", target=1.0, skipped=reason),
    ]
