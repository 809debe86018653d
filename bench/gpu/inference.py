"""Section 4 of the GPU report: the benchmark suite's inference points.

The points of `bench.suite` (the whole separator, batch 1, no grad; CUDA
events; ``torch.cuda.max_memory_allocated`` reset per point), run in this
process (``isolate=False``) through the suite's own pieces
(`bench.suite.plan`: `Runner`, `measure_spec`, `skip_reason`, `make_row`,
`add_ratios`; `bench.suite.report.write_outputs`): the seven models at
1, 4, 16, 64 and 256 s, and our three lobes at 3600 s, in bf16 and fp32
autocast, shortest first. Points up to 256 s time 3 calls, the hour one,
each after one warm-up call on `WARMUP_SECONDS`.

A point is skipped when a shorter one of its model ran out of memory or
failed, when its predicted peak would exceed 90 % of the GPU's free
memory (`bench.suite.plan.skip_reason`), or when it would not fit the time
budget (`bench.gpu.budget`).

Writes ``suite_cuda.{csv,md}`` (bf16, as ``python -m bench.suite --device
cuda``) and ``suite_cuda_fp32.{csv,md}``, with the figures where
matplotlib is installed (``suite_cpu*`` in a smoke run on the CPU).
"""

import dataclasses
import time

import torch

from bench.gpu.runner import Point, Settings
from bench.machine import GB
from bench.suite.models import MODELS
from bench.suite.plan import (
    Runner,
    SuiteConfig,
    add_ratios,
    info_spec,
    make_row,
    measure_spec,
    skip_reason,
)
from bench.suite.report import write_outputs

SECTION = "inference"
OURS = ("resepformer", "latent_xattn", "fsmn_flash")
DTYPES = ("bf16", "fp32")
LENGTHS = (1.0, 4.0, 16.0, 64.0, 256.0)
HOUR = 3600.0
REPEATS, HOUR_REPEATS = 3, 1
WARMUP_SECONDS = 4.0
SMOKE = dict(lengths=(0.25, 0.5), hour=1.0, warmup=0.25)


def configs(settings: Settings) -> dict[str, SuiteConfig]:
    """The suite's configuration of each dtype (its name: ``suite_cuda``
    for bf16, ``suite_cuda_fp32``; ``cpu`` for ``cuda`` off the GPU)."""
    smoke = settings.smoke
    lengths = SMOKE["lengths"] if smoke else LENGTHS
    hour = SMOKE["hour"] if smoke else HOUR
    device = settings.device.type
    return {
        dtype: SuiteConfig(
            models=list(MODELS),
            lengths=[*lengths, hour],
            device=device,
            dtype=dtype,
            threads=torch.get_num_threads(),
            repeats=REPEATS,
            warmup_seconds=SMOKE["warmup"] if smoke else WARMUP_SECONDS,
            macs_seconds=(lengths[0],) if smoke else (1.0,),
            tiny=smoke,
            isolate=False,
            out=settings.out,
            name=f"suite_{device}" + ("" if dtype == "bf16" else f"_{dtype}"),
            command=settings.command,
            machine=settings.machine,
        )
        for dtype in DTYPES
    }


def model_infos(config: SuiteConfig) -> tuple[dict[str, dict], list[dict]]:
    """Parameters and MACs of every model (`info_spec`, on the meta
    device); a model that cannot be built is left out, with a row."""
    runner, infos, failures = Runner(config), {}, []
    for name in config.models:
        info = runner(info_spec(config, name))
        if "params" in info:
            infos[name] = info
        else:
            failures.append(
                dict(
                    model=name,
                    label=MODELS[name].label,
                    status=info.get("status", "failed"),
                    reason=f"could not build: {info.get('reason')}",
                )
            )
    return infos, failures


def free_memory_gb(device: torch.device) -> float:
    """GPU memory free now (GB); 0 (no memory check) on the CPU, where
    in-process points share one high-water mark."""
    return torch.cuda.mem_get_info()[0] / GB if device.type == "cuda" else 0


def points(
    settings: Settings, config: dict[str, SuiteConfig], infos: dict
) -> list[Point]:
    """Every point, shortest first, bf16 before fp32 at each length."""
    lengths = config[DTYPES[0]].lengths
    hour = max(lengths)
    result = []
    for seconds in lengths:
        for dtype in DTYPES:
            base = config[dtype]
            cfg = base
            if seconds == hour:
                cfg = dataclasses.replace(base, repeats=HOUR_REPEATS)
            names = OURS if seconds == hour else base.models
            for name in (n for n in names if n in infos):
                warm = min(1.0, (cfg.warmup_seconds or seconds) / seconds)

                def run(n=name, s=seconds, c=cfg) -> dict:
                    result = Runner(c)(measure_spec(c, n, s))
                    return {**result, "unit_s": result.get("time_s")}

                def row(outcome, n=name, s=seconds, c=cfg) -> dict:
                    return make_row(n, s, outcome, infos[n], c)

                result.append(
                    Point(
                        SECTION,
                        (name, dtype),
                        seconds,
                        dict(model=name, dtype=dtype, seconds=seconds),
                        run,
                        work=cfg.repeats + warm,
                        row=row,
                    )
                )
    return result


def run(settings: Settings) -> list[dict]:
    """Runs the section and writes the suite's files of each dtype.

    Returns
    -------
    list of dict
        The suite's rows (`bench.suite.plan.make_row`), both dtypes, and
        a row per model that could not be built.
    """
    start = time.monotonic()
    config = configs(settings)
    infos, failures = model_infos(config[DTYPES[0]])

    def memory_check(point: Point, rows: list[dict]) -> str | None:
        done = [
            r
            for r in rows
            if r["model"] == point.label["model"]
            and r["dtype"] == point.label["dtype"]
        ]
        return skip_reason(done, point.size, free_memory_gb(settings.device))

    rows = settings.run(points(settings, config, infos), memory_check)
    wall = f"{(time.monotonic() - start) / 60:.1f} min (both dtypes)"
    for dtype, cfg in config.items():
        cfg.machine = {**cfg.machine, "wall": wall}
        of_dtype = [r for r in rows if r["dtype"] == dtype]
        add_ratios(of_dtype)
        cfg.models = [m for m in cfg.models if m in infos]
        if cfg.models:
            write_outputs(infos, of_dtype, cfg)
    return failures + rows
