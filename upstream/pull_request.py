"""The pull-request text, ``PULL_REQUEST.md``: `TEMPLATE` filled in when the
folder is written, with the numbers measured by the benchmarks (read from
``bench/results/suite.csv`` and ``quality.csv`` then), the module, test and
recipe files, and the size of the diff.
"""

import ast
import csv
import platform
from pathlib import Path
from string import Template

import speechbrain
import torch

from bench.spread import summarize
from bench.tables import RESULTS, format_value, markdown_table
from upstream.recipes import RECIPE, recipe_test_rows
from upstream.rename import (
    MODULES,
    TESTED,
    module_file,
    rewrite,
    speechbrain_module,
    unit_test_file,
)

TEMPLATE = Path(__file__).resolve().with_name("pull_request.md")
LOBES = Path(__file__).resolve().parents[1] / "lobes"
TESTS = LOBES.parent / "tests"
SUITE = RESULTS / "suite.csv"
QUALITY = RESULTS / "quality.csv"
LENGTH, SHORTER, LONGEST = 64.0, 16.0, 256.0  # seconds of audio
# the suite's SpeechBrain models the table compares with, by their names
REFERENCES = {"sb-resepformer": "RE-SepFormer", "sb-sepformer": "SepFormer"}
QUALITY_COLUMNS = {
    "model": "masknet",
    "params_M": "params (M)",
    "GMACs/s": "GMACs/s",
    "steps": "training steps",
    "seeds": "seeds",
    "SI-SNRi": "SI-SNRi (dB)",
    "SDRi": "SDRi (dB)",
    "real SI-SNRi": "real voices SI-SNRi (dB)",
    "real SDRi": "real voices SDRi (dB)",
}
# quality.csv's scores, averaged over a run's seeds
QUALITY_SCORES = ("SI-SNRi", "SDRi", "real SI-SNRi", "real SDRi")


def read_rows(path: Path) -> list[dict]:
    """The rows of a CSV file, as dicts of text.

    Arguments
    ---------
    path : Path
        A CSV file with a header.

    Returns
    -------
    list of dict

    Example
    -------
    >>> "FlashFormer" in {row["model"] for row in read_rows(QUALITY)}
    True
    """
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def number(text: str) -> float | str | None:
    """A CSV cell as a number where it is one (None when empty).

    Example
    -------
    >>> number("6.5"), number(""), number("RESepFormer")
    (6.5, None, 'RESepFormer')
    """
    try:
        return float(text) if text else None
    except ValueError:
        return text


def cost_rows(suite: list[dict]) -> list[dict]:
    """One table row per model of the suite: size, compute, time and peak
    RSS at `LENGTH` seconds, growth from `SHORTER`, ratios to `REFERENCES`.

    Arguments
    ---------
    suite : list of dict
        Rows of ``suite.csv``.

    Returns
    -------
    list of dict
        Column -> value; ``model`` is the suite's name of the model.

    Example
    -------
    >>> costs = cost_rows(read_rows(SUITE))
    >>> costs[0]["masknet"], costs[0]["from"], costs[0]["params (M)"]
    ('RESepFormer', 'this PR', 7.955201)
    """
    at = {(row["model"], float(row["seconds"])): row for row in suite}
    table = []
    for model in dict.fromkeys(row["model"] for row in suite):
        row = at[model, LENGTH]
        time, before = (
            number(row["time_s"]),
            number(at[model, SHORTER]["time_s"]),
        )
        entry = {
            "model": model,
            "masknet": row["label"],
            "from": "this PR" if row["source"] == "ours" else row["source"],
            "params (M)": number(row["params_m"]),
            "GMACs/s": number(row["gmacs_per_s_16s"]),
            f"time at {LENGTH:g} s (s)": time,
            f"peak RSS at {LENGTH:g} s (GB)": number(row["host_peak_rss_gb"]),
            f"t({LENGTH:g})/t({SHORTER:g})": time / before if time else None,
        }
        for kind, key in (("time", "time"), ("RSS", "mem")):
            for reference, name in REFERENCES.items():
                entry[f"{kind} / {name}"] = number(row[f"{key}_vs_{reference}"])
        table.append(entry)
    return table


def headline(costs: list[dict]) -> dict[str, str]:
    """What sums up `cost_rows` in the text: how much the time of ours and
    of SepFormer grows, and their times and peak RSS at `LENGTH` seconds.

    Arguments
    ---------
    costs : list of dict
        `cost_rows` of the suite.

    Returns
    -------
    dict
        ``headline`` (a sentence), ``growth_ours`` (a range) and
        ``growth_sepformer``.

    Example
    -------
    >>> headline(cost_rows(read_rows(SUITE)))["growth_ours"]
    '4.15 to 4.2'
    """
    by_model = {c["model"]: c for c in costs}
    ours = [c for c in costs if c["from"] == "this PR"]
    time, rss, growth = (
        f"time at {LENGTH:g} s (s)",
        f"peak RSS at {LENGTH:g} s (GB)",
        f"t({LENGTH:g})/t({SHORTER:g})",
    )

    def span(key: str) -> str:
        values = sorted(c[key] for c in ours)
        return f"{format_value(values[0])} to {format_value(values[-1])}"

    def theirs(model: str) -> str:
        c = by_model[model]
        return f"{format_value(c[time])} s, {format_value(c[rss])} GB"

    sentence = (
        f"At {LENGTH:g} s of 8 kHz audio on the CPU below they take "
        f"{span(time)} s and {span(rss)} GB peak RSS; SpeechBrain's SepFormer "
        f"{theirs('sb-sepformer')}, its RE-SepFormer "
        f"{theirs('sb-resepformer')}."
    )
    return dict(
        headline=sentence,
        growth_ours=span(growth),
        growth_sepformer=format_value(by_model["sb-sepformer"][growth]),
    )


