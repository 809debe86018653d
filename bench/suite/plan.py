"""The parent side of the suite: what to measure, which points to skip,
running the points, and the rows and ratios they give.

`run_suite` first counts each model's parameters and MACs, then measures
every model at each length, shortest first, each point in a fresh process
(``python -m bench.suite --point``, `bench.points.run_point`). With
``runtime`` ``onnx``, our lobes are exported first, each in its own
process, and measured under ONNX Runtime (`bench.suite.onnx`).

A point that would not fit is skipped and recorded as such
(`bench.suite.skips`), and so is every longer point of a model after one
that was killed by the out-of-memory killer, failed an allocation or ran
past ``--timeout``.
"""

import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path

import torch
from tqdm import tqdm

from bench.machine import GB, available_memory
from bench.peak import peak_fraction
from bench.points import run_point
from bench.suite import measure
from bench.suite.models import MODELS, REFERENCES, frames
from bench.suite.onnx import (
    export_failure,
    export_spec,
    onnx_folder,
    runtime_of,
)
from bench.suite.skips import skip_reason
from bench.tables import RESULTS
from lobes.files import write_text

LENGTHS = (1.0, 4.0, 16.0, 64.0, 256.0)
QUICK_LENGTHS = (1.0, 4.0)
MACS_SECONDS = (1.0, 16.0)
GROWTH = (16.0, 64.0)  # t(64) / t(16), when both lengths are run
PEAK_DTYPES = ("fp32", "bf16")  # matrix-product peaks measured in each run


@dataclass
class SuiteConfig:
    """What one run of the suite measures and where it writes.

    Arguments
    ---------
    models : list of str
        Keys of `bench.suite.models.MODELS`.
    lengths : list of float
        Input lengths in seconds.
    device : str
        ``cpu`` or ``cuda``.
    dtype : str
        The precision, SpeechBrain's name (``--precision``): ``fp32``,
        ``bf16`` or ``fp16`` (the last two under autocast); the CSV's
        ``dtype`` column.
    runtime : str
        ``torch``, or ``onnx``: our lobes under ONNX Runtime (fp32 only,
        on the CPU), upstream's in torch (`bench.suite.onnx`).
    threads : int
        torch/OpenMP threads of every point.
    repeats : int
        Timed calls per point (after one warm-up call).
    warmup_seconds : float, optional
        Length of the warm-up call (default: the point's own length).
    macs_seconds : tuple of float
        Lengths the MACs are counted on.
    tiny : bool
        Tiny configurations (smoke tests).
    quick : bool
        A ``--quick`` run (labelled as such in the report).
    profile : bool
        Also write a torch.profiler table per point to ``out/raw``.
    timeout : float, optional
        Seconds before a point's process is killed.
    isolate : bool
        Each point in a fresh process (False: in this process, for tests;
        the memory numbers are then this process's high-water marks).
    out : Path
        Results folder.
    name : str
        Stem of the CSV and Markdown files.
    command : str
        The command line, for the report.
    machine : dict
        The machine (`bench.machine.machine_info`, plus the GPU once
        known).
    """

    models: list[str]
    lengths: list[float]
    device: str = "cpu"
    dtype: str = "fp32"
    runtime: str = "torch"
    threads: int = 2
    repeats: int = 3
    warmup_seconds: float | None = None
    macs_seconds: tuple[float, ...] = MACS_SECONDS
    tiny: bool = False
    quick: bool = False
    profile: bool = False
    timeout: float | None = None
    isolate: bool = True
    out: Path = RESULTS
    name: str = "suite"
    command: str = ""
    machine: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.runtime == "onnx" and (
            self.dtype != "fp32" or self.device != "cpu"
        ):
            raise ValueError(
                "runtime onnx runs fp32 models on the CPU: use precision "
                f"fp32 and device cpu (not {self.dtype} on {self.device})."
            )


def add_ratios(rows: list[dict]) -> None:
    """Adds ``time_vs_REF`` and ``mem_vs_REF`` to every ok row, for every
    reference model of `REFERENCES` measured at the same length (not to
    the reference's own rows)."""
    by = {(r["model"], r["seconds"]): r for r in rows if r["status"] == "ok"}
    for row in by.values():
        for ref in REFERENCES:
            other = by.get((ref, row["seconds"]))
            if other is None or ref == row["model"]:
                continue
            row[f"time_vs_{ref}"] = row["time_s"] / other["time_s"]
            row[f"mem_vs_{ref}"] = row["peak_mem_gb"] / other["peak_mem_gb"]


