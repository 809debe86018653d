"""The benchmark suite: efficiency of every lobe against upstream SpeechBrain.

In one run on one machine, for our three masknets and four upstream
SpeechBrain models (the set of the RE-SepFormer paper's Table 3 and
Fig. 3), it measures

- parameters and GMACs per second of 8 kHz audio
  (``torch.utils.flop_counter.FlopCounterMode`` through
  `lobes.attention.count_macs`, counted on the meta device on 1 s and
  16 s of audio), once per model;
- inference time at 1, 4, 16, 64 and 256 s of audio: the median of
  ``--repeats`` calls after one warm-up call, batch 1, no grad,
  ``--threads`` threads (CPU: wall clock; CUDA: CUDA events);
- peak memory at the same lengths, each point in a fresh process
  (CPU: the peak RSS, VmHWM; CUDA: ``torch.cuda.max_memory_allocated``);

and gives every time and memory as a ratio against upstream SepFormer,
SepFormer-Light and RE-SepFormer at the same length in the same run, plus
the growth t(64 s) / t(16 s) (4 for a model linear in the length).

What runs is the whole separator: SpeechBrain's dual-path ``Encoder``
(kernel 16, stride 8), the masknet, the masks applied (in place) and the
``Decoder`` once per speaker, on white noise (time does not depend on the
signal). MACs count the same computation.

Models (``--models``; default: all)::

    resepformer         ours, hparams/resepformer.yaml (paper config)
    latent              ours, hparams/latent_xattn.yaml
    flashformer         ours, hparams/fsmn_flash.yaml
    sb-sepformer        SpeechBrain Dual_Path_Model, hparams/sepformer.yaml
    sb-sepformer-light  the same with N=128, d_ffn 512 (paper's 6.4 M)
    sb-resepformer      SpeechBrain ResourceEfficientSeparator as its
                        recipes/WSJ0Mix/separation/hparams/resepformer.yaml
    sb-skim             SpeechBrain SkiM (SegLSTM/MemLSTM) as its
                        recipes/WSJ0Mix/separation/hparams/skim.yaml

Usage::

    make bench                         # the full suite (python bench/suite.py)
    make bench ARGS="--quick"          # 1 and 4 s only
    python bench/suite.py --device cuda          # GPU, bf16 autocast
    python bench/suite.py --models resepformer sb-resepformer --lengths 16 64
    python bench/suite.py --models resepformer --lengths 3600 \\
        --repeats 1 --warmup-seconds 4           # one hour in one call
    python bench/suite.py --quick --profile      # + a torch.profiler table
                                                 # per point (results/raw/)

Outputs, in ``--out`` (default bench/results/), named ``suite`` for the
full default run, ``suite_quick`` for ``--quick``, ``suite_custom`` when
``--models`` or ``--lengths`` select a subset, with ``_cuda`` added on
the GPU (``--name`` sets the name): ``NAME.csv`` (one row per model and
length), ``NAME.md`` (the tables, with the machine and the command),
``fig3_time[_SUFFIX].png`` and ``fig3_memory[_SUFFIX].png`` (time and
memory against input length, log axes, one line per model, as the
paper's Fig. 3).

A point that would not fit is skipped and recorded as such: before each
point, the model's memory growth between its last two measured lengths
(peak minus the memory held before the first call: weights, input,
libraries) is extrapolated to the new length (exponent clamped to
[1, 2]; 1 from a single point) and compared with the memory available
(CPU: MemAvailable now; CUDA: free memory reported by the last point).
A child killed by the out-of-memory killer, a failed allocation, or a
point past ``--timeout`` is recorded too, and every longer point of that
model is then skipped.

On a machine shared with other busy processes, OpenMP's spin-waiting
makes every multi-threaded op wait for descheduled threads: measure on a
quiet machine, or with OMP_WAIT_POLICY=PASSIVE (recorded in the report).
"""

import argparse
import functools
import json
import math
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn as nn
from hyperpyyaml import load_hyperpyyaml
from speechbrain.lobes.models.dual_path import Decoder, Encoder
from speechbrain.lobes.models.resepformer import (
    MemLSTM,
    ResourceEfficientSeparator,
    SBTransformerBlock_wnormandskip,
    SegLSTM,
)
from tqdm import tqdm

