"""The GPU report's files: gpu_report.md, its CSVs, and the summary table.

`write_report` writes, into each results folder, ``gpu_report.md`` (the
machine, the summary, the goals and one table per section),
``gpu_report.json`` (every row of every section, and the run's
description) and ``gpu_correctness.csv``, ``gpu_kernels.csv``,
``gpu_training.csv`` (the inference rows are the suite's files,
``suite_cuda*.csv``, `bench.gpu.inference`). It is called after every
point, so that a run stopped early leaves what it measured. `summary`
is the short table printed last.
"""

import json
from collections.abc import Sequence
from pathlib import Path

from bench.gpu import goals, kernels
from bench.gpu.correctness import BF16_MIN_SI_SNR, FP32_TOLERANCE
from bench.suite.models import MODELS
from bench.tables import markdown_table, write_csv

SECTIONS = ("correctness", "kernels", "training", "inference")
BACKENDS = ("flash", "efficient", "cudnn", "math")


def counts(rows: Sequence[dict]) -> str:
    """``N ok, N skipped, ...`` of a section's rows.

    Example
    -------
    >>> counts([{"status": "ok"}, {"status": "ok"}, {"status": "oom"}])
    '2 ok, 1 oom'
    """
    tally: dict[str, int] = {}
    for row in rows:
        tally[row["status"]] = tally.get(row["status"], 0) + 1
    return ", ".join(f"{n} {status}" for status, n in tally.items()) or "none"


def auto_counts(rows: Sequence[dict]) -> str:
    """What SDPA's auto picks, counted per dtype.

    Example
    -------
    >>> rows = [dict(status="ok", dtype="bf16", auto="flash")] * 2
    >>> auto_counts(rows + [dict(status="ok", dtype="fp32", auto="math")])
    'bf16 flash x2; fp32 math x1'
    """
    tally: dict[str, int] = {}
    for row in rows:
        if row["status"] == "ok":
            key = f"{row['dtype']} {row['auto']}"
            tally[key] = tally.get(key, 0) + 1
    return "; ".join(f"{key} x{n}" for key, n in tally.items()) or "none"


def goal_rows(run: dict) -> list[dict]:
    """The goals (`bench.gpu.goals.evaluate`) of a run's rows."""
    inference = run["sections"].get("inference", {}).get("rows", [])
    training = run["sections"].get("training", {}).get("rows", [])
    return goals.evaluate(
        [r for r in inference if "seconds" in r],
        training,
        run["long"],
        run["hour"],
        {
            name: MODELS[name].label
            for name in ("resepformer", "latent_xattn", "fsmn_flash")
        },
    )


def summary(run: dict) -> str:
    """The short table: each section's points, then each goal."""
    table = []
    for name in SECTIONS:
        section = run["sections"].get(name)
        if section is None:
            continue
        rows = section["rows"]
        verdicts = [r.get("verdict") for r in rows if r.get("verdict")]
        failed = [v for v in verdicts if v != "PASS"]
        verdict, value = "", counts(rows)
        if name == "correctness" and verdicts:
            verdict = "FAIL" if failed else "PASS"
        if name == "kernels":
            value += "; auto: " + auto_counts(rows)
        table.append(
            dict(
                check=f"{name} ({section['status']})",
                value=value,
                target="all PASS" if name == "correctness" else "",
                verdict=verdict,
            )
        )
    for goal in goal_rows(run):
        table.append(
            dict(
                check=f"{goal['goal']}, {goal['dtype']}",
                value=goal["value"],
                target=goal["target"],
                verdict=goal["verdict"],
            )
        )
    return markdown_table(table)


def correctness_table(rows: list[dict]) -> str:
    """One line per check."""
    columns = ("max_abs_diff", "rel_err", "si_snr_bf16_db")
    return markdown_table(
        [
            {
                "check": r["check"],
                "model": r["model"],
                "size": r["size"],
                "seconds": r["seconds"],
                **{c: r.get(c) for c in columns},
                "verdict": r.get("verdict") or r["status"],
            }
            for r in rows
        ]
    )


def kernels_table(rows: list[dict]) -> tuple[str, list[str]]:
    """One line per shape and dtype (``yes``/``no``), and the reasons of
    the refusals, once each."""
    table, reasons = [], {}
    for r in rows:
        line = {k: r[k] for k in ("lobes", "shape", "dtype")}
        if r["status"] != "ok":
            line["auto"] = f"{r['status']}: {r['reason']}"
            table.append(line)
            continue
        for backend in BACKENDS:
            answer = r[backend]
            line[backend] = answer.split(":")[0]
            if answer != "yes":
                key = f"{backend}, {r['dtype']}, head dim {r['head_dim']}"
                reasons.setdefault(f"{key}: {answer}", None)
        line.update(auto=r["auto"], kernels=r["auto_kernels"])
        line["flash note"] = r["flash_note"]
        table.append(line)
    return markdown_table(table), list(reasons)


def inference_table(rows: list[dict], dtype: str) -> str:
    """Time (s) / peak memory (GB) per model and length, one dtype."""
    of_dtype = [r for r in rows if r.get("dtype") == dtype and "seconds" in r]
    lengths = sorted({r["seconds"] for r in of_dtype})
    by = {(r["model"], r["seconds"]): r for r in of_dtype}
    table = []
    for name in dict.fromkeys(r["model"] for r in of_dtype):
        line = {"model": MODELS[name].label, "source": MODELS[name].source}
        for seconds in lengths:
            row = by.get((name, seconds))
            cell = ""
            if row is not None and row["status"] == "ok":
                cell = f"{row['time_s']:.3g} s / {row['peak_mem_gb']:.3g} GB"
            elif row is not None:
                cell = row["status"]
            line[f"{seconds:g} s"] = cell
        table.append(line)
    return markdown_table(table)