def growth_pair(lengths: Sequence[float]) -> tuple[float, float] | None:
    """The two lengths of the growth column: 16 and 64 s when both are
    run, otherwise the two longest (None with a single length).

    Example
    -------
    >>> growth_pair([1, 4, 16, 64, 256]), growth_pair([1, 4]), growth_pair([1])
    ((16.0, 64.0), (1, 4), None)
    """
    if set(GROWTH) <= set(lengths):
        return GROWTH
    ordered = sorted(set(lengths))
    return (ordered[-2], ordered[-1]) if len(ordered) > 1 else None


def info_spec(config: SuiteConfig, name: str) -> dict:
    """The spec of a model's info point (parameters and MACs,
    `bench.suite.measure.info_point`)."""
    return dict(
        kind="info",
        model=name,
        macs_seconds=config.macs_seconds,
        device=config.device,
        tiny=config.tiny,
    )


def peak_spec(config: SuiteConfig, dtype: str) -> dict:
    """The spec of a matrix-product peak point (`bench.peak`): small and
    short for ``--tiny``, which only smoke-tests."""
    return dict(
        kind="peak",
        dtype=dtype,
        device=config.device,
        size=256 if config.tiny else None,
        seconds=0.05 if config.tiny else 1.0,
    )


def measure_peaks(config: SuiteConfig, runner: "Runner") -> dict[str, float]:
    """GFLOP/s of each of `PEAK_DTYPES` and of the run's precision (or why
    not), into ``config.machine['peak_gflops']``."""
    peaks = {}
    for dtype in dict.fromkeys((*PEAK_DTYPES, config.dtype)):
        result = runner(peak_spec(config, dtype))
        if "gflops" in result:
            peaks[dtype] = result["gflops"]
    config.machine["peak_gflops"] = peaks
    return peaks


def measure_spec(config: SuiteConfig, name: str, seconds: float) -> dict:
    """The spec of one measured point (`bench.suite.measure.measure_point`).

    Example
    -------
    >>> config = SuiteConfig(models=["resepformer"], lengths=[4.0])
    >>> spec = measure_spec(config, "resepformer", 4.0)
    >>> spec["kind"], spec["seconds"], spec["dtype"], spec["runtime"]
    ('measure', 4.0, 'fp32', 'torch')
    """
    return dict(
        kind="measure",
        model=name,
        seconds=seconds,
        dtype=config.dtype,
        runtime=runtime_of(config.runtime, name),
        repeats=config.repeats,
        warmup_seconds=config.warmup_seconds,
        profile=config.profile,
        device=config.device,
        tiny=config.tiny,
    )


class Runner:
    """Runs the points of one `SuiteConfig`, in fresh processes or not."""

    def __init__(self, config: SuiteConfig):
        self.config = config

    def __call__(self, spec: dict) -> dict:
        """One point: its spec updated with the result (or the failure)."""
        config = self.config
        if config.isolate:
            return run_point(
                "bench.suite", spec, config.threads, config.timeout, False
            )
        spec = {**spec, "threads": config.threads}
        threads = torch.get_num_threads()
        try:
            return {**spec, **measure.point(spec)}
        except Exception as error:  # recorded in the row, as a child's
            return {**spec, "status": "failed", "reason": repr(error)[:200]}
        finally:
            torch.set_num_threads(threads)


def run_suite(config: SuiteConfig) -> tuple[dict[str, dict], list[dict]]:
    """Measures every model of ``config`` at every length.

    Arguments
    ---------
    config : SuiteConfig
        What to measure.

    Returns
    -------
    infos : dict
        Per model: ``params`` and ``gmacs_per_s`` (see
        `bench.suite.measure.info_point`).
    rows : list of dict
        One row per model and length: ``status`` (``ok``, ``skipped``,
        ``oom``, ``timeout`` or ``failed``), ``reason``, ``time_s``,
        ``peak_mem_gb``, ..., and the ratios of `add_ratios`.
    """
    with onnx_folder(config.runtime) as folder:
        return _run_suite(config, folder)