from lobes.attention import count_macs

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (  # noqa: E402
    GB,
    RESULTS,
    available_memory,
    current_rss,
    machine_info,
    markdown_table,
    median,
    peak_rss,
    report,
    run_point,
    set_threads,
    time_calls,
    time_calls_cuda,
    write_csv,
)

HPARAMS = Path(__file__).resolve().parents[1] / "hparams"
SAMPLE_RATE, KERNEL, STRIDE = 8000, 16, 8
LENGTHS = (1.0, 4.0, 16.0, 64.0, 256.0)
QUICK_LENGTHS = (1.0, 4.0)
MACS_SECONDS = (1.0, 16.0)
GROWTH = (16.0, 64.0)  # t(64) / t(16), when both lengths are run
MEMORY_SAFETY = 0.9  # skip a point predicted above this share of free memory
REFERENCES = ("sb-sepformer", "sb-sepformer-light", "sb-resepformer")
DTYPES = {"fp32": None, "bf16": torch.bfloat16}


class Separator(nn.Module):
    """Encoder, masknet and decoder: mixture [B, samples] -> sources.

    The masks are applied in place and the encoder output is released
    before decoding, so the peak holds the masks once (as an inference
    user would write it); every model runs through this same code.

    Arguments
    ---------
    encoder : nn.Module
        ``speechbrain.lobes.models.dual_path.Encoder``.
    masknet : nn.Module
        Maps [B, N, L] to masks [num_spks, B, N, L].
    decoder : nn.Module
        ``speechbrain.lobes.models.dual_path.Decoder``.
    """

    def __init__(
        self, encoder: nn.Module, masknet: nn.Module, decoder: nn.Module
    ):
        super().__init__()
        self.encoder = encoder
        self.masknet = masknet
        self.decoder = decoder

    def forward(self, mix: torch.Tensor) -> torch.Tensor:
        """Separates mix [B, samples] into [B, samples, num_spks]."""
        h = self.encoder(mix)
        masked = self.masknet(h).mul_(h)
        del h
        return torch.stack([self.decoder(m) for m in masked], dim=-1)


def from_hparams(name: str, overrides: dict | None = None) -> Separator:
    """The separator defined by hparams/NAME.yaml (with overrides)."""
    with open(HPARAMS / f"{name}.yaml") as f:
        hparams = load_hyperpyyaml(f, overrides or {})
    return Separator(hparams["Encoder"], hparams["MaskNet"], hparams["Decoder"])


def encoder_decoder(channels: int) -> tuple[Encoder, Decoder]:
    """SpeechBrain's Encoder and Decoder as the WSJ0Mix recipes set them."""
    encoder = Encoder(kernel_size=KERNEL, out_channels=channels)
    decoder = Decoder(
        channels, 1, kernel_size=KERNEL, stride=STRIDE, bias=False
    )
    return encoder, decoder


def sb_resepformer(
    channels: int = 128,
    layers: int = 8,
    nhead: int = 8,
    d_ffn: int = 1024,
    segment_size: int = 150,
) -> Separator:
    """Upstream RE-SepFormer as recipes/WSJ0Mix resepformer.yaml builds it
    (the keyword arguments only shrink it for smoke tests)."""

    def block() -> SBTransformerBlock_wnormandskip:
        return SBTransformerBlock_wnormandskip(
            num_layers=layers,
            d_model=channels,
            nhead=nhead,
            d_ffn=d_ffn,
            dropout=0,
            use_positional_encoding=True,
            norm_before=True,
            use_norm=True,
            use_skip=True,
        )

    masknet = ResourceEfficientSeparator(
        input_dim=channels,
        num_spk=2,
        causal=False,
        unit=256,
        segment_size=segment_size,
        layer=2,
        mem_type="av",
        seg_model=block(),
        mem_model=block(),
    )
    encoder, decoder = encoder_decoder(channels)
    return Separator(encoder, masknet, decoder)


