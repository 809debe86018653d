"""The suite's outputs: the CSV of every point, the Markdown report (the
machine, the command, the tables) and the two figures of time and memory
against the input length (as the RE-SepFormer paper's Fig. 3).

The figures need matplotlib. Where it is missing (the bare GPU machine of
`bench.gpu`), the report says so and `figures_from_csv` draws them later,
elsewhere, from the CSV (``python -m bench.suite --figures NAME.csv``)."""

import csv
import importlib.util
from collections.abc import Callable, Sequence
from pathlib import Path

from bench.suite.models import MODELS, REFERENCES
from bench.suite.plan import SuiteConfig, growth_pair
from bench.tables import RESULTS, markdown_table, write_csv, write_text


def memory_kind(device: str) -> str:
    """What the memory columns hold on ``device``."""
    if device == "cuda":
        return "torch.cuda.max_memory_allocated (GB)"
    return "peak RSS of the point's process (GB)"


def isolation(config: SuiteConfig) -> str:
    """How the points were kept apart, for the memory column."""
    if config.isolate:
        return "each point in a fresh process"
    if config.device == "cuda":
        return "all points in one process, peak statistics reset per point"
    return "all points in one process (RSS: its high-water mark so far)"


def cell(row: dict | None, key: str, digits: int = 3) -> str:
    """A table cell: the value, or the status of a point that has none."""
    if row is None:
        return ""
    if row["status"] != "ok":
        return row["status"]
    value = row.get(key)
    return "" if value is None else f"{value:.{digits}g}"


def length_table(
    rows: list[dict], config: SuiteConfig, fmt: Callable[[dict | None], str]
) -> str:
    """A Markdown table with one row per model and one column per length."""
    by = {(r["model"], r["seconds"]): r for r in rows}
    lengths = sorted(config.lengths)
    table = [
        {
            "model": MODELS[m].label,
            "source": MODELS[m].source,
            **{f"{s:g} s": fmt(by.get((m, s))) for s in lengths},
        }
        for m in config.models
    ]
    return markdown_table(table)


def model_table(
    infos: dict[str, dict], rows: list[dict], config: SuiteConfig
) -> str:
    """Parameters, MACs, their ratios to SepFormer, and the growth."""
    by = {(r["model"], r["seconds"]): r for r in rows if r["status"] == "ok"}
    pair = growth_pair(config.lengths)
    ref = infos.get("sepformer")
    table = []
    for name in config.models:
        info, model = infos[name], MODELS[name]
        entry = {
            "model": model.label,
            "source": model.source,
            "params (M)": f"{info['params'] / 1e6:.2f}",
        }
        for length, value in info["gmacs_per_s"].items():
            entry[f"GMACs/s ({length} s)"] = f"{value:.2f}"
        if ref is not None:
            entry["params / SepFormer"] = (
                f"{info['params'] / ref['params']:.2f}"
            )
            first = next(iter(info["gmacs_per_s"]))
            ratio = info["gmacs_per_s"][first] / ref["gmacs_per_s"][first]
            entry[f"GMACs / SepFormer ({first} s)"] = f"{ratio:.2f}"
        if pair is not None:
            a, b = (by.get((name, s)) for s in pair)
            grow_t = grow_m = ""
            if a is not None and b is not None:
                grow_t = f"{b['time_s'] / a['time_s']:.2f}"
                da = a["peak_mem_gb"] - a["base_mem_gb"]
                db = b["peak_mem_gb"] - b["base_mem_gb"]
                grow_m = f"{db / da:.2f}" if da > 0 else ""
            entry[f"t({pair[1]:g})/t({pair[0]:g})"] = grow_t
            entry[f"Δmem({pair[1]:g})/Δmem({pair[0]:g})"] = grow_m
        entry["configuration"] = model.config
        table.append(entry)
    return markdown_table(table)


def ratio_table(rows: list[dict], config: SuiteConfig, ref: str) -> str:
    """time ratio / memory ratio of every model against ``ref``."""

    def fmt(row: dict | None) -> str:
        if row is None or row["status"] != "ok":
            return cell(row, "")
        t, m = row.get(f"time_vs_{ref}"), row.get(f"mem_vs_{ref}")
        return "" if t is None else f"{t:.2f} / {m:.2f}"

    return length_table(
        [r for r in rows if r["model"] != ref],
        SuiteConfig(
            models=[m for m in config.models if m != ref],
            lengths=config.lengths,
        ),
        fmt,
    )


