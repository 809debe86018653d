"""README.md's measured numbers are those of bench/results/*.csv.

Each README table that reports measurements is found by its section and
its first header cell, and every measured cell is compared with the CSV
row it reports, at the precision the README prints (``0.114 s`` must be
within 0.0005 of the CSV's time, ``113 s`` within 0.5). Rows are matched
by name both ways (a CSV row missing from the table fails too), and cells
that say "skipped" or "-" must be points the CSV did not measure. Figures
that are not measured here (the RE-SepFormer paper's, marked "paper")
are not compared. A second test changes each compared cell in a
temporary copy of the README and checks that the comparison then fails.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
RESULTS = ROOT / "bench" / "results"
# a minus sign belongs to a number unless it follows one (a range, 4-256)
NUMBER = re.compile(r"(?<![\d.])-?\d+(?:\.\d+)?")

# bench/results/separate_long.csv's model and mode for the README's names
LONG_MODELS = {
    "RE-SepFormer": "resepformer",
    "LatentSepFormer": "latent_xattn",
    "FlashFormer": "fsmn_flash",
}
LONG_MODES = {"one pass": "whole", "windows": "windowed", "stream": "stream"}


@dataclass
class Table:
    """A Markdown table: its header cells, its rows' cells, and for each
    row the README line it is on and each cell's span in that line."""

    header: list[str]
    rows: list[list[str]]
    lines: list[int]
    spans: list[list[tuple[int, int]]]


@dataclass
class Claim:
    """Number ``index`` of cell (``row``, ``col``) reports ``value``, read
    from ``source``."""

    row: int
    col: int
    index: int
    value: float
    source: str


def _cells(line: str) -> tuple[list[str], list[tuple[int, int]]]:
    bars = [i for i, char in enumerate(line) if char == "|"]
    spans = [(a + 1, b) for a, b in zip(bars, bars[1:], strict=False)]
    return [line[a:b].strip() for a, b in spans], spans


def find_table(text: str, section: str, first_cell: str) -> Table:
    """The one table under heading ``section`` (up to the next heading;
    fenced code skipped) whose first header cell is ``first_cell``."""
    lines = text.splitlines()
    heading, fenced, tables, current = None, False, [], None
    for number, line in enumerate(lines):
        stripped = line.strip()
        if stripped.startswith("```"):
            fenced = not fenced
        is_heading = not fenced and line.startswith("#")
        if is_heading:
            heading = line.lstrip("#").strip()
        if heading == section and not fenced and stripped.startswith("|"):
            if current is None:
                current = []
                tables.append(current)
            current.append(number)
        else:
            current = None
    found = []
    for numbers in tables:
        header, _ = _cells(lines[numbers[0]])
        if header and header[0] == first_cell:
            rows = [_cells(lines[n]) for n in numbers[2:]]
            found.append(
                Table(
                    header,
                    [cells for cells, _ in rows],
                    numbers[2:],
                    [spans for _, spans in rows],
                )
            )
    assert len(found) == 1, (
        f"README.md: {len(found)} tables under '{section}' with first "
        f"header cell '{first_cell}' (expected one; if the README was "
        "restructured, update tests/test_readme_numbers.py)"
    )
    return found[0]


@cache
def read_csv(name: str) -> tuple[dict[str, str], ...]:
    with open(RESULTS / name, newline="") as f:
        return tuple(csv.DictReader(f))


def suite_rows() -> dict[tuple[str, str, float], dict[str, str]]:
    """bench/results/suite.csv by (label, source, seconds): its ``model``
    column has the keys of before the registry names; labels are stable."""
    return {
        (r["label"], r["source"], float(r["seconds"])): r
        for r in read_csv("suite.csv")
    }


def column(table: Table, start: str) -> int:
    matches = [i for i, h in enumerate(table.header) if h.startswith(start)]
    assert len(matches) == 1, f"one column '{start}...' in {table.header}"
    return matches[0]


def fullmatch(pattern: str, cell: str, where: str) -> None:
    assert re.fullmatch(pattern, cell), f"{where}: unexpected cell '{cell}'"