def long_times(suite: list[dict]) -> str:
    """Time of each model at `LONGEST` seconds, or why it did not run.

    Arguments
    ---------
    suite : list of dict
        Rows of ``suite.csv``.

    Returns
    -------
    str

    Example
    -------
    >>> rows = [
    ...     dict(seconds="256", label="A", status="ok", time_s="20.71"),
    ...     dict(seconds="256", label="B", status="skipped", reason="OOM"),
    ... ]
    >>> long_times(rows)
    'A 20.7 s; B not run (OOM)'
    """
    return "; ".join(
        f"{row['label']} {format_value(number(row['time_s']))} s"
        if row["status"] == "ok"
        else f"{row['label']} not run ({row['reason']})"
        for row in suite
        if float(row["seconds"]) == LONGEST
    )


def measurements(suite: list[dict], quality: list[dict]) -> dict[str, str]:
    """The template's values read from the benchmark results.

    Arguments
    ---------
    suite : list of dict
        Rows of ``suite.csv``.
    quality : list of dict
        Rows of ``quality.csv``.

    Returns
    -------
    dict
        Placeholder -> text.
    """
    costs = cost_rows(suite)
    first = next(r for r in suite if float(r["seconds"]) == LENGTH)
    cpu, *machine = first["machine"].split("; ")
    # one row per model, each score the mean over its seeds
    runs = summarize(quality, QUALITY_SCORES)
    quality_rows = [
        {new: number(str(run[old])) for old, new in QUALITY_COLUMNS.items()}
        for run in runs
    ]
    return dict(
        headline(costs),
        cpu=cpu,
        machine="; ".join(machine),
        threads=first["threads"],
        dtype=first["dtype"],
        repeats=first["repeats"],
        cost_table=markdown_table(costs, list(costs[0])[1:]),
        long_times=long_times(suite),
        quality_table=markdown_table(quality_rows),
    )


def summary(module: str) -> str:
    """The first paragraph of a lobe module's docstring, on one line.

    Arguments
    ---------
    module : str
        A key of `MODULES`.

    Returns
    -------
    str

    Example
    -------
    >>> summary("fsmn_flash")
    'FlashFormer: a Transformer + gated-FSMN masknet on flash attention.'
    """
    tree = ast.parse((LOBES / f"{module}.py").read_text(encoding="utf-8"))
    return rewrite(" ".join(ast.get_docstring(tree).split("\n\n")[0].split()))


def covering_tests(module: str) -> list[str]:
    """The lobes whose test files test ``module``: its own, or else those
    that import it.

    Arguments
    ---------
    module : str
        A key of `MODULES`.

    Returns
    -------
    list of str
        Keys of `TESTED`.

    Example
    -------
    >>> covering_tests("attention"), covering_tests("resepformer_upstream")
    (['attention'], ['resepformer'])
    """
    if module in TESTED:
        return [module]
    return [
        lobe
        for lobe in TESTED
        if f"lobes.{module} " in (TESTS / f"test_{lobe}.py").read_text()
    ]


def pull_request_text(files: dict[str, str]) -> str:
    """``PULL_REQUEST.md`` for the files of the pull request.

    Arguments
    ---------
    files : dict
        Path in a SpeechBrain checkout -> text, as written.

    Returns
    -------
    str
        Markdown.
    """
    recipes = [path for path in files if path.startswith(RECIPE)]
    names = [
        {
            "sepformer-lobes": f"`lobes.{m}`",
            "SpeechBrain": f"`{speechbrain_module(m)}`",
            "unit tests": ", ".join(
                f"`{unit_test_file(t)}`" for t in covering_tests(m)
            ),
        }
        for m in MODULES
    ]
    modules = [
        {"file": f"`{module_file(m)}`", "what": summary(m)} for m in MODULES
    ]
    sizes = [
        {"file": f"`{p}`", "lines": t.count("\n")} for p, t in files.items()
    ]
    return Template(TEMPLATE.read_text(encoding="utf-8")).substitute(
        measurements(read_rows(SUITE), read_rows(QUALITY)),
        module_table=markdown_table(modules),
        name_table=markdown_table(names),
        test_files=", ".join(f"`{unit_test_file(m)}`" for m in TESTED),
        recipe_files=", ".join(f"`{path}`" for path in recipes),
        csv_rows=recipe_test_rows(recipes),
        diff_files=len(files),
        diff_lines=sum(s["lines"] for s in sizes),
        file_table=markdown_table(sizes),
        python_version=platform.python_version(),
        torch_version=torch.__version__,
        speechbrain_version=speechbrain.__version__,
    )
