"""The rows benchmarks produce, and the table they end up in (Rich on the terminal, Markdown in docs).

A row is one figure against one limit measured in the same run; the ratio
figure / limit is what the target bounds. A target of None means the row is
reported for information (the issue sets no bound for it).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rich.table import Table


@dataclass(frozen=True, slots=True)
class Row:
    benchmark: str
    figure: float | None  # in ``unit``; None when skipped or crashed
    limit: float | None  # in the same unit, measured in the same run (or a fixed budget)
    unit: str
    target: float | None = None  # the highest acceptable figure / limit
    note: str = ""
    skipped: str | None = None  # the reason, when the benchmark could not run here
    crashed: str | None = None  # the exception, when it failed

    @property
    def ratio(self) -> float | None:
        if self.figure is None or not self.limit:
            return None
        return self.figure / self.limit

    @property
    def result(self) -> str:
        if self.crashed is not None:
            return "CRASHED"
        if self.skipped is not None:
            return "skipped"
        if self.target is None or self.ratio is None:
            return "info"
        return "ok" if self.ratio <= self.target else "MISSED"

    def cells(self) -> list[str]:
        ratio = self.ratio
        notes = self.crashed or self.skipped or self.note
        return [
            self.benchmark,
            _quantity(self.figure, self.unit),
            _quantity(self.limit, self.unit),
            "—" if ratio is None else f"{ratio:.2f}×",
            "—" if self.target is None else f"≤ {self.target:g}×",
            self.result,
            notes,
        ]

    def line(self) -> str:
        """One line for the progress log, printed as soon as the benchmark finishes."""
        name, figure, limit, ratio, target, result, notes = self.cells()
        return f"{name}: {figure} vs {limit} → {ratio} (target {target}) {result}  {notes}"


HEADERS = ["Benchmark", "Figure", "Limit", "Ratio", "Target", "Result", "Notes"]


def _quantity(value: float | None, unit: str) -> str:
    if value is None:
        return "—"
    # Three significant digits: the noise on this kind of machine is larger than that.
    text = f"{value:.3g}" if abs(value) < 1000 else f"{value:,.0f}"
    return f"{text} {unit}"


def rich_table(rows: Sequence[Row], *, title: str) -> Table:
    table = Table(title=title, title_justify="left", show_lines=False)
    for header in HEADERS:
        # Numbers never wrap; the notes take whatever width is left.
        if header == "Notes":
            table.add_column(header, ratio=1, min_width=30, overflow="fold")
        else:
            table.add_column(header, no_wrap=True)
    styles = {"ok": "green", "MISSED": "bold red", "CRASHED": "bold red", "skipped": "yellow"}
    for row in rows:
        cells = row.cells()
        style = styles.get(row.result)
        if style:
            cells[5] = f"[{style}]{cells[5]}[/]"
        table.add_row(*cells)
    return table


def markdown_table(rows: Sequence[Row]) -> str:
    def escape(cell: str) -> str:
        return cell.replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(HEADERS) + " |", "|" + "---|" * len(HEADERS)]
    lines += ["| " + " | ".join(escape(cell) for cell in row.cells()) + " |" for row in rows]
    return "\n".join(lines) + "\n"