def lobe_claims(table: Table) -> list[Claim]:
    """## The mask networks: params and GMACs/s (1 s) of our lobes."""
    suite = suite_rows()
    c_class, c_params = column(table, "class"), column(table, "params")
    c_gmacs = column(table, "GMACs")
    claims, seen = [], set()
    for r, row in enumerate(table.rows):
        label = row[c_class].strip("`").rsplit(".", 1)[-1]
        point = suite.get((label, "ours", 1.0))
        assert point, f"no suite.csv row for the lobe table's {label}"
        seen.add(label)
        fullmatch(r"[\d.]+ M", row[c_params], label)
        claims.append(
            Claim(r, c_params, 0, float(point["params_m"]), "params_m")
        )
        # beside the measured figure, only the paper's own may stand
        fullmatch(r"[\d.]+( \(paper: [\d.]+\))?", row[c_gmacs], label)
        claims.append(
            Claim(r, c_gmacs, 0, float(point["gmacs_per_s_1s"]), "GMACs/s 1 s")
        )
    ours = {label for label, source, _ in suite if source == "ours"}
    assert seen == ours, f"lobe table has {seen}, suite.csv {ours}"
    return claims


def table3_claims(table: Table) -> list[Claim]:
    """## Benchmarks, the paper's Table 3 reproduced: the "suite" row (the
    "paper" row holds the paper's published figures)."""
    suite = suite_rows()
    rows = {row[0]: r for r, row in enumerate(table.rows)}
    assert set(rows) == {"paper", "suite"}, f"Table 3 rows: {set(rows)}"
    claims = []
    for c, label in enumerate(table.header[1:], start=1):
        point = suite.get((label, "SpeechBrain", 1.0))
        assert point, f"no suite.csv row for Table 3's {label}"
        cell = table.rows[rows["suite"]][c]
        fullmatch(r"[\d.]+ M, [\d.]+", cell, label)
        claims.append(Claim(rows["suite"], c, 0, float(point["params_m"]), ""))
        claims.append(
            Claim(rows["suite"], c, 1, float(point["gmacs_per_s_1s"]), "")
        )
    return claims


def results_claims(table: Table) -> list[Claim]:
    """### Results: the full suite run, every model and length."""
    suite = suite_rows()
    c_params, c_gmacs = column(table, "params"), column(table, "GMACs")
    c_ratio, c_rss = column(table, "t("), column(table, "peak RSS")
    lengths = {
        c: float(m.group(1))
        for c, h in enumerate(table.header)
        if (m := re.fullmatch(r"(\d+) s", h))
    }
    num, den = (float(x) for x in NUMBER.findall(table.header[c_ratio]))
    rss_lengths = [float(x) for x in NUMBER.findall(table.header[c_rss])]
    claims, seen = [], set()
    for r, row in enumerate(table.rows):
        name = re.fullmatch(r"(.+) \((.+)\)", row[0])
        assert name, f"results row '{row[0]}': expected 'label (source)'"
        label, source = name.groups()
        seen.add((label, source))
        points = {s: suite.get((label, source, s)) for s in suite_lengths()}
        assert all(points.values()), f"suite.csv lacks points of {row[0]}"
        first = points[min(points)]
        claims.append(Claim(r, c_params, 0, float(first["params_m"]), ""))
        claims.append(Claim(r, c_gmacs, 0, float(first["gmacs_per_s_1s"]), ""))
        for c, seconds in lengths.items():
            point = points[seconds]
            if point["status"] == "ok":
                fullmatch(r"[\d.]+ s", row[c], f"{row[0]}, {seconds:g} s")
                claims.append(Claim(r, c, 0, float(point["time_s"]), "time_s"))
            else:
                fullmatch(
                    r"skipped \([\d.]+ GB predicted\)",
                    row[c],
                    f"{row[0]}, {seconds:g} s ({point['status']} in CSV)",
                )
                predicted = re.search(
                    r"predicted peak ([\d.]+) GB", point["reason"]
                )
                assert predicted, point["reason"]
                claims.append(
                    Claim(r, c, 0, float(predicted.group(1)), "reason")
                )
        ratio = float(points[num]["time_s"]) / float(points[den]["time_s"])
        claims.append(Claim(r, c_ratio, 0, ratio, "time_s ratio"))
        parts = row[c_rss].split("/")
        assert len(parts) == len(rss_lengths), f"{row[0]}: '{row[c_rss]}'"
        index = 0
        for part, seconds in zip(parts, rss_lengths, strict=True):
            if points[seconds]["status"] == "ok":
                fullmatch(r"[\d.]+( GB)?", part.strip(), f"{row[0]} RSS")
                value = float(points[seconds]["peak_mem_gb"])
                claims.append(Claim(r, c_rss, index, value, "peak_mem_gb"))
                index += 1
            else:
                assert part.strip() == "-", f"{row[0]}: {seconds:g} s not run"
    assert seen == {(k[0], k[1]) for k in suite}, "models of the results table"
    return claims