def sb_skim(
    channels: int = 128,
    hidden: int = 256,
    blocks: int = 4,
    segment_size: int = 150,
) -> Separator:
    """Upstream SkiM as recipes/WSJ0Mix skim.yaml builds it (non-causal,
    4 blocks of bidirectional LSTMs of 256 units, segments of 150 frames,
    "hc" memory: 14.5 M parameters, the paper's Table 3)."""
    masknet = ResourceEfficientSeparator(
        input_dim=channels,
        num_spk=2,
        causal=False,
        unit=hidden,
        segment_size=segment_size,
        layer=blocks,
        mem_type="hc",
        seg_model=SegLSTM(
            input_size=channels,
            hidden_size=hidden,
            bidirectional=True,
            norm_type="gln",
        ),
        mem_model=MemLSTM(
            hidden_size=hidden,
            bidirectional=True,
            norm_type="gln",
            mem_type="hc",
        ),
    )
    encoder, decoder = encoder_decoder(channels)
    return Separator(encoder, masknet, decoder)


@dataclass(frozen=True)
class Model:
    """One benchmarked model.

    Arguments
    ---------
    label : str
        Name in tables and plots.
    source : str
        ``ours`` or ``SpeechBrain``.
    config : str
        Where its configuration comes from.
    build : callable
        ``build(tiny)`` -> `Separator`; ``tiny=True`` gives a tiny
        configuration of the same code, for smoke tests.
    """

    label: str
    source: str
    config: str
    build: Callable[[bool], Separator]


TINY_SEPFORMER = dict(
    N_encoder_out=32,
    num_blocks=1,
    intra_layers=1,
    inter_layers=1,
    nhead=2,
    d_ffn=64,
    chunk_size=50,
)
MODELS = {
    "resepformer": Model(
        "RESepFormer",
        "ours",
        "hparams/resepformer.yaml: N=128, 8+8 layers, d_ffn 1024, chunk 150",
        lambda tiny: from_hparams(
            "resepformer",
            dict(
                N_encoder_out=32,
                intra_layers=1,
                memory_layers=1,
                nhead=2,
                d_ffn=64,
                chunk_size=50,
            )
            if tiny
            else None,
        ),
    ),
    "latent": Model(
        "LatentSepFormer",
        "ours",
        "hparams/latent_xattn.yaml: N=256, R=16, chunk 150",
        lambda tiny: from_hparams(
            "latent_xattn",
            dict(
                N_encoder_out=32,
                byte_channels=8,
                chunk_size=50,
                num_repeats=2,
                num_latents=4,
                latent_dim=8,
                attention_dim=16,
                nhead=2,
                d_ffn=32,
                latent_d_ffn=16,
                num_global_latents=3,
                global_dim=16,
                global_d_ffn=32,
            )
            if tiny
            else None,
        ),
    ),
    "flashformer": Model(
        "FlashFormer",
        "ours",
        "hparams/fsmn_flash.yaml: N=128, 12 layers, windows of 256",
        lambda tiny: from_hparams(
            "fsmn_flash",
            dict(
                N_encoder_out=32,
                num_layers=2,
                nhead=2,
                d_ffn=64,
                window_size=16,
                fsmn_hidden=16,
            )
            if tiny
            else None,
        ),
    ),
    "sb-sepformer": Model(
        "SepFormer",
        "SpeechBrain",
        "hparams/sepformer.yaml: N=256, 2 x (8+8) layers, chunk 250",
        lambda tiny: from_hparams("sepformer", TINY_SEPFORMER if tiny else {}),
    ),
    "sb-sepformer-light": Model(
        "SepFormer-Light",
        "SpeechBrain",
        "hparams/sepformer.yaml with N=128, d_ffn 512",
        lambda tiny: from_hparams(
            "sepformer",
            TINY_SEPFORMER if tiny else dict(N_encoder_out=128, d_ffn=512),
        ),
    ),
    "sb-resepformer": Model(
        "RE-SepFormer",
        "SpeechBrain",
        "ResourceEfficientSeparator as its WSJ0Mix resepformer.yaml",
        lambda tiny: (
            sb_resepformer(32, 1, 2, 64, 50) if tiny else sb_resepformer()
        ),
    ),
    "sb-skim": Model(
        "SkiM",
        "SpeechBrain",
        "ResourceEfficientSeparator (SegLSTM/MemLSTM) as its skim.yaml",
        lambda tiny: sb_skim(32, 16, 2, 50) if tiny else sb_skim(),
    ),
}