def training_table(rows: list[dict]) -> str:
    """Steps per second, step time, peak memory, per model, batch, dtype."""
    table = []
    for r in rows:
        ok = r["status"] == "ok"
        peak = r.get("peak_mem_gb")
        table.append(
            {
                "model": r["label"],
                "source": r["source"],
                "batch": r["batch"],
                "dtype": r["dtype"],
                "steps/s": f"{r['steps_per_s']:.3g}" if ok else r["status"],
                "step (ms)": f"{r['step_s'] * 1e3:.3g}" if ok else "",
                "peak (GB)": f"{peak:.3g}" if isinstance(peak, float) else peak,
            }
        )
    return markdown_table(table)


def identity(row: dict) -> str:
    """What a row measured, in a few words.

    Example
    -------
    >>> identity({"model": "resepformer", "dtype": "bf16", "seconds": 4.0})
    'resepformer, bf16, 4 s'
    """
    keys = ("check", "model", "shape", "batch", "dtype", "seconds")
    return ", ".join(
        f"{row[k]:g} s" if k == "seconds" else str(row[k])
        for k in keys
        if k in row
    )


def not_run(run: dict) -> list[str]:
    """One line per point that did not run to the end, with its reason."""
    return [
        f"- {name}: {identity(r)}: {r['status']} ({r['reason']})"
        for name in SECTIONS
        for r in run["sections"].get(name, {}).get("rows", [])
        if r["status"] != "ok"
    ]


def markdown(run: dict) -> str:
    """The whole gpu_report.md."""
    machine, sections = run["machine"], run["sections"]
    lines = [
        "# GPU report" + (" (smoke run)" if run["smoke"] else ""),
        "",
        f"- **Command:** `{run['command']}`",
        f"- **GPU:** {machine.get('gpu', 'none: CPU run')}",
        f"- **Host:** {machine.get('cpu', '?')}; {machine.get('cores', '?')} "
        f"cores; {machine.get('ram', '?')} RAM; {machine.get('os', '?')}",
        f"- **Software:** torch {machine.get('torch', '?')}, speechbrain "
        f"{machine.get('speechbrain', '?')}, Python "
        f"{machine.get('python', '?')}",
        f"- **Run:** {machine.get('date', '?')}; device {run['device']}; "
        f"budget {run['budget']:g} s, used {run['elapsed']:.0f} s; "
        f"TF32 (matmul / cuDNN) {run['tf32']} outside the correctness checks",
        "",
        "## Summary",
        "",
        summary(run),
        "",
    ]
    if "correctness" in sections:
        lines += [
            "## Correctness",
            "",
            "Random weights (seed 0). fp32: relative error ||device - "
            f"cpu|| / ||cpu||, TF32 off, PASS <= {FP32_TOLERANCE:g}; "
            f"bf16: SI-SNR of the bf16 autocast output against fp32, PASS >= "
            f"{BF16_MIN_SI_SNR:g} dB; streaming: blocks of 0.1 s through "
            "`StreamingSeparator` against the offline causal `separate`.",
            "",
            correctness_table(sections["correctness"]["rows"]),
            "",
        ]
    if "kernels" in sections:
        table, reasons = kernels_table(sections["kernels"]["rows"])
        (batch, crop), infer = kernels.contexts(run["smoke"])
        lines += [
            "## Attention kernels",
            "",
            f"Each SDPA shape the lobes make (a training batch of {batch} "
            f"x {crop:g} s, an inference call on {infer:g} s), tried under "
            "`sdpa_kernel` with "
            "each backend; `auto`: the op SDPA dispatches to by itself, and "
            "the kernels it launches.",
            "",
            table,
            "",
        ]
        if reasons:
            lines += ["Refusals, as SDPA gives them:", ""]
            lines += [f"- {reason}" for reason in reasons] + [""]
    if "training" in sections:
        lines += [
            "## Training step",
            "",
            "Forward (`EncoderMaskerDecoder.forward`), SI-SNR PIT loss, "
            "backward, Adam step; median of the timed steps after the "
            "warm-up ones; peak = `torch.cuda.max_memory_allocated` over "
            "the timed steps.",
            "",
            training_table(sections["training"]["rows"]),
            "",
        ]
    if "inference" in sections:
        rows = sections["inference"]["rows"]
        lines += ["## Inference", ""]
        lines += [
            "Time (median of the timed calls) / peak memory, batch 1; all "
            "tables and ratios: the suite's files `suite_*.md`.",
            "",
        ]
        for dtype in ("bf16", "fp32"):
            lines += [f"### {dtype}", "", inference_table(rows, dtype), ""]
    skipped = not_run(run)
    if skipped:
        lines += ["## Points not run to the end", "", *skipped, ""]
    return "\n".join(lines)


def write_report(run: dict, folders: Sequence[Path]) -> list[Path]:
    """Writes the report's files into each folder (see the module
    docstring); returns those of the first."""
    text = markdown(run)
    written = []
    for folder in folders:
        folder.mkdir(parents=True, exist_ok=True)
        paths = [folder / "gpu_report.md", folder / "gpu_report.json"]
        paths[0].write_text(text + "\n")
        paths[1].write_text(json.dumps(run, indent=1, default=str) + "\n")
        for name in ("correctness", "kernels", "training"):
            rows = run["sections"].get(name, {}).get("rows")
            if rows:
                paths.append(write_csv(rows, folder / f"gpu_{name}.csv"))
        written.append(paths)
    return written[0] if written else []
