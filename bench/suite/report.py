"""The suite's outputs: the CSV of every point, the Markdown report (the
machine, the command, the tables) and the two figures of time and memory
against the input length (`bench.suite.figures`)."""

import dataclasses
from collections.abc import Callable, Sequence
from pathlib import Path

from bench.suite.figures import can_plot, draw_figures
from bench.suite.models import MODELS, REFERENCES
from bench.suite.onnx import runtime_of
from bench.suite.plan import SuiteConfig, growth_pair
from bench.tables import RESULTS, markdown_table, write_csv
from lobes.files import write_text


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
            "source": source_text(m, config),
            **{f"{s:g} s": fmt(by.get((m, s))) for s in lengths},
        }
        for m in config.models
    ]
    return markdown_table(table)


def source_text(name: str, config: SuiteConfig) -> str:
    """A model's source, with the runtime it ran in for an ONNX run.

    Example
    -------
    >>> config = SuiteConfig(models=[], lengths=[], runtime="onnx")
    >>> source_text("resepformer", config), source_text("sb-skim", config)
    ('ours, ONNX Runtime', 'SpeechBrain, torch')
    """
    source = MODELS[name].source
    if config.runtime != "onnx":
        return source
    runtime = runtime_of(config.runtime, name)
    return f"{source}, {'ONNX Runtime' if runtime == 'onnx' else 'torch'}"


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
        dataclasses.replace(
            config, models=[m for m in config.models if m != ref]
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


def runtime_text(config: SuiteConfig) -> str:
    """The runtime of a run, for its title and header.

    Example
    -------
    >>> runtime_text(SuiteConfig(models=[], lengths=[], runtime="onnx"))
    'our lobes under ONNX Runtime, upstream in torch'
    >>> runtime_text(SuiteConfig(models=[], lengths=[]))
    'torch'
    """
    if config.runtime != "onnx":
        return "torch"
    version = config.machine.get("onnxruntime")
    runtime = f"ONNX Runtime {version}" if version else "ONNX Runtime"
    return f"our lobes under {runtime}, upstream in torch"


def onnx_lines(infos: dict[str, dict], config: SuiteConfig) -> list[str]:
    """The header line of an ONNX Runtime run: the session and the
    exports (none for a torch run)."""
    if config.runtime != "onnx":
        return []
    exports = ", ".join(
        f"{MODELS[name].label} {info['onnx_export_s']:.0f} s"
        if info.get("onnx_export_s") is not None
        else f"{MODELS[name].label} failed"
        for name, info in infos.items()
        if "onnx_export_s" in info
    )
    return [
        f"- **ONNX Runtime:** one session per point ({config.threads} "
        "intra-op threads, 1 inter-op, sequential, CPU provider) on the "
        "whole separator exported once per run (`lobes.inference."
        "onnx_export`, checked against torch; masknet on its all-chunks "
        f"path); export and check: {exports or 'none'}.",
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
    title = f"# Benchmark suite: `{config.name}`"
    if config.runtime == "onnx":
        title += " (ONNX Runtime)"
    lines = [title, ""]
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
        f"{config.dtype}, {runtime_text(config)}, {config.threads} "
        "threads; load average before "
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
        *onnx_lines(infos, config),
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
        "runtime",
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
