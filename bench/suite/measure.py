"""The child side of the suite: one point per process.

`point` runs one spec, as ``python -m bench.suite --point <json>`` does in
a fresh process (`bench.points`): `info_point` counts a model's parameters
and MACs, `measure_point` times it and reads its peak memory at one input
length, `peak_point` measures a matrix-product peak; the ONNX Runtime
points are `bench.suite.onnx`'s. The call measured is
`lobes.model.EncoderMaskerDecoder.separate`, in the precision of
`lobes.inference.precision` (the one ``lobes.separate --precision``
uses).
"""

import functools
from collections.abc import Callable

import torch

from bench.machine import (
    GB,
    available_memory,
    current_rss,
    peak_rss,
    set_threads,
)
from bench.peak import matmul_peak
from bench.suite.models import MODELS, samples
from bench.timing import median, time_calls, time_calls_cuda
from lobes.attention import count_macs
from lobes.errors import is_out_of_memory
from lobes.inference.defaults import PRECISIONS
from lobes.inference.precision import autocast, precision_dtype

# autocast dtype of each precision (None: fp32, no autocast), for
# bench.gpu.training
DTYPES = {
    name: None if name == "fp32" else precision_dtype(name)
    for name in PRECISIONS
}
OUT_OF_MEMORY = (
    "out of memory",
    "can't allocate memory",
    "bad_alloc",
    "failed to allocate memory",
)


def info_point(spec: dict) -> dict:
    """Parameters and GMACs per second of audio of spec['model'].

    Counted on the meta device (shapes only: instant, no memory, and
    LSTMs are counted, which CPU kernels hide from ``FlopCounterMode``).

    Arguments
    ---------
    spec : dict
        ``model``, ``tiny``, ``macs_seconds`` (lengths to count on) and
        ``device`` (on ``cuda``, the GPU is described too).

    Returns
    -------
    dict
        ``params`` and ``gmacs_per_s`` ({length: GMACs/s}), and on CUDA
        ``gpu`` and ``gpu_free`` (bytes free on the device now).
    """
    torch.manual_seed(0)
    with torch.device("meta"):
        model = MODELS[spec["model"]].build(spec["tiny"]).eval()
    gmacs = {}
    for seconds in spec["macs_seconds"]:
        mix = torch.empty(1, samples(seconds), device="meta")
        macs = count_macs(functools.partial(model.separate, mix))
        gmacs[f"{seconds:g}"] = macs / seconds / 1e9
    result = {
        "params": sum(p.numel() for p in model.parameters()),
        "gmacs_per_s": gmacs,
    }
    if spec["device"] == "cuda":
        props = torch.cuda.get_device_properties(0)
        result["gpu"] = f"{props.name}, {props.total_memory / GB:.1f} GB"
        result["gpu_free"] = torch.cuda.mem_get_info()[0]
    return result


def timed(
    call: Callable[[object], object],
    mix: object,
    warm: object,
    repeats: int,
    cuda: bool = False,
) -> dict:
    """One warm-up call on ``warm``, then ``repeats`` timed calls on
    ``mix``, with the memory they took (the measurement of a point, for
    torch and ONNX Runtime alike).

    Arguments
    ---------
    call : callable
        Separates one input (a torch tensor, or an array for ONNX Runtime).
    mix, warm : object
        The input timed, and the (shorter or equal) warm-up input.
    repeats : int
        Timed calls.
    cuda : bool
        CUDA events and ``torch.cuda`` memory statistics (otherwise: wall
        clock and this process's RSS).

    Returns
    -------
    dict
        ``status`` (``ok`` or ``oom``), and when ok ``time_s`` (median),
        ``times_s``, ``peak_mem`` and ``base_mem`` (bytes: peak, and held
        before the first call; CPU: RSS, CUDA: allocated) and ``mem_free``.

    Example
    -------
    >>> result = timed(lambda x: sum(x), range(1000), range(10), repeats=2)
    >>> result["status"], len(result["times_s"]), result["peak_mem"] > 0
    ('ok', 2, True)
    """
    timer = time_calls_cuda if cuda else time_calls
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        base, free = torch.cuda.memory_allocated(), torch.cuda.mem_get_info()[0]
    else:
        base, free = current_rss(), available_memory()
    try:
        call(warm)
        times = timer(lambda: call(mix), repeats, warmup=0)
    except Exception as error:  # ONNX Runtime's errors are no RuntimeError
        if not is_out_of_memory(error):
            raise
        reason = str(error).strip().splitlines()[0][:200]
        return {"status": "oom", "reason": f"out of memory: {reason}"}
    peak = torch.cuda.max_memory_allocated() if cuda else peak_rss()
    return {
        "status": "ok",
        "time_s": median(times),
        "times_s": times,
        "peak_mem": peak,
        "base_mem": base,
        "mem_free": free,
    }


