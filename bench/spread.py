"""The spread over seeds of a benchmark trained once per seed
(`bench.quality`): per run, the mean of each score and half its range,
from the rows of one run and seed each, and their Markdown table."""

import statistics
from collections.abc import Sequence

from bench.tables import format_value, markdown_table


def summarize(
    rows: list[dict], scores: Sequence[str], listed: Sequence[str] = ()
) -> list[dict]:
    """One row per run (key ``name``), in order of first appearance.

    Each holds the run's columns that do not vary with the seed (those of
    its first row), ``seeds`` and each column of ``listed`` as the values
    of its rows joined by ", ", and for each of ``scores`` the mean over
    the seeds (key: the score; None without values) and half their range
    (key: the score and `` ±``; None with fewer than two values).

    Arguments
    ---------
    rows : list of dict
        One per run and seed: ``name``, ``seed``, the scores and more (a
        score None or ``""``, as a CSV reader gives an empty cell: no
        value).
    scores : sequence of str
        The columns to average.
    listed : sequence of str
        Columns to list per seed (e.g. the tested epoch).

    Returns
    -------
    list of dict

    Example
    -------
    >>> rows = [
    ...     {"name": "a", "seed": 1, "epoch": 7, "x": 2.0, "y": None},
    ...     {"name": "a", "seed": 2, "epoch": 8, "x": 3.0, "y": None},
    ...     {"name": "b", "seed": 1, "epoch": 5, "x": 1.0, "y": 4.0},
    ... ]
    >>> a, b = summarize(rows, ["x", "y"], ["epoch"])
    >>> a["seeds"], a["epoch"], a["x"], a["x ±"], a["y"], a["y ±"]
    ('1, 2', '7, 8', 2.5, 0.5, None, None)
    >>> b["seeds"], b["x"], b["x ±"], b["y"]
    ('1', 1.0, None, 4.0)
    """
    runs: dict[str, list[dict]] = {}
    for row in rows:
        runs.setdefault(row["name"], []).append(row)
    summary = []
    for seeds in runs.values():
        varying = {"seed", *listed, *scores}
        run = {k: v for k, v in seeds[0].items() if k not in varying}
        for column in ("seed", *listed):
            key = "seeds" if column == "seed" else column
            run[key] = ", ".join(str(r.get(column, "")) for r in seeds)
        for score in scores:
            values = [
                float(r[score]) for r in seeds if r.get(score) not in (None, "")
            ]
            run[score] = statistics.fmean(values) if values else None
            run[f"{score} ±"] = (
                (max(values) - min(values)) / 2 if len(values) > 1 else None
            )
        summary.append(run)
    return summary


def spread_table(
    summary: list[dict], columns: Sequence[str], scores: Sequence[str]
) -> str:
    """The Markdown table of `summarize`'s rows, each score as ``mean ±
    half range`` (the mean alone for one seed).

    Arguments
    ---------
    summary : list of dict
        `summarize`'s rows.
    columns : sequence of str
        The table's columns, in order, scores included.
    scores : sequence of str
        The scores of `summarize`.

    Returns
    -------
    str

    Example
    -------
    >>> rows = [{"name": "a", "seed": s, "x": x} for s, x in ((1, 2), (2, 3))]
    >>> summary = summarize(rows, ["x"])
    >>> print(spread_table(summary, ["name", "seeds", "x"], ["x"]))
    | name | seeds | x |
    |:---|:---|:---|
    | a | 1, 2 | 2.5 ± 0.5 |
    """
    cells = []
    for row in summary:
        cell = dict(row)
        for score in scores:
            half = row.get(f"{score} ±")
            if half is not None:
                cell[score] = f"{format_value(row[score])} ± {half:.2g}"
        cells.append(cell)
    return markdown_table(cells, columns)