def samples(seconds: float) -> int:
    """Samples of ``seconds`` of 8 kHz audio."""
    return int(round(seconds * SAMPLE_RATE))


def frames(seconds: float) -> int:
    """Encoder frames of ``seconds`` of audio (kernel 16, stride 8)."""
    return (samples(seconds) - KERNEL) // STRIDE + 1


# ----------------------------------------------------------------------------
# Child side: one point per process


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
        macs = count_macs(functools.partial(model, mix))
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


def is_out_of_memory(error: BaseException) -> bool:
    """Whether an exception is a failed allocation (CPU or CUDA)."""
    text = str(error).lower()
    return isinstance(error, MemoryError | torch.OutOfMemoryError) or (
        "out of memory" in text or "can't allocate memory" in text
    )


def measure_point(spec: dict) -> dict:
    """Time and peak memory of one model on spec['seconds'] of audio.

    Arguments
    ---------
    spec : dict
        ``model``, ``tiny``, ``seconds``, ``device``, ``dtype`` (``fp32``
        or ``bf16``: autocast), ``repeats``, ``warmup_seconds`` (length
        of the warm-up call; None: the point's length) and ``profile``.

    Returns
    -------
    dict
        ``status`` (``ok`` or ``oom``), and when ok ``time_s`` (median),
        ``times_s``, ``peak_mem`` and ``base_mem`` (bytes: peak, and held
        before the first call; CPU: RSS, CUDA: allocated), optionally
        ``profile`` (a torch.profiler table of one more call).
    """
    device = torch.device(spec["device"])
    cuda = device.type == "cuda"
    if cuda and not torch.cuda.is_available():
        raise RuntimeError("device cuda asked for, but no CUDA GPU is visible")
    dtype = DTYPES[spec["dtype"]]
    torch.manual_seed(0)
    model = MODELS[spec["model"]].build(spec["tiny"]).to(device).eval()
    mix = torch.randn(1, samples(spec["seconds"]), device=device)
    warm_seconds = spec.get("warmup_seconds") or spec["seconds"]
    warm = mix[:, : samples(min(warm_seconds, spec["seconds"]))]

    def call(x: torch.Tensor) -> torch.Tensor:
        with (
            torch.no_grad(),
            torch.autocast(device.type, dtype=dtype, enabled=dtype is not None),
        ):
            return model(x)

    timer = time_calls_cuda if cuda else time_calls
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        base, free = torch.cuda.memory_allocated(), torch.cuda.mem_get_info()[0]
    else:
        base, free = current_rss(), available_memory()
    try:
        call(warm)
        times = timer(lambda: call(mix), spec["repeats"], warmup=0)
    except (RuntimeError, MemoryError) as error:
        if not is_out_of_memory(error):
            raise
        reason = str(error).strip().splitlines()[0][:200]
        return {"status": "oom", "reason": f"out of memory: {reason}"}
    peak = torch.cuda.max_memory_allocated() if cuda else peak_rss()
    result = {
        "status": "ok",
        "time_s": median(times),
        "times_s": times,
        "peak_mem": peak,
        "base_mem": base,
        "mem_free": free,
    }
    if spec.get("profile"):
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


def point(spec: dict) -> dict:
    """Runs one point (``spec['kind']``: ``info`` or ``measure``)."""
    set_threads(spec["threads"])
    return info_point(spec) if spec["kind"] == "info" else measure_point(spec)


# ----------------------------------------------------------------------------
# Parent side: plan, run, skip, ratios