def peak_section(rows: list[dict], config: SuiteConfig) -> list[str]:
    """The matrix-product peaks of the run and each point's share of the
    one of its precision (`bench.peak`); none for a CSV without them."""
    peaks = config.machine.get("peak_gflops") or {}
    if not peaks:
        return []
    measured = ", ".join(f"{k} {v:.0f}" for k, v in peaks.items())
    return [
        f"## Share of the {config.dtype} matrix-product peak",
        "",
        f"Peaks measured in this run, {config.threads} threads "
        f"(GFLOP/s, square products, `bench.peak`): {measured}. A cell "
        "is 2 x MACs / time / the peak of the precision the model ran in.",
        "",
        length_table(
            rows,
            config,
            lambda r: (
                cell(r, "")
                if r is None or r["status"] != "ok" or "peak_fraction" not in r
                else f"{100 * r['peak_fraction']:.0f}%"
            ),
        ),
        "",
    ]


def markdown_report(
    infos: dict[str, dict],
    rows: list[dict],
    config: SuiteConfig,
    figures: Sequence[Path] = (),
) -> str:
    """The whole Markdown report of a run (header, tables, notes)."""
    machine = config.machine
    on_cuda = config.device == "cuda"
    device = machine.get("gpu", "GPU") if on_cuda else "CPU"
    timing = "CUDA events" if on_cuda else "wall clock"
    warm = (
        f"{config.warmup_seconds:g} s"
        if config.warmup_seconds
        else "the same length"
    )
    lines = [
        f"# Benchmark suite: `{config.name}`",
        "",
    ]
    if config.quick:
        lines += [
            "**Quick run** (`--quick`: short inputs only), not the "
            "reference numbers.",
            "",
        ]
    lines += [
        f"- **Command:** `{config.command}`",
        f"- **Machine:** {machine.get('cpu', '?')}; "
        f"{machine.get('cores', '?')} cores; {machine.get('ram', '?')} RAM; "
        f"{machine.get('os', '?')}",
        f"- **Software:** torch {machine.get('torch', '?')}, speechbrain "
        f"{machine.get('speechbrain', '?')}, Python "
        f"{machine.get('python', '?')}",
        f"- **Run:** {machine.get('date', '?')}; device {device}, "
        f"{config.dtype}, {config.threads} threads; load average before "
        f"{machine.get('load', '?')}; OMP_WAIT_POLICY="
        f"{machine.get('omp_wait_policy', 'unset')}; wall time "
        f"{machine.get('wall', '?')}",
        "- **Measured:** encoder + masknet + decoder (SpeechBrain's "
        "dual-path Encoder/Decoder, kernel 16, stride 8), batch 1, no "
        f"grad, 8 kHz input; time = median of {config.repeats} calls "
        f"({timing}) after one warm-up call on {warm}; memory = "
        f"{memory_kind(config.device)}, {isolation(config)}; "
        "MACs = FlopCounterMode (lobes.attention.count_macs) / 2 on the "
        "meta device.",
        "",
        "## Models",
        "",
        model_table(infos, rows, config),
        "",
        "## Inference time (s)",
        "",
        length_table(rows, config, lambda r: cell(r, "time_s")),
        "",
        *peak_section(rows, config),
        f"## Peak memory: {memory_kind(config.device)}",
        "",
        length_table(rows, config, lambda r: cell(r, "peak_mem_gb")),
        "",
    ]
    for ref in REFERENCES:
        if ref in config.models and len(config.models) > 1:
            lines += [
                f"## Time / memory against upstream {MODELS[ref].label}",
                "",
                "Ratios at the same length in the same run "
                "(below 1: faster / leaner).",
                "",
                ratio_table(rows, config, ref),
                "",
            ]
    notes = [r for r in rows if r["status"] != "ok"]
    if notes:
        lines += ["## Points not measured", ""]
        lines += [
            f"- {MODELS[r['model']].label}, {r['seconds']:g} s: "
            f"{r['status']} ({r['reason']})"
            for r in notes
        ]
        lines.append("")
    if figures:
        lines += ["## Figures", ""]
        lines += [f"![{p.stem}]({p.name})" for p in figures]
        lines.append("")
    elif not can_plot():
        folder = config.out
        if folder.resolve() == RESULTS:
            folder = RESULTS.relative_to(RESULTS.parents[1])
        lines += [
            "## Figures",
            "",
            "Not drawn: matplotlib is not installed where this ran. Draw "
            "them from the CSV, beside it, with `python -m bench.suite "
            f"--figures {folder}/{config.name}.csv`.",
            "",
        ]
    return "\n".join(lines)


def can_plot() -> bool:
    """Whether matplotlib is installed (the figures need it)."""
    return importlib.util.find_spec("matplotlib") is not None


