"""One table of our lobes across precisions and runtimes, from several
suite runs of one machine (``python -m bench.suite --combine CSV ...``).

Each CSV is one run of the suite (`bench.suite.report.write_outputs`):
torch fp32, torch bf16 (or fp16), ONNX Runtime (``--runtime onnx``). For
every lobe (source ``ours``) at every length present, the table gives, per
run, the time and its ratio against upstream RE-SepFormer and SkiM
(`RATIO_REFERENCES`) measured in that same run (the same CSV), and the
share of the matrix-product peak of the precision the point ran in. A
second table gives the upstream models' own times per run. The header
names the CPU (every CSV must come from the same one) and each run's
peaks. Writes ``NAME.md`` and ``NAME.csv`` (default name
`COMBINED_NAME`) into ``--out``, each whole or not at all.

Example::

    python -m bench.suite --combine bench/results/suite_custom.csv \\
        bench/results/suite_custom_bf16.csv \\
        bench/results/suite_custom_onnx.csv
"""

from __future__ import annotations

import csv
from pathlib import Path

from bench.suite.models import MODELS
from bench.tables import markdown_table, write_csv
from lobes.errors import CommandError
from lobes.files import write_text

COMBINED_NAME = "suite_precisions"
RATIO_REFERENCES = ("sb-resepformer", "sb-skim")
RUNS = ("fp32", "bf16", "fp16", "onnx")  # column order
RUN_LABELS = {"fp32": "fp32", "bf16": "bf16", "fp16": "fp16", "onnx": "ONNX"}
NEEDED = ("model", "seconds", "status", "time_s", "dtype", "machine")
NUMBERS = ("seconds", "time_s", "peak_fraction")
AGAIN = "give CSVs written by python -m bench.suite"


def read_run(path: str | Path) -> dict:
    """One suite CSV as a run: its kind and its rows.

    Arguments
    ---------
    path : str or Path
        A CSV of ``python -m bench.suite``.

    Returns
    -------
    dict
        ``path``, ``run`` (``fp32``, ``bf16``, ``fp16`` or ``onnx``: a
        key of `RUNS`), ``rows`` (numbers parsed), ``cpu`` (the machine
        summary's first field) and ``machine`` (the whole summary).

    Raises
    ------
    CommandError
        A missing file, or one that is not a suite CSV of one precision.
    """
    path = Path(path)
    try:
        with open(path, newline="") as f:
            rows = list(csv.DictReader(f))
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        message = f"{path}: cannot be read ({error}): {AGAIN}."
        raise CommandError(message) from None
    missing = [c for c in NEEDED if not rows or c not in rows[0]]
    if missing:
        raise CommandError(
            f"{path}: not a suite CSV (no rows, or no "
            f"{', '.join(missing)} column): {AGAIN}."
        )
    for row in rows:
        for key in NUMBERS:
            text = row.get(key) or ""
            row[key] = float(text) if text else None
    precisions = sorted({row["dtype"] for row in rows})
    if len(precisions) != 1 or precisions[0] not in RUNS:
        raise CommandError(
            f"{path}: rows of precision {', '.join(precisions)}; a suite "
            f"run has one of {', '.join(RUNS[:3])}: {AGAIN}."
        )
    onnx = any(row.get("runtime") == "onnx" for row in rows)
    summary = rows[0]["machine"]
    return dict(
        path=path,
        run="onnx" if onnx else precisions[0],
        rows=rows,
        cpu=summary.split("; ")[0],
        machine=summary,
    )


def read_runs(paths: list[str | Path]) -> dict[str, dict]:
    """The runs of ``paths`` by kind (`read_run`), in `RUNS` order.

    Raises
    ------
    CommandError
        Two runs of one kind, or runs of different machines.
    """
    runs: dict[str, dict] = {}
    for path in paths:
        run = read_run(path)
        other = runs.get(run["run"])
        if other is not None:
            raise CommandError(
                f"{other['path']} and {run['path']} are both "
                f"{RUN_LABELS[run['run']]} runs: give one CSV per "
                "precision and runtime."
            )
        first = next(iter(runs.values()), None)
        if first is not None and first["cpu"] != run["cpu"]:
            raise CommandError(
                f"{run['path']} was measured on {run['cpu']}, "
                f"{first['path']} on {first['cpu']}: combine runs of one "
                "machine."
            )
        runs[run["run"]] = run
    return {key: runs[key] for key in RUNS if key in runs}


def point(run: dict, model: str, seconds: float) -> dict:
    """One model at one length in one run: ``time_s``, ``vs_REF`` for
    each of `RATIO_REFERENCES` (time / the reference's time in the same
    run), ``peak_fraction`` and ``status`` (empty: not in the run).

    Example
    -------
    >>> rows = [
    ...     dict(model=m, seconds=4.0, status="ok", time_s=t,
    ...          peak_fraction=0.5)
    ...     for m, t in (("resepformer", 1.0), ("sb-resepformer", 4.0))
    ... ]
    >>> got = point({"rows": rows}, "resepformer", 4.0)
    >>> got["time_s"], got["vs_sb-resepformer"], got["vs_sb-skim"]
    (1.0, 0.25, None)
    """
    by = {(r["model"], r["seconds"]): r for r in run["rows"]}
    row = by.get((model, seconds))
    entry = dict(status="", time_s=None, peak_fraction=None)
    entry.update({f"vs_{ref}": None for ref in RATIO_REFERENCES})
    if row is None:
        return entry
    entry["status"] = row["status"]
    if row["status"] != "ok" or row["time_s"] is None:
        return entry
    entry["time_s"], entry["peak_fraction"] = (
        row["time_s"],
        row["peak_fraction"],
    )
    for ref in RATIO_REFERENCES:
        other = by.get((ref, seconds))
        if ref != model and other is not None and other["time_s"]:
            entry[f"vs_{ref}"] = row["time_s"] / other["time_s"]
    return entry


