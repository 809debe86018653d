"""Section 1 of the GPU report: do the lobes compute the same on the GPU?

For each of our three lobes (random weights, seed 0), tiny and default
sizes, at several input lengths (`device_check`):

- its CUDA fp32 output against its CPU fp32 output (the whole separator,
  `lobes.model.EncoderMaskerDecoder.separate`): max abs difference and
  relative error ||cuda - cpu|| / ||cpu||, with TF32 off on both sides
  (`exact_fp32`), PASS at or below `FP32_TOLERANCE`;
- its bf16 autocast output against its fp32 output on the same device:
  SI-SNR in dB (the least over speakers), PASS at or above
  `BF16_MIN_SI_SNR`.

For the two lobes that stream (RESepFormer, FlashFormer; causal, tiny and
default sizes), the `lobes.inference.StreamingSeparator` output, fed
blocks of 0.1 s, against the offline causal `separate` on the same device
(`stream_check`), PASS at or below `FP32_TOLERANCE`.

Without a GPU (a smoke run on the CPU) the device check compares CPU with
CPU, and bf16 runs on the CPU: the same code, nothing skipped.
"""

import copy
from collections.abc import Iterator
from contextlib import contextmanager

import torch
from speechbrain.nnet.losses import cal_si_snr

from bench.gpu.runner import Point, Settings
from bench.suite.models import samples
from hparams import MODELS as REGISTRY
from lobes.inference.streaming import StreamingSeparator
from lobes.model import EncoderMaskerDecoder

SECTION = "correctness"
LOBES = ("resepformer", "latent_xattn", "fsmn_flash")
STREAMING = ("resepformer", "fsmn_flash")
LENGTHS = (0.37, 2.0, 8.0)
STREAM_LENGTHS = (1.1, 3.0)
SMOKE_LENGTHS = (0.37, 1.0)
SMOKE_STREAM_LENGTHS = (0.6,)
BLOCK_SECONDS = 0.1
FP32_TOLERANCE = 1e-4  # relative error
BF16_MIN_SI_SNR = 20.0  # dB


@contextmanager
def exact_fp32() -> Iterator[None]:
    """fp32 matrix products and convolutions without TF32 on CUDA (its
    10-bit mantissa would dominate the comparison), restored after."""
    matmul, cudnn = torch.backends.cuda.matmul, torch.backends.cudnn
    saved = matmul.allow_tf32, cudnn.allow_tf32
    matmul.allow_tf32 = cudnn.allow_tf32 = False
    try:
        yield
    finally:
        matmul.allow_tf32, cudnn.allow_tf32 = saved


def build(name: str, tiny: bool, causal: bool = False) -> EncoderMaskerDecoder:
    """A lobe of the registry, random weights (seed 0), in eval mode."""
    definition = REGISTRY[name]
    overrides = dict(definition.tiny) if tiny else {}
    if causal:
        overrides["causal"] = True
    torch.manual_seed(0)
    return definition.build(overrides).eval()


def differences(output: torch.Tensor, reference: torch.Tensor) -> dict:
    """Max abs difference and relative error of output against reference.

    Example
    -------
    >>> d = differences(torch.tensor([1.0, 2.0]), torch.tensor([1.0, 1.0]))
    >>> d["max_abs_diff"], round(d["rel_err"], 4)
    (1.0, 0.7071)
    """
    output, reference = output.float().cpu(), reference.float().cpu()
    error = (output - reference).norm() / reference.norm().clamp_min(1e-12)
    return {
        "max_abs_diff": (output - reference).abs().max().item(),
        "rel_err": error.item(),
    }


def si_snr_db(estimate: torch.Tensor, reference: torch.Tensor) -> float:
    """SI-SNR (dB) of sources [B, T, S] against reference sources, the
    least over batch and speakers (SpeechBrain's ``cal_si_snr``)."""
    to_tbs = (1, 0, 2)  # cal_si_snr takes [T, B, S]
    value = -cal_si_snr(
        reference.float().permute(to_tbs), estimate.float().permute(to_tbs)
    )
    return value.min().item()