def plot(rows: list[dict], config: SuiteConfig, key: str, path: Path) -> Path:
    """Log-log plot of ``key`` against input length, one line per model
    (ours solid, upstream dashed), as the paper's Fig. 3."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 4.2))
    for name in config.models:
        ok = sorted(
            (r for r in rows if r["model"] == name and r["status"] == "ok"),
            key=lambda r: r["seconds"],
        )
        if not ok:
            continue
        ax.plot(
            [r["seconds"] for r in ok],
            [r[key] for r in ok],
            marker="o",
            linestyle="-" if MODELS[name].source == "ours" else "--",
            label=f"{MODELS[name].label} ({MODELS[name].source})",
        )
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    lengths = sorted(config.lengths)
    ax.set_xticks(lengths, [f"{s:g}" for s in lengths])
    ax.xaxis.set_minor_locator(matplotlib.ticker.NullLocator())
    plain = matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}")
    ax.yaxis.set_major_formatter(plain)
    low, high = ax.get_ylim()  # label minor ticks when within one decade
    short = high < 10 * low
    ax.yaxis.set_minor_formatter(
        plain if short else matplotlib.ticker.NullFormatter()
    )
    ax.set_xlabel("input length (s of 8 kHz audio)")
    ylabel = "inference time (s)" if key == "time_s" else "peak memory (GB)"
    ax.set_ylabel(ylabel)
    device = "GPU" if config.device == "cuda" else f"CPU, {config.threads} thr."
    ax.set_title(f"{ylabel} ({device}, {config.dtype})", fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def csv_columns(rows: list[dict]) -> list[str]:
    """CSV columns: the point's identity, its measurements, then the
    ratios and the files, in a fixed order."""
    first = [
        "model",
        "label",
        "source",
        "seconds",
        "frames",
        "device",
        "dtype",
        "threads",
        "repeats",
        "status",
        "reason",
        "time_s",
        "times_s",
        "peak_mem_gb",
        "base_mem_gb",
        "host_peak_rss_gb",
        "peak_fraction",
        "params_m",
    ]
    keys = list(dict.fromkeys(k for r in rows for k in r))
    rest = [k for k in keys if k not in first and k != "machine"]
    rest.sort(key=lambda k: (k.startswith(("time_vs", "mem_vs")), k))
    return first + rest + ["machine"]


def write_outputs(
    infos: dict[str, dict], rows: list[dict], config: SuiteConfig
) -> dict[str, Path]:
    """Writes NAME.csv, NAME.md and the two figures into ``config.out``.

    Returns
    -------
    dict
        ``csv``, ``md``, ``time`` and ``memory``: the files written
        (no figures without matplotlib).
    """
    machine = config.machine
    summary = (
        f"{machine.get('gpu') or machine.get('cpu', '?')}; "
        f"{machine.get('cores', '?')} cores; {machine.get('ram', '?')}; "
        f"torch {machine.get('torch', '?')}; {machine.get('date', '?')}"
    )
    for row in rows:
        row["machine"] = summary
    out = config.out
    paths = {
        "csv": write_csv(
            rows, out / f"{config.name}.csv", columns=csv_columns(rows)
        ),
        **draw_figures(rows, config),
    }
    figures = [paths[k] for k in ("memory", "time") if k in paths]
    report_text = markdown_report(infos, rows, config, figures)
    paths["md"] = out / f"{config.name}.md"
    write_text(paths["md"], report_text + "\n")
    return paths


def draw_figures(rows: list[dict], config: SuiteConfig) -> dict[str, Path]:
    """``fig3_time[_SUFFIX].png`` and ``fig3_memory[_SUFFIX].png`` in
    ``config.out``, named after ``config.name``; none without matplotlib.

    Returns
    -------
    dict
        ``time`` and ``memory``: the files written (empty: not drawn).
    """
    if not can_plot():
        return {}
    suffix = config.name.removeprefix("suite")
    return {
        key: plot(rows, config, column, config.out / f"fig3_{key}{suffix}.png")
        for key, column in (("time", "time_s"), ("memory", "peak_mem_gb"))
    }


def figures_from_csv(path: str | Path) -> dict[str, Path]:
    """Draws the figures of a suite CSV beside it (for a run made where
    matplotlib was missing; ``python -m bench.suite --figures CSV``).

    Arguments
    ---------
    path : str or Path
        A CSV that `write_outputs` wrote (one device, one dtype).

    Returns
    -------
    dict
        ``time`` and ``memory``: the files written.
    """
    path = Path(path)
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    for row in rows:
        row["seconds"] = float(row["seconds"])
        for key in ("time_s", "peak_mem_gb"):
            row[key] = float(row[key]) if row.get(key) else None
    first = rows[0]
    config = SuiteConfig(
        models=list(dict.fromkeys(r["model"] for r in rows)),
        lengths=sorted({r["seconds"] for r in rows}),
        device=first["device"],
        dtype=first["dtype"],
        threads=int(first["threads"]),
        out=path.parent,
        name=path.stem,
    )
    return draw_figures(rows, config)
