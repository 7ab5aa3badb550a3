"""The batch's summary: one row per take, as a table for the terminal and as
``batch_summary.csv`` and ``batch_summary.json`` (written atomically)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from exporters.atomic import atomic_output

COLUMNS = ("take", "status", "frames", "people", "reprojection_px", "joint_error_mm",
           "seconds", "message")
FILES = ("batch_summary.csv", "batch_summary.json")
_HEADERS = ("take", "status", "frames", "people", "reproj. px", "joint err. mm", "time s",
            "message")


def summary_row(take: Path, result: dict[str, Any]) -> dict[str, Any]:
    """A worker's result (or a failure) as a row of :data:`COLUMNS` (None where unknown)."""
    row = {column: result.get(column) for column in COLUMNS}
    row["take"] = str(take)
    row["message"] = result.get("message") or result.get("error") or ""
    return row


def format_table(rows: Sequence[dict[str, Any]]) -> str:
    """The rows as an aligned text table, then a count line."""
    cells = [list(_HEADERS)] + [[_cell(row[c]) for c in COLUMNS] for row in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(COLUMNS) - 1)]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(line, widths)) + "  " + line[-1]
             for line in cells]
    counts = {s: sum(row["status"] == s for row in rows) for s in ("ok", "skipped", "failed")}
    lines.append(f"{len(rows)} takes: {counts['ok']} ok, {counts['skipped']} skipped (up to "
                 f"date), {counts['failed']} failed")
    return "\n".join(line.rstrip() for line in lines)


def write_summary(rows: Sequence[dict[str, Any]], folder: Path) -> list[Path]:
    """``folder/batch_summary.csv`` and ``.json`` (atomically); returns their paths."""
    csv_path, json_path = (folder / name for name in FILES)
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows({c: "" if row[c] is None else row[c] for c in COLUMNS} for row in rows)
    with atomic_output(csv_path) as tmp:
        tmp.write_text(text.getvalue(), encoding="utf-8")
    with atomic_output(json_path) as tmp:
        tmp.write_text(json.dumps({"takes": list(rows)}, indent=1), encoding="utf-8")
    return [csv_path, json_path]


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value).replace("\n", " ")