@dataclass
class SuiteConfig:
    """What one run of the suite measures and where it writes.

    Arguments
    ---------
    models : list of str
        Keys of `MODELS`.
    lengths : list of float
        Input lengths in seconds.
    device : str
        ``cpu`` or ``cuda``.
    dtype : str
        ``fp32`` or ``bf16`` (autocast).
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
        The machine (`common.machine_info`, plus the GPU once known).
    """

    models: list[str]
    lengths: list[float]
    device: str = "cpu"
    dtype: str = "fp32"
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


def predict_peak(done: Sequence[dict], seconds: float) -> float | None:
    """Extrapolated peak memory (GB) of a model at ``seconds``.

    Arguments
    ---------
    done : sequence of dict
        The model's rows so far (``seconds``, ``status``, ``peak_mem_gb``,
        ``base_mem_gb``).
    seconds : float
        The length to predict.

    Returns
    -------
    float or None
        base + growth * (seconds / last) ** p, with the growth (peak
        minus base) of the longest ok point and p fitted on the last two
        (clamped to [1, 2]; 1 with a single point, whose growth is
        mostly fixed overhead); None without an ok point.

    Example
    -------
    >>> rows = [
    ...     dict(seconds=s, status="ok", base_mem_gb=1.0, peak_mem_gb=1 + g)
    ...     for s, g in ((1, 0.1), (4, 0.4))
    ... ]
    >>> round(predict_peak(rows, 16), 6)  # linear growth: 1 + 1.6
    2.6
    """
    ok = sorted(
        (r for r in done if r["status"] == "ok" and r["seconds"] < seconds),
        key=lambda r: r["seconds"],
    )
    if not ok:
        return None

    def growth(row: dict) -> float:
        return max(row["peak_mem_gb"] - row["base_mem_gb"], 1e-3)

    last, exponent = ok[-1], 1.0
    if len(ok) > 1:
        prev = ok[-2]
        exponent = math.log(growth(last) / growth(prev)) / math.log(
            last["seconds"] / prev["seconds"]
        )
        exponent = min(max(exponent, 1.0), 2.0)
    scale = (seconds / last["seconds"]) ** exponent
    return last["base_mem_gb"] + growth(last) * scale


def skip_reason(
    done: Sequence[dict], seconds: float, available_gb: float
) -> str | None:
    """Why a model's point at ``seconds`` is not run (None: run it).

    Arguments
    ---------
    done : sequence of dict
        The model's rows so far.
    seconds : float
        The length about to be measured.
    available_gb : float
        Memory the point may use (GB; 0: unknown, no memory check).

    Returns
    -------
    str or None
        A shorter point that did not complete, or a predicted peak
        (`predict_peak`) above `MEMORY_SAFETY` of the available memory.
    """
    for row in done:
        if row["status"] != "ok" and row["seconds"] < seconds:
            return f"the {row['seconds']:g} s point ended in {row['status']}"
    predicted = predict_peak(done, seconds)
    if predicted is not None and available_gb > 0:
        if predicted > MEMORY_SAFETY * available_gb:
            return (
                f"would not fit: predicted peak {predicted:.1f} GB > "
                f"{MEMORY_SAFETY:.0%} of {available_gb:.1f} GB free"
            )
    return None


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
    run, otherwise the two longest (None with a single length)."""
    if set(GROWTH) <= set(lengths):
        return GROWTH
    ordered = sorted(set(lengths))
    return (ordered[-2], ordered[-1]) if len(ordered) > 1 else None


class Runner:
    """Runs the points of one `SuiteConfig`, in fresh processes or not."""

    def __init__(self, config: SuiteConfig):
        self.config = config

    def __call__(self, spec: dict) -> dict:
        """One point: its spec updated with the result (or the failure)."""
        config = self.config
        if config.isolate:
            return run_point(
                __file__, spec, config.threads, config.timeout, check=False
            )
        spec = {**spec, "threads": config.threads}
        threads = torch.get_num_threads()
        try:
            return {**spec, **point(spec)}
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
        Per model: ``params`` and ``gmacs_per_s`` (see `info_point`).
    rows : list of dict
        One row per model and length: ``status`` (``ok``, ``skipped``,
        ``oom``, ``timeout`` or ``failed``), ``reason``, ``time_s``,
        ``peak_mem_gb``, ..., and the ratios of `add_ratios`.
    """
    runner = Runner(config)
    shared = dict(device=config.device, tiny=config.tiny)
    lengths = sorted(config.lengths)
    total = len(config.models) * (1 + len(lengths))
    bar = tqdm(total=total, desc="bench", unit="point", file=sys.stderr)
    infos, gpu_free = {}, 0.0
    for name in config.models:
        bar.set_postfix_str(f"{name}: parameters, MACs")
        spec = dict(kind="info", model=name, macs_seconds=config.macs_seconds)
        info = runner({**spec, **shared})
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
            if reason is None:
                spec = dict(
                    kind="measure",
                    model=name,
                    seconds=seconds,
                    dtype=config.dtype,
                    repeats=config.repeats,
                    warmup_seconds=config.warmup_seconds,
                    profile=config.profile,
                )
                result = runner({**spec, **shared})
            else:
                result = {"status": "skipped", "reason": reason}
            if config.device == "cuda" and "mem_free" in result:
                gpu_free = result["mem_free"] / GB
            rows.append(make_row(name, seconds, result, infos[name], config))
            bar.update()
    bar.close()
    add_ratios(rows)
    return infos, rows