def _run_suite(
    config: SuiteConfig, folder: Path | None
) -> tuple[dict[str, dict], list[dict]]:
    """`run_suite`, with the ONNX files in ``folder`` (None: torch)."""
    runner = Runner(config)
    lengths = sorted(config.lengths)
    onnx = [n for n in config.models if runtime_of(config.runtime, n) == "onnx"]
    total = len(config.models) * (1 + len(lengths)) + len(onnx)
    bar = tqdm(total=total, desc="bench", unit="point", file=sys.stderr)
    infos, exports, gpu_free = {}, {}, 0.0
    if onnx:
        config.machine["onnxruntime"] = version("onnxruntime")
    bar.set_postfix_str("matrix-product peaks")
    measure_peaks(config, runner)
    for name in config.models:
        bar.set_postfix_str(f"{name}: parameters, MACs")
        info = runner(info_spec(config, name))
        if "params" not in info:
            bar.close()
            raise RuntimeError(
                f"could not build {name}: {info.get('reason')}\n"
                f"{info.get('stderr', '')}"
            )
        infos[name] = info
        if "gpu_free" in info:
            gpu_free = info["gpu_free"] / GB
        if "gpu" in info:
            config.machine["gpu"] = info["gpu"]
        bar.update()
    for name in onnx:  # each in a fresh process, before its points
        bar.set_postfix_str(f"{name}: ONNX export")
        exports[name] = runner(export_spec(name, config.tiny, folder))
        infos[name]["onnx_export_s"] = exports[name].get("export_s")
        bar.update()
    rows: list[dict] = []
    for seconds in lengths:
        for name in config.models:
            bar.set_postfix_str(f"{name}: {seconds:g} s")
            done = [r for r in rows if r["model"] == name]
            # in-process points share one high-water mark: no prediction
            free = 0.0 if not config.isolate else gpu_free
            if config.isolate and config.device == "cpu":
                free = available_memory() / GB
            reason = skip_reason(done, seconds, free)
            failed = export_failure(exports.get(name))
            if reason is not None:
                result = {"status": "skipped", "reason": reason}
            elif failed is not None:
                result = failed
            else:
                spec = measure_spec(config, name, seconds)
                if name in exports:
                    spec["onnx"] = exports[name]["path"]
                result = runner(spec)
            if config.device == "cuda" and "mem_free" in result:
                gpu_free = result["mem_free"] / GB
            rows.append(make_row(name, seconds, result, infos[name], config))
            bar.update()
    bar.close()
    add_ratios(rows)
    return infos, rows


def counted_gmacs(gmacs_per_s: dict[str, float], seconds: float) -> float:
    """GMACs/s counted at the longest length up to ``seconds`` (the
    shortest counted one below it).

    Example
    -------
    >>> counted = {"1": 2.0, "16": 1.5}
    >>> [counted_gmacs(counted, s) for s in (0.5, 4, 16, 256)]
    [2.0, 2.0, 1.5, 1.5]
    """
    lengths = sorted(gmacs_per_s, key=float)
    fitting = [n for n in lengths if float(n) <= seconds] or lengths[:1]
    return gmacs_per_s[fitting[-1]]


def make_row(
    name: str, seconds: float, result: dict, info: dict, config: SuiteConfig
) -> dict:
    """The CSV row of one point (writes its profile/stderr to out/raw):
    with the run's matrix-product peaks (``peak_gflops_PRECISION``) and
    the share of the one the point ran in (ONNX Runtime: fp32)."""
    model = MODELS[name]
    runtime = runtime_of(config.runtime, name)
    peaks = config.machine.get("peak_gflops", {})
    row = {
        "model": name,
        "label": model.label,
        "source": model.source,
        "seconds": seconds,
        "frames": frames(seconds),
        "device": config.device,
        "dtype": config.dtype,
        "runtime": runtime,
        "threads": config.threads,
        "repeats": config.repeats,
        "status": result.get("status", "failed"),
        "reason": result.get("reason", ""),
        "params_m": info["params"] / 1e6,
    }
    for length, value in info["gmacs_per_s"].items():
        row[f"gmacs_per_s_{length}s"] = value
    for precision, gflops in peaks.items():
        row[f"peak_gflops_{precision}"] = gflops
    if row["status"] == "ok":
        row.update(
            time_s=result["time_s"],
            times_s=json.dumps([round(t, 6) for t in result["times_s"]]),
            peak_mem_gb=result["peak_mem"] / GB,
            base_mem_gb=result["base_mem"] / GB,
            host_peak_rss_gb=result.get("peak_rss", 0) / GB,
        )
        peak = peaks.get("fp32" if runtime == "onnx" else config.dtype)
        if peak:
            row["peak_fraction"] = peak_fraction(
                counted_gmacs(info["gmacs_per_s"], seconds),
                seconds,
                result["time_s"],
                peak,
            )
    raw = config.out / "raw"
    for key, suffix in (("profile", "profile.txt"), ("stderr", "stderr.txt")):
        if result.get(key):
            path = raw / f"{config.name}_{name}_{seconds:g}s_{suffix}"
            write_text(path, result[key])
            row[key] = str(path.relative_to(config.out))
    return row
