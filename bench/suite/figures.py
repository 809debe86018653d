"""The suite's two figures: time and memory against the input length,
one line per model (as the RE-SepFormer paper's Fig. 3).

They need matplotlib. Where it is missing (the bare GPU machine of
`bench.gpu`), the report says so and `figures_from_csv` draws them later,
elsewhere, from the CSV (``python -m bench.suite --figures NAME.csv``).
"""

import csv
import importlib.util
from pathlib import Path

from bench.suite.models import MODELS
from bench.suite.plan import SuiteConfig


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
    runtime = ", ours in ONNX Runtime" if config.runtime == "onnx" else ""
    ax.set_title(f"{ylabel} ({device}, {config.dtype}{runtime})", fontsize=9)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


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


def any_onnx(rows: list[dict]) -> bool:
    """Whether rows of a suite CSV come from an ONNX Runtime run (a CSV of
    before the ``runtime`` column is a torch run's)."""
    return any(row.get("runtime") == "onnx" for row in rows)


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
        runtime="onnx" if any_onnx(rows) else "torch",
        threads=int(first["threads"]),
        out=path.parent,
        name=path.stem,
    )
    return draw_figures(rows, config)