def make_row(
    name: str, seconds: float, result: dict, info: dict, config: SuiteConfig
) -> dict:
    """The CSV row of one point (writes its profile/stderr to out/raw)."""
    model = MODELS[name]
    row = {
        "model": name,
        "label": model.label,
        "source": model.source,
        "seconds": seconds,
        "frames": frames(seconds),
        "device": config.device,
        "dtype": config.dtype,
        "threads": config.threads,
        "repeats": config.repeats,
        "status": result.get("status", "failed"),
        "reason": result.get("reason", ""),
        "params_m": info["params"] / 1e6,
    }
    for length, value in info["gmacs_per_s"].items():
        row[f"gmacs_per_s_{length}s"] = value
    if row["status"] == "ok":
        row.update(
            time_s=result["time_s"],
            times_s=json.dumps([round(t, 6) for t in result["times_s"]]),
            peak_mem_gb=result["peak_mem"] / GB,
            base_mem_gb=result["base_mem"] / GB,
            host_peak_rss_gb=result.get("peak_rss", 0) / GB,
        )
    raw = config.out / "raw"
    for key, suffix in (("profile", "profile.txt"), ("stderr", "stderr.txt")):
        if result.get(key):
            raw.mkdir(parents=True, exist_ok=True)
            path = raw / f"{config.name}_{name}_{seconds:g}s_{suffix}"
            path.write_text(result[key])
            row[key] = str(path.relative_to(config.out))
    return row


# ----------------------------------------------------------------------------
# Report: CSV, Markdown, figures