def combined_rows(runs: dict[str, dict]) -> list[dict]:
    """One row per model and length present: per run ``RUN_time_s``,
    ``RUN_vs_REF``, ``RUN_peak_fraction`` and ``RUN_status``; our lobes
    first, then the references, in `bench.suite.models.MODELS` order."""
    present = {
        (r["model"], r["seconds"])
        for run in runs.values()
        for r in run["rows"]
        if r["model"] in MODELS
    }
    ours = [m for m in MODELS if MODELS[m].source == "ours"]
    order = ours + [m for m in RATIO_REFERENCES if m not in ours]
    table = []
    for model in order:
        for seconds in sorted(s for m, s in present if m == model):
            row = dict(
                model=model,
                label=MODELS[model].label,
                source=MODELS[model].source,
                seconds=seconds,
            )
            for key, run in runs.items():
                for name, value in point(run, model, seconds).items():
                    row[f"{key}_{name}"] = value
            table.append(row)
    return table


def cell(row: dict, run: str) -> str:
    """A Markdown cell: ``time (vs RE-SepFormer, vs SkiM; peak share)``,
    or the status of a point not measured.

    Example
    -------
    >>> row = {"x_status": "ok", "x_time_s": 1.234, "x_peak_fraction": 0.5,
    ...        "x_vs_sb-resepformer": 0.4, "x_vs_sb-skim": 1.25}
    >>> cell(row, "x")
    '1.23 (0.40, 1.25; 50%)'
    """
    time_s = row.get(f"{run}_time_s")
    if time_s is None:
        return row.get(f"{run}_status") or ""
    ratios = [row.get(f"{run}_vs_{ref}") for ref in RATIO_REFERENCES]
    text = ", ".join("-" if r is None else f"{r:.2f}" for r in ratios)
    share = row.get(f"{run}_peak_fraction")
    if share is not None:
        text += f"; {100 * share:.0f}%"
    if all(r is None for r in ratios) and share is None:
        return f"{time_s:.3g}"
    return f"{time_s:.3g} ({text})"


def run_line(key: str, run: dict) -> str:
    """The header line of one run: its file, date, threads and peaks."""
    first = run["rows"][0]
    peaks = ", ".join(
        f"{precision} {float(first[f'peak_gflops_{precision}']):.0f}"
        for precision in RUNS
        if first.get(f"peak_gflops_{precision}")
    )
    what = {
        "onnx": "our lobes under ONNX Runtime (fp32), upstream in torch fp32",
        "fp32": "torch fp32",
    }.get(key, f"torch, {key} autocast")
    date = run["machine"].split("; ")[-1]
    return (
        f"- **{RUN_LABELS[key]}**: `{run['path'].name}`, {what}; {date}; "
        f"{first.get('threads', '?')} threads; matrix-product peaks "
        f"(GFLOP/s): {peaks or 'not recorded'}"
    )


def combined_markdown(
    runs: dict[str, dict], rows: list[dict], name: str
) -> str:
    """The Markdown of the combined table (header, lobes, references)."""
    labels = {key: RUN_LABELS[key] for key in runs}
    refs = ", ".join(f"/ {MODELS[r].label}" for r in RATIO_REFERENCES)

    def table(source_ours: bool) -> str:
        return markdown_table(
            [
                {
                    "model": row["label"],
                    "length": f"{row['seconds']:g} s",
                    **{labels[k]: cell(row, k) for k in runs},
                }
                for row in rows
                if (row["source"] == "ours") == source_ours
            ]
        )

    first = next(iter(runs.values()))
    machine = "; ".join(first["machine"].split("; ")[:-1])
    lines = [
        f"# Our lobes in {', '.join(labels.values())}: `{name}`",
        "",
        f"- **Machine:** {machine}",
        "- **Runs** (one suite CSV each; every ratio within one run):",
        *(f"  {run_line(key, run)}" for key, run in runs.items()),
        f"- **A cell:** inference time in s ({refs}: the time over "
        "upstream's at the same length in the same run, below 1: faster; "
        "share of the matrix-product peak of the precision it ran in, "
        "fp32 for ONNX).",
        "",
        "## Our lobes",
        "",
        table(True),
        "",
        "## Upstream, in each run",
        "",
        "In torch in every run (in the ONNX run: fp32).",
        "",
        table(False),
        "",
    ]
    return "\n".join(lines)


def write_combined(
    paths: list[str | Path], out: str | Path, name: str = COMBINED_NAME
) -> dict[str, Path]:
    """Writes the combined table of suite CSVs as ``out/NAME.md`` and
    ``out/NAME.csv``.

    Arguments
    ---------
    paths : list of str or Path
        Suite CSVs of one machine, one per precision and runtime.
    out : str or Path
        The folder written to.
    name : str
        The files' stem.

    Returns
    -------
    dict
        ``csv`` and ``md``: the files written.

    Raises
    ------
    CommandError
        Bad CSVs (`read_runs`), or an output that is one of them.
    """
    out = Path(out)
    targets = {kind: out / f"{name}.{kind}" for kind in ("csv", "md")}
    inputs = {Path(p).resolve() for p in paths}
    for target in targets.values():
        if target.resolve() in inputs:
            raise CommandError(
                f"{target} is one of the CSVs combined: choose another "
                "--name or --out."
            )
    runs = read_runs(paths)
    rows = combined_rows(runs)
    return {
        "csv": write_csv(rows, targets["csv"]),
        "md": write_text(targets["md"], combined_markdown(runs, rows, name)),
    }