def suite_lengths() -> list[float]:
    return sorted({k[2] for k in suite_rows()})


def quality_claims(table: Table) -> list[Claim]:
    """### Quality at equal training budget: bench/results/quality.csv, one
    row per run and seed, summarised per model as bench.quality does (each
    score the mean over the seeds, ``± half range`` with several)."""
    from bench.quality import COLUMNS, SCORES
    from bench.spread import summarize

    rows = list(read_csv("quality.csv"))
    runs = {r["model"]: r for r in summarize(rows, SCORES, ["tested epoch"])}
    assert table.header == [*COLUMNS, *SCORES]
    claims = []
    for r, row in enumerate(table.rows):
        run = runs.get(row[0])
        assert run, f"quality.csv has no '{row[0]}'"
        for c, key in enumerate(table.header[1:], start=1):
            cell, where = row[c], f"{row[0]}, {key}"
            if key in SCORES:
                if run[key] is None:
                    assert cell == "", where
                    continue
                values = [run[key]]
                if run[f"{key} ±"] is not None:
                    values.append(run[f"{key} ±"])
                fullmatch(r"-?[\d.]+( ± [\d.]+)?", cell, where)
            else:  # one number, or one per seed ("1234, 7")
                values = [float(v) for v in str(run[key]).split(", ")]
                fullmatch(r"[\d.]+(, [\d.]+)*", cell, where)
            assert len(NUMBER.findall(cell)) == len(values), where
            for index, value in enumerate(values):
                claims.append(Claim(r, c, index, float(value), key))
    assert sorted(row[0] for row in table.rows) == sorted(runs)
    return claims


def long_claims(table: Table) -> list[Claim]:
    """The 10-minute recording: bench/results/separate_long.csv."""
    rows = {r["model"]: r for r in read_csv("separate_long.csv")}
    c_mode, c_time = column(table, "mode"), column(table, "time")
    c_speed, c_rss = column(table, "x real time"), column(table, "peak RSS")
    claims = []
    for r, row in enumerate(table.rows):
        point = rows.get(LONG_MODELS.get(row[0], ""))
        assert point, f"separate_long.csv has no row for '{row[0]}'"
        assert float(point["seconds"]) == 600, "a 10-minute recording"
        assert LONG_MODES.get(row[c_mode]) == point["mode"], row
        fullmatch(r"[\d.]+ s", row[c_time], row[0])
        fullmatch(r"[\d.]+", row[c_speed], row[0])
        fullmatch(r"[\d.]+ GB", row[c_rss], row[0])
        claims.append(Claim(r, c_time, 0, float(point["separate_s"]), ""))
        claims.append(Claim(r, c_speed, 0, float(point["x_realtime"]), ""))
        claims.append(Claim(r, c_rss, 0, float(point["peak_rss_gb"]), ""))
    assert len(table.rows) == len(rows), "every separate_long.csv row"
    return claims


# the fp32 / bf16 / ONNX table's columns: suite_precisions.csv's run names
PRECISION_RUNS = {"fp32": "fp32", "bf16": "bf16", "ONNX": "onnx"}
# the numbers of one of its cells, in order: time, the ratios against
# upstream RE-SepFormer and SkiM, then the share of the peak (in percent)
PRECISION_FIELDS = ("time_s", "vs_sb-resepformer", "vs_sb-skim")


def precision_claims(table: Table) -> list[Claim]:
    """Each cell of the fp32 / bf16 / ONNX table against the row of
    bench/results/suite_precisions.csv of its lobe and length."""
    rows = {
        (r["label"], float(r["seconds"])): r
        for r in read_csv("suite_precisions.csv")
        if r["source"] == "ours"
    }
    claims = []
    for r, row in enumerate(table.rows):
        point = rows.get((row[0], float(row[1].removesuffix(" s"))))
        assert point, f"suite_precisions.csv has no row for {row[:2]}"
        for c, column in enumerate(table.header):
            run = PRECISION_RUNS.get(column)
            if run is None:
                continue
            assert point[f"{run}_status"] == "ok", (row[:2], column)
            values = [float(point[f"{run}_{f}"]) for f in PRECISION_FIELDS]
            values.append(100 * float(point[f"{run}_peak_fraction"]))
            for i, value in enumerate(values):
                claims.append(Claim(r, c, i, value, "suite_precisions.csv"))
    assert len(table.rows) == len(rows), "every lobe row of the CSV"
    return claims


