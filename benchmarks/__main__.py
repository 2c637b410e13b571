"""``python -m benchmarks [--only NAME] [--markdown FILE]``: run the suite, print one table.

Exit status: 0 when every benchmark ran, whatever its figures (speed is
reported, not asserted; a missed target shows as MISSED in the table), 1
when one crashed, 2 for bad arguments.
"""

from __future__ import annotations

import argparse
import signal
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from rich.console import Console
from rich.table import Table

from . import (
    acquire_batch_1000,
    acquire_one,
    api_latency_hung,
    engine_activate_50_hosts,
    engine_add_throughput,
    engine_list_10000,
    mount_200_tmpfs,
    outage_glusterfs,
    outage_sshfs,
    rpc_latency_under_waits,
    rpc_throughput,
    start_10000,
    statuses_10000_http,
    volumes_attach_block,
    volumes_cold_race,
    volumes_create_1000,
    volumes_glusterfs_100,
    volumes_iscsi_100,
    web_storage_1000,
)
from .machine import describe
from .report import Row, markdown_table, rich_table
from .workspace import Workspace

# docs/benchmarks.md keeps its prose around this block; --markdown replaces only what is between.
BEGIN = "<!-- benchmarks:begin (written by python -m benchmarks --markdown) -->"
END = "<!-- benchmarks:end -->"


@dataclass(frozen=True, slots=True)
class Benchmark:
    name: str
    description: str
    run: Callable[[Workspace], list[Row]]


# In the order of the issues: the cheap in-process ones first, the mounts last, then the outages
# against real servers (a few minutes each), then the engine's (issue 4), then the volumes' (issue 8).
BENCHMARKS = {
    module.NAME: Benchmark(module.NAME, module.DESCRIPTION, module.run)
    for module in (
        acquire_one, acquire_batch_1000, statuses_10000_http, rpc_latency_under_waits, rpc_throughput,
        start_10000, mount_200_tmpfs,
        outage_sshfs, outage_glusterfs, api_latency_hung,
        engine_list_10000, engine_add_throughput, engine_activate_50_hosts,
        volumes_create_1000, volumes_attach_block, volumes_iscsi_100, volumes_glusterfs_100,
        volumes_cold_race,
        web_storage_1000,
    )
}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--only", action="append", choices=sorted(BENCHMARKS), metavar="NAME",
        help=f"run only this benchmark (repeatable): {', '.join(BENCHMARKS)}",
    )
    parser.add_argument("--markdown", type=Path, metavar="FILE", help="also write the table as Markdown")
    parser.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    args = parser.parse_args(argv)
    # Piped (make bench | tee), Rich would assume 80 columns and fold every note.
    console = Console(width=None if sys.stdout.isatty() else 160)

    if args.list:
        for bench in BENCHMARKS.values():
            console.print(f"{bench.name}: {bench.description}", markup=False, highlight=False)
        return 0

    # SIGTERM unwinds like Ctrl-C, so the workspaces still unmount and stop their agents.
    signal.signal(signal.SIGTERM, _raise_interrupt)

    given = list(sys.argv[1:] if argv is None else argv)
    header = describe(Path(tempfile.gettempdir()))
    header.append(("command", " ".join([".venv/bin/python -m benchmarks", *given])))
    chosen = [BENCHMARKS[name] for name in (args.only or BENCHMARKS)]
    rows: list[Row] = []
    crashed = False
    for bench in chosen:
        console.print(f"[bold]{bench.name}[/]: {bench.description}", highlight=False)
        started = time.monotonic()
        try:
            with Workspace(bench.name) as work:
                result = bench.run(work)
        except Exception as exc:  # a crash is reported and fails the run, after the others ran
            crashed = True
            traceback.print_exc()
            result = [Row(bench.name, None, None, "", crashed=f"{type(exc).__name__}: {exc}")]
        for row in result:
            console.print(f"  {row.line()}", markup=False, highlight=False)
        console.print(f"  [dim]({time.monotonic() - started:.0f} s)[/]")
        rows.extend(result)

    console.print()
    console.print(_header_grid(header))
    console.print(rich_table(rows, title="storconn benchmarks: figure vs the limit measured in the same run"))
    if args.markdown:
        if args.only:
            merge_markdown(args.markdown, header, rows, [bench.name for bench in chosen])
        else:
            write_markdown(args.markdown, header, rows)
        console.print(f"Markdown written to {args.markdown}", highlight=False)
    return 1 if crashed else 0


def _header_grid(header: list[tuple[str, str]]) -> Table:
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column()
    for label, value in header:
        grid.add_row(label, value)
    return grid


def markdown_block(header: list[tuple[str, str]], rows: Sequence[Row]) -> str:
    machine = "\n".join(f"- **{label}**: {value}" for label, value in header)
    return f"{BEGIN}\n{machine}\n\n{markdown_table(rows)}{END}\n"


def write_markdown(path: Path, header: list[tuple[str, str]], rows: Sequence[Row]) -> None:
    """Replace the block between the markers in ``path``, or write a file holding only the block."""
    block = markdown_block(header, rows)
    text = path.read_text() if path.exists() else ""
    start, end = text.find(BEGIN), text.find(END)
    if start != -1 and end > start:
        text = text[:start] + block + text[end + len(END) :].lstrip("\n")
    else:
        text = "# storconn benchmarks\n\n" + block
    path.write_text(text)


def merge_markdown(
    path: Path, header: list[tuple[str, str]], rows: Sequence[Row], names: Sequence[str]
) -> None:
    """After ``--only``: put the new rows in place of those benchmarks' rows, keep every other row.

    The machine header stays the full run's; a line says which rows are newer and when.
    """
    text = path.read_text() if path.exists() else ""
    start, end = text.find(BEGIN), text.find(END)
    if start == -1 or end < start:
        write_markdown(path, header, rows)
        return
    block = text[start:end]
    lines = block.splitlines()
    table_at = next((i for i, line in enumerate(lines) if line.startswith("| Benchmark |")), None)
    if table_at is None:
        write_markdown(path, header, rows)
        return

    def is_rerun(line: str) -> bool:  # a row's first cell is its benchmark's name, then maybe more words
        first = line[2:].split(" | ", 1)[0]
        return any(first == name or first.startswith(f"{name} ") for name in names)

    when = dict(header).get("date", "")
    fresh = markdown_table(rows).splitlines()[2:]
    kept, placed = [], False
    for line in lines[table_at + 2 :]:
        if line.startswith("| ") and is_rerun(line):
            if not placed:
                kept.extend(fresh)
                placed = True
            continue
        kept.append(line)
    if not placed:
        kept.extend(fresh)
    preface = [line for line in lines[:table_at] if not line.startswith("- **newer rows**")]
    while preface and not preface[-1].strip():
        preface.pop()
    preface += [f"- **newer rows**: {', '.join(names)} at {when} (`--only`)", ""]
    merged = "\n".join(preface + lines[table_at : table_at + 2] + kept) + "\n"
    path.write_text(text[:start] + merged + text[end:])


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


if __name__ == "__main__":
    sys.exit(main())