def inputs(spec: dict, device: str = "cpu") -> tuple[torch.Tensor, ...]:
    """The point's white-noise input (seed 0) and its warm-up prefix
    (``warmup_seconds`` long, at most the point's length; None: all)."""
    torch.manual_seed(0)
    mix = torch.randn(1, samples(spec["seconds"]), device=device)
    warm_seconds = spec.get("warmup_seconds") or spec["seconds"]
    return mix, mix[:, : samples(min(warm_seconds, spec["seconds"]))]


def measure_point(spec: dict) -> dict:
    """Time and peak memory of one model on spec['seconds'] of audio, in
    torch (`bench.suite.onnx.measure_onnx_point` for ONNX Runtime).

    Arguments
    ---------
    spec : dict
        ``model``, ``tiny``, ``seconds``, ``device``, ``dtype`` (the
        precision: ``fp32``, ``bf16`` or ``fp16``, the last two under
        autocast, `lobes.inference.precision.autocast`), ``repeats``,
        ``warmup_seconds`` (length of the warm-up call; None: the
        point's length) and ``profile``.

    Returns
    -------
    dict
        What `timed` returns, optionally with ``profile`` (a
        torch.profiler table of one more call).
    """
    device = torch.device(spec["device"])
    cuda = device.type == "cuda"
    if cuda and not torch.cuda.is_available():
        raise RuntimeError("device cuda asked for, but no CUDA GPU is visible")
    torch.manual_seed(0)
    model = MODELS[spec["model"]].build(spec["tiny"]).to(device).eval()
    mix, warm = inputs(spec, device)

    def call(x: torch.Tensor) -> torch.Tensor:
        with autocast(spec["dtype"], device):
            return model.separate(x)  # no grad

    result = timed(call, mix, warm, spec["repeats"], cuda)
    if result["status"] == "ok" and spec.get("profile"):
        result["profile"] = profile_table(lambda: call(mix), cuda)
    return result


def profile_table(fn: Callable[[], object], cuda: bool) -> str:
    """torch.profiler table (top 20 ops by self time) of one call of fn."""
    from torch.profiler import ProfilerActivity, profile

    activities = [ProfilerActivity.CPU]
    if cuda:
        activities.append(ProfilerActivity.CUDA)
    with profile(activities=activities) as prof:
        fn()
        if cuda:
            torch.cuda.synchronize()
    sort = "self_device_time_total" if cuda else "self_cpu_time_total"
    return prof.key_averages().table(sort_by=sort, row_limit=20)


def peak_point(spec: dict) -> dict:
    """The matrix-product peak (`bench.peak.matmul_peak`) of
    spec['dtype'] on spec['device'] (``size`` and ``seconds``: its
    arguments, None for the defaults), as ``gflops``."""
    gflops = matmul_peak(
        spec["dtype"], spec["device"], spec["size"], spec["seconds"]
    )
    return {"gflops": gflops}


def point(spec: dict) -> dict:
    """Runs one point (``spec['kind']``: ``info``, ``measure``, ``peak``
    or ``export``; a ``measure`` point of ``runtime`` ``onnx`` runs under
    ONNX Runtime)."""
    from bench.suite import onnx

    set_threads(spec["threads"])
    if spec["kind"] == "info":
        return info_point(spec)
    if spec["kind"] == "peak":
        return peak_point(spec)
    if spec["kind"] == "export":
        return onnx.export_point(spec)
    if spec.get("runtime") == "onnx":
        return onnx.measure_onnx_point(spec)
    return measure_point(spec)