def layer_ops_claims(table: Table) -> list[Claim]:
    """Each row of the op-by-op table against bench/results/layer_ops.csv
    (shares printed as percentages); empty cells where the CSV has none."""
    rows = {r["op"]: r for r in read_csv("layer_ops.csv")}
    fields = {
        column(table, "µs"): ("us_per_chunk", 1),
        column(table, "share of the layer"): ("share", 100),
        column(table, "GFLOP/s"): ("gflops", 1),
        column(table, "share of the fp32"): ("of_peak", 100),
    }
    claims = []
    for r, row in enumerate(table.rows):
        point = rows.get(row[0].strip("`"))
        assert point, f"layer_ops.csv has no row for {row[0]}"
        for c, (field, scale) in fields.items():
            if not point[field]:
                assert not row[c], f"{row[0]}: '{row[c]}' not measured"
                continue
            value = scale * float(point[field])
            claims.append(Claim(r, c, 0, value, "layer_ops.csv"))
    assert len(table.rows) == len(rows), "every row of the CSV"
    return claims


# (section heading, first header cell, the table's claims)
TABLES: dict[str, tuple[str, str, Callable[[Table], list[Claim]]]] = {
    "lobes": ("The mask networks", "lobe", lobe_claims),
    "table3": ("Benchmarks", "", table3_claims),
    "results": ("Results", "model", results_claims),
    "quality": ("Quality at equal training budget", "model", quality_claims),
    "long": ("Separate recordings of any length", "lobe", long_claims),
    "precisions": (
        "fp32, bf16 and ONNX Runtime, with the matrix-product peak",
        "model",
        precision_claims,
    ),
    "layer_ops": (
        "fp32, bf16 and ONNX Runtime, with the matrix-product peak",
        "op",
        layer_ops_claims,
    ),
}


def mismatches(text: str, name: str) -> list[str]:
    """Each measured cell of table ``name`` that does not round to its
    bench/results value at the precision printed."""
    table = find_table(text, *TABLES[name][:2])
    wrong = []
    for claim in TABLES[name][2](table):
        cell = table.rows[claim.row][claim.col]
        printed = NUMBER.findall(cell)[claim.index]
        decimals = len(printed.partition(".")[2])
        if abs(float(printed) - claim.value) > 0.5 * 10**-decimals + 1e-9:
            wrong.append(
                f"{table.rows[claim.row][0]} / {table.header[claim.col]}: "
                f"README {printed}, bench/results {claim.value:.6g} "
                f"({claim.source}), i.e. {claim.value:.{decimals}f}"
            )
    return wrong


@pytest.mark.parametrize("name", TABLES)
def test_readme_table_matches_bench_results(name):
    assert mismatches(README.read_text(), name) == []


@pytest.mark.parametrize("name", TABLES)
def test_a_changed_cell_fails(name, tmp_path):
    """Every compared number, changed by two units in its last printed
    digit in a temporary copy of the README, makes the comparison fail."""
    text = README.read_text()
    table = find_table(text, *TABLES[name][:2])
    claims = TABLES[name][2](table)
    assert claims
    lines = text.splitlines(keepends=True)
    copy = tmp_path / "README.md"
    for claim in claims:
        number = table.lines[claim.row]
        start, end = table.spans[claim.row][claim.col]
        line = lines[number]
        match = list(NUMBER.finditer(line[start:end]))[claim.index]
        digit = start + match.end() - 1
        changed = str((int(line[digit]) + 2) % 10)
        copy.write_text(
            "".join(lines[:number])
            + line[:digit]
            + changed
            + line[digit + 1 :]
            + "".join(lines[number + 1 :])
        )
        assert mismatches(copy.read_text(), name), (
            f"{name}: changing {match.group()} in line {number + 1} "
            "went unnoticed"
        )


def test_results_section_names_the_run():
    """The results section gives the date and wall time of the run in
    bench/results/suite.csv and suite.md."""
    text = README.read_text()
    section = text.split("### Results", 1)[1].split("\n#", 1)[0]
    dates = {
        re.search(r"\d{4}-\d\d-\d\d", r["machine"]).group()
        for r in read_csv("suite.csv")
    }
    assert len(dates) == 1 and dates.pop() in section
    wall = re.search(
        r"wall time ([\d.]+ min)", (RESULTS / "suite.md").read_text()
    )
    assert wall and f"({wall.group(1)})" in section
