"""What the benchmarks write: Markdown tables, CSV files, and the folder
the committed results live in (`RESULTS`, ``bench/results/``). Files are
written whole or not at all (`lobes.files.write_text`)."""

import csv
import io
from collections.abc import Sequence
from pathlib import Path

from lobes.files import write_text

RESULTS = Path(__file__).resolve().parent / "results"


def all_columns(
    rows: list[dict], columns: Sequence[str] | None = None
) -> list[str]:
    """``columns``, or else every key of rows in order of appearance."""
    return list(columns or dict.fromkeys(k for r in rows for k in r))


def format_value(value: object) -> str:
    """Compact text for a table cell.

    Example
    -------
    >>> format_value(0.123456), format_value(12345.6), format_value(None)
    ('0.123', '12346', '')
    """
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 1000 else f"{value:.0f}"
    return "" if value is None else str(value)


def markdown_table(
    rows: list[dict], columns: Sequence[str] | None = None
) -> str:
    """A Markdown table of rows (dicts) over columns (default: all keys).

    Columns of numbers are right-aligned, the others left-aligned.

    Arguments
    ---------
    rows : list of dict
        One dict per line; missing keys give empty cells.
    columns : sequence of str, optional
        Columns in order (default: every key, in order of appearance).

    Returns
    -------
    str

    Example
    -------
    >>> print(markdown_table([{"model": "a", "s": 1.5}, {"model": "b"}]))
    | model | s |
    |:---|---:|
    | a | 1.5 |
    | b |  |
    """
    columns = all_columns(rows, columns)
    cells = [[format_value(row.get(c)) for c in columns] for row in rows]

    def numeric(text: str) -> bool:
        try:
            float(text)
        except ValueError:
            return text == ""
        return True

    align = [
        "---:" if all(numeric(line[i]) for line in cells) else ":---"
        for i in range(len(columns))
    ]
    lines = ["| " + " | ".join(columns) + " |", "|" + "|".join(align) + "|"]
    lines += ["| " + " | ".join(line) + " |" for line in cells]
    return "\n".join(lines)


def write_csv(
    rows: list[dict], path: str | Path, columns: Sequence[str] | None = None
) -> Path:
    """Writes rows (dicts) to a CSV file, creating its folder.

    Arguments
    ---------
    rows : list of dict
        One dict per line; missing keys give empty cells.
    path : str or Path
        The file.
    columns : sequence of str, optional
        Columns in order (default: every key, in order of appearance).

    Returns
    -------
    Path
        The file written.
    """
    text = io.StringIO()
    writer = csv.DictWriter(
        text, fieldnames=all_columns(rows, columns), extrasaction="ignore"
    )
    writer.writeheader()
    writer.writerows(rows)
    return write_text(path, text.getvalue())