def device_check(
    name: str, tiny: bool, seconds: float, device: torch.device
) -> dict:
    """A lobe on ``device`` in fp32 against the CPU, and in bf16 against
    fp32 (see the module docstring).

    Example
    -------
    >>> result = device_check("resepformer", True, 0.2, torch.device("cpu"))
    >>> result["rel_err"], result["si_snr_bf16_db"] > 20
    (0.0, True)
    """
    model = build(name, tiny)
    mix = torch.randn(
        1, samples(seconds), generator=torch.Generator().manual_seed(1)
    )
    with exact_fp32():
        reference = model.separate(mix)
        on_device = copy.deepcopy(model).to(device)
        output = on_device.separate(mix.to(device))
    with torch.autocast(device.type, dtype=torch.bfloat16):
        half = on_device.separate(mix.to(device))
    return {
        **differences(output, reference),
        "si_snr_bf16_db": si_snr_db(half, output),
    }


def stream_check(
    name: str, tiny: bool, seconds: float, device: torch.device
) -> dict:
    """A causal lobe streamed in blocks of `BLOCK_SECONDS` against its
    offline causal separation, on ``device``.

    Example
    -------
    >>> cpu = torch.device("cpu")
    >>> stream_check("fsmn_flash", True, 0.3, cpu)["rel_err"] < 1e-5
    True
    """
    model = build(name, tiny, causal=True).to(device)
    mix = torch.randn(
        samples(seconds), generator=torch.Generator().manual_seed(1)
    )
    with exact_fp32():
        offline = model.separate(mix[None].to(device))[0]
        stream = StreamingSeparator(model.encoder, model.masknet, model.decoder)
        blocks = mix.split(samples(BLOCK_SECONDS))
        streamed = torch.cat(
            [stream.push(b) for b in blocks] + [stream.flush()]
        )
    return differences(streamed, offline)


def verdict(row: dict) -> str:
    """PASS or FAIL of an ok row (empty for a point that did not run)."""
    if row["status"] != "ok":
        return ""
    ok = row["rel_err"] <= FP32_TOLERANCE
    if row.get("si_snr_bf16_db") is not None:
        ok = ok and row["si_snr_bf16_db"] >= BF16_MIN_SI_SNR
    return "PASS" if ok else "FAIL"


def points(settings: Settings) -> list[Point]:
    """The section's points, cheapest first: tiny before default sizes,
    shorter inputs first."""
    device, smoke = settings.device, settings.smoke
    sizes = (True,) if smoke else (True, False)
    lengths = SMOKE_LENGTHS if smoke else LENGTHS
    stream_lengths = SMOKE_STREAM_LENGTHS if smoke else STREAM_LENGTHS
    against = f"{device.type} fp32 vs cpu fp32; bf16 vs fp32"
    plan = [
        (tiny, seconds, against, name, device_check)
        for tiny in sizes
        for seconds in lengths
        for name in LOBES
    ] + [
        (tiny, seconds, "stream vs offline (causal)", name, stream_check)
        for tiny in sizes
        for seconds in stream_lengths
        for name in STREAMING
    ]
    plan.sort(key=lambda p: (not p[0], p[1]))
    result = []
    for tiny, seconds, check, name, fn in plan:
        label = dict(
            check=check,
            model=REGISTRY[name].label,
            size="tiny" if tiny else "default",
            seconds=seconds,
        )
        result.append(
            Point(
                SECTION,
                (check, name, tiny),
                seconds,
                label,
                lambda f=fn, n=name, t=tiny, s=seconds: f(n, t, s, device),
                row=lambda outcome, lab=label: with_verdict(lab, outcome),
            )
        )
    return result


def with_verdict(label: dict, outcome: dict) -> dict:
    """A point's row: its label, outcome and verdict."""
    row = {**label, "reason": "", **outcome}
    row["verdict"] = verdict(row)
    return row


def run(settings: Settings) -> list[dict]:
    """Runs the section; one row per point (`points`)."""
    return settings.run(points(settings))