def memory_kind(device: str) -> str:
    """What the memory columns hold on ``device``."""
    if device == "cuda":
        return "torch.cuda.max_memory_allocated (GB)"
    return "peak RSS of the point's process (GB)"


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
    ref = infos.get("sb-sepformer")
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
        f"{memory_kind(config.device)}, each point in a fresh process; "
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
    return "\n".join(lines)


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
        ``csv``, ``md``, ``time`` and ``memory``: the files written.
    """
    suffix = config.name.removeprefix("suite")
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
        "time": plot(rows, config, "time_s", out / f"fig3_time{suffix}.png"),
        "memory": plot(
            rows, config, "peak_mem_gb", out / f"fig3_memory{suffix}.png"
        ),
    }
    report_text = markdown_report(
        infos, rows, config, [paths["memory"], paths["time"]]
    )
    paths["md"] = out / f"{config.name}.md"
    paths["md"].write_text(report_text + "\n")
    return paths


# ----------------------------------------------------------------------------
# Command line


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The command line (see the module docstring)."""
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Models: " + ", ".join(MODELS),
    )
    parser.add_argument(
        "--quick", action="store_true", help="1 and 4 s only (suite_quick.*)"
    )
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument(
        "--dtype",
        choices=tuple(DTYPES),
        help="fp32 or bf16 autocast (default: fp32 on CPU, bf16 on CUDA)",
    )
    parser.add_argument(
        "--lengths",
        type=float,
        nargs="+",
        metavar="S",
        help="input lengths in seconds (default: 1 4 16 64 256)",
    )
    parser.add_argument(
        "--models",
        nargs="+",
        choices=tuple(MODELS),
        metavar="M",
        help="models (default: all, listed below)",
    )
    parser.add_argument(
        "--repeats", type=int, default=3, help="timed calls per point"
    )
    parser.add_argument(
        "--threads", type=int, default=2, help="torch/OpenMP threads"
    )
    parser.add_argument(
        "--warmup-seconds",
        type=float,
        metavar="S",
        help="length of the warm-up call (default: the point's)",
    )
    parser.add_argument(
        "--timeout", type=float, metavar="S", help="per point (default: none)"
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="torch.profiler table of each point into OUT/raw/",
    )
    parser.add_argument(
        "--tiny",
        action="store_true",
        help="tiny configurations of every model (smoke test)",
    )
    parser.add_argument(
        "--out", type=Path, default=RESULTS, help="results folder"
    )
    parser.add_argument(
        "--name",
        help="file stem (default: suite, suite_quick, suite_custom or "
        "suite_tiny, plus _cuda on the GPU)",
    )
    parser.add_argument("--point", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.repeats < 1 or args.threads < 1:
        parser.error("--repeats and --threads must be at least 1")
    if args.device == "cuda" and not args.point:
        if not torch.cuda.is_available():
            parser.error(
                "--device cuda needs a CUDA GPU visible to torch, and "
                "torch.cuda.is_available() is False here (torch "
                f"{torch.__version__}, CUDA build "
                f"{torch.version.cuda or 'none'}). Run on a GPU machine, "
                "or use --device cpu."
            )
    return args


def config_from_args(
    args: argparse.Namespace, command: str = ""
) -> SuiteConfig:
    """The `SuiteConfig` of parsed command-line arguments."""
    custom = args.lengths is not None or args.models is not None
    name = args.name or "suite" + (
        "_tiny"
        if args.tiny
        else "_quick"
        if args.quick
        else "_custom"
        if custom
        else ""
    )
    if args.device == "cuda" and not args.name:
        name += "_cuda"
    lengths = args.lengths or (QUICK_LENGTHS if args.quick else LENGTHS)
    dtype = args.dtype or ("bf16" if args.device == "cuda" else "fp32")
    return SuiteConfig(
        models=list(args.models or MODELS),
        lengths=sorted(set(lengths)),
        device=args.device,
        dtype=dtype,
        threads=args.threads,
        repeats=args.repeats,
        warmup_seconds=args.warmup_seconds,
        macs_seconds=(min(lengths),) if args.tiny else MACS_SECONDS,
        tiny=args.tiny,
        quick=args.quick,
        profile=args.profile,
        timeout=args.timeout,
        out=args.out,
        name=name,
        command=command,
    )


def main(argv: Sequence[str] | None = None) -> dict[str, Path] | None:
    """Runs the suite (or, with ``--point``, one point of it).

    Arguments
    ---------
    argv : sequence of str, optional
        Arguments (default: ``sys.argv[1:]``).

    Returns
    -------
    dict or None
        The files written (None for a point).
    """
    args = parse_args(argv)
    if args.point:  # child process: one measurement
        report(point(json.loads(args.point)))
        return None
    argv = sys.argv[1:] if argv is None else list(argv)
    config = config_from_args(args, " ".join(["python bench/suite.py", *argv]))
    config.machine = machine_info()
    config.machine.update(
        load=f"{os.getloadavg()[0]:.2f}",
        omp_wait_policy=os.environ.get("OMP_WAIT_POLICY", "unset"),
    )
    start = time.perf_counter()
    infos, rows = run_suite(config)
    config.machine["wall"] = f"{(time.perf_counter() - start) / 60:.1f} min"
    paths = write_outputs(infos, rows, config)
    print(paths["md"].read_text())
    for kind, path in paths.items():
        print(f"wrote {kind}: {path}", file=sys.stderr)
    return paths


if __name__ == "__main__":
    main()
