"""Section 2 of the GPU report: which SDPA kernels run the lobes' attention.

Every attention call of a lobe is ``torch.nn.functional
.scaled_dot_product_attention`` (through `lobes.attention.attend`; without
flash-attn installed, as on the GPU machine). `attention_shapes` records
the shapes of those calls as the lobes make them (`ShapeRecorder`, on the
meta device: no memory, no time): a training forward of a batch of 8
crops of 4 s, and an inference ``separate`` of 64 s, of each lobe at its
default size, non-causal and causal (RESepFormer's chunks: 8 heads of 16
at width 128).

For each shape, in fp32 and bf16, `probe` runs the attention on random
tensors under ``torch.nn.attention.sdpa_kernel`` for each of FLASH_ATTENTION,
EFFICIENT_ATTENTION, CUDNN_ATTENTION and MATH, and records which succeed
(with the reason SDPA gives for a refusal), which one ``auto`` picks (the
``aten::_scaled_dot_product_*`` op in a ``torch.profiler`` trace) and, on
CUDA, the names of the kernels it launches. Where flash refuses a shape,
it tries what would make flash run (bf16; half the heads of twice the
dimension) and says which did.
"""

import warnings
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.overrides import TorchFunctionMode
from torch.profiler import ProfilerActivity, profile

from bench.gpu.runner import NO_CUDA, Point, Settings
from bench.suite.models import samples
from hparams import MODELS as REGISTRY

SECTION = "kernels"
LOBES = ("resepformer", "latent_xattn", "fsmn_flash")
BACKENDS = {
    "flash": SDPBackend.FLASH_ATTENTION,
    "efficient": SDPBackend.EFFICIENT_ATTENTION,
    "cudnn": SDPBackend.CUDNN_ATTENTION,
    "math": SDPBackend.MATH,
}
# the op auto dispatches to, by the start of its name (longest first)
OPS = (
    ("_scaled_dot_product_flash_attention_for_cpu", "flash (cpu)"),
    ("_scaled_dot_product_flash_attention", "flash"),
    ("_scaled_dot_product_efficient_attention", "efficient"),
    ("_scaled_dot_product_cudnn_attention", "cudnn"),
    ("_scaled_dot_product_attention_math", "math"),
    ("_scaled_dot_product_fused_attention_overrideable", "overrideable"),
)
DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16}
TRAIN = (8, 4.0)  # batch, seconds
INFER = 64.0
SMOKE_TRAIN, SMOKE_INFER = (2, 0.5), 1.0
# a probe's time hardly grows with the shape (at most linearly)
PROBE_EXPONENTS = (0.0, 1.0)

Shape = tuple[tuple[int, ...], tuple[int, ...], bool]  # q, k, causal


class ShapeRecorder(TorchFunctionMode):
    """Records the q and k shapes and the causal flag of every SDPA call
    made while it is active.

    Example
    -------
    >>> q = torch.empty(2, 4, 10, 16, device="meta")
    >>> with ShapeRecorder() as recorder:
    ...     _ = F.scaled_dot_product_attention(q, q, q, is_causal=True)
    >>> recorder.shapes
    [((2, 4, 10, 16), (2, 4, 10, 16), True)]
    """

    def __init__(self) -> None:
        super().__init__()
        self.shapes: list[Shape] = []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func is F.scaled_dot_product_attention:
            q, k = args[0], args[1]
            causal = bool(kwargs.get("is_causal", False))
            self.shapes.append((tuple(q.shape), tuple(k.shape), causal))
        return func(*args, **kwargs)


def attention_shapes(
    name: str, tiny: bool, train: tuple[int, float], infer: float
) -> dict[Shape, set[str]]:
    """The attention shapes of one lobe, non-causal and causal.

    Arguments
    ---------
    name : str
        The lobe's registry name.
    tiny : bool
        Its tiny size (else its default).
    train : (int, float)
        Batch and crop seconds of the training forward.
    infer : float
        Seconds of the inference ``separate``.

    Returns
    -------
    dict
        {(q shape, k shape, causal): {"train", "infer"}}.
    """
    definition = REGISTRY[name]
    batch, crop = train
    crops = torch.empty(batch, samples(crop), device="meta")
    recording = torch.empty(1, samples(infer), device="meta")
    found: dict[Shape, set[str]] = {}
    for causal in (False, True):
        overrides = {**(definition.tiny if tiny else {}), "causal": causal}
        with torch.device("meta"):
            model = definition.build(overrides)
        with ShapeRecorder() as training:
            model.train()(crops)
        with ShapeRecorder() as inference:
            model.eval().separate(recording)
        for use, recorder in (("train", training), ("infer", inference)):
            for shape in recorder.shapes:
                found.setdefault(shape, set()).add(use)
    return found


def try_backend(
    backend: SDPBackend, q: torch.Tensor, k: torch.Tensor, causal: bool
) -> str:
    """``yes``, or ``no: <why>`` (SDPA's warnings, or its error).

    Example
    -------
    >>> q = torch.randn(1, 2, 8, 16)
    >>> try_backend(SDPBackend.MATH, q, q, False)
    'yes'
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            with sdpa_kernel(backend):
                F.scaled_dot_product_attention(q, k, k, is_causal=causal)
            return "yes"
        except RuntimeError as error:
            why = [str(w.message).strip() for w in caught] or [str(error)]
    lines = [
        line.strip()
        for text in why
        for line in text.splitlines()
        if line.strip() and not line.strip().endswith("because:")
    ]
    return "no: " + " ".join(dict.fromkeys(lines))[:160]


def profiled(q: torch.Tensor, k: torch.Tensor, causal: bool, cuda: bool):
    """The torch.profiler events of one attention call (CPU ops, and the
    CUDA kernels when ``cuda``)."""
    activities = [ProfilerActivity.CPU]
    if cuda:
        activities.append(ProfilerActivity.CUDA)
    with profile(activities=activities) as prof:
        F.scaled_dot_product_attention(q, k, k, is_causal=causal)
        if cuda:
            torch.cuda.synchronize()
    return prof.events()


def auto_choice(q: torch.Tensor, k: torch.Tensor, causal: bool) -> dict:
    """What SDPA's ``auto`` runs: its backend (the aten op it dispatches
    to) and, on CUDA, the kernels it launches.

    Example
    -------
    >>> q = torch.randn(1, 2, 8, 16)
    >>> auto_choice(q, q, False)["auto"]
    'flash (cpu)'
    """
    events, kernels = None, NO_CUDA
    if q.is_cuda:
        try:
            events = profiled(q, k, causal, cuda=True)
            device = torch.autograd.DeviceType.CUDA
            launched = [
                e.name[:70]
                for e in events
                if getattr(e, "device_type", None) == device
            ]
            kernels = "; ".join(dict.fromkeys(launched)) or "?"
        except RuntimeError as error:  # no CUPTI: the ops still tell
            kernels = f"profiler without CUDA: {str(error)[:80]}"
    if events is None:
        events = profiled(q, k, causal, cuda=False)
    backend = "?"
    names = [e.name.removeprefix("aten::") for e in events]
    for op, label in OPS:
        if any(n.startswith(op) for n in names):
            backend = label
            break
    return {"auto": backend, "auto_kernels": kernels}


def probe(shape: Shape, dtype: str, device: torch.device) -> dict:
    """Which backends run one attention shape, and what auto picks.

    Arguments
    ---------
    shape : (q shape, k shape, causal)
        As `attention_shapes` records them.
    dtype : str
        ``fp32`` or ``bf16``.
    device : torch.device
        Where to run.

    Returns
    -------
    dict
        ``flash``, ``efficient``, ``cudnn``, ``math`` (``yes`` or ``no:
        why``), ``auto``, ``auto_kernels`` and ``flash_note`` (what
        makes flash run, when it refuses).
    """
    q_shape, k_shape, causal = shape

    def tensors(qs: Sequence[int], ks: Sequence[int], dt: torch.dtype):
        q = torch.randn(*qs, device=device, dtype=dt)
        return q, torch.randn(*ks, device=device, dtype=dt)

    q, k = tensors(q_shape, k_shape, DTYPES[dtype])
    result = {
        name: try_backend(backend, q, k, causal)
        for name, backend in BACKENDS.items()
    }
    result.update(auto_choice(q, k, causal))
    result["flash_note"] = ""
    if result["flash"] != "yes":
        result["flash_note"] = flash_fixes(q_shape, k_shape, causal, tensors)
    return result


def flash_fixes(q_shape, k_shape, causal, tensors) -> str:
    """What makes flash run a shape it refuses: bf16, and/or half the
    heads of twice the head dimension (same width)."""
    flash = BACKENDS["flash"]
    heads, dim = q_shape[1], q_shape[3]
    variants = [("in bf16", q_shape, k_shape)]
    if heads % 2 == 0:
        wider = [(s[0], heads // 2, s[2], 2 * dim) for s in (q_shape, k_shape)]
        variants.append(
            (f"in bf16 with {heads // 2} heads of {2 * dim}", *wider)
        )
    for text, qs, ks in variants:
        q, k = tensors(qs, ks, torch.bfloat16)
        if try_backend(flash, q, k, causal) == "yes":
            return f"flash runs it {text}"
    return "no variant tried runs flash"


def shape_text(shape: Shape) -> str:
    """``[B, H, Lq, D] x Lk`` of a shape, for a table.

    Example
    -------
    >>> shape_text(((8, 8, 150, 16), (8, 8, 150, 16), True))
    '8x8x150x16, Lk 150, causal'
    """
    q, k, causal = shape
    text = "x".join(map(str, q)) + f", Lk {k[2]}"
    return text + (", causal" if causal else "")


def contexts(smoke: bool) -> tuple[tuple[int, float], float]:
    """The training (batch, seconds) and inference seconds the shapes are
    recorded at."""
    return (SMOKE_TRAIN, SMOKE_INFER) if smoke else (TRAIN, INFER)


def points(settings: Settings) -> list[Point]:
    """One point per attention shape and dtype: smallest shapes first,
    each in bf16, then fp32."""
    train, infer = contexts(settings.smoke)
    uses: dict[Shape, dict[str, set[str]]] = {}
    for name in LOBES:
        label = REGISTRY[name].label
        shapes = attention_shapes(name, settings.smoke, train, infer)
        for shape, where in shapes.items():
            uses.setdefault(shape, {}).setdefault(label, set()).update(where)
    result = []
    for shape in sorted(uses, key=lambda s: (torch.Size(s[0]).numel(), s)):
        lobes = "; ".join(
            f"{lobe} ({', '.join(sorted(where))})"
            for lobe, where in uses[shape].items()
        )
        for dtype in ("bf16", "fp32"):
            label = dict(
                lobes=lobes,
                shape=shape_text(shape),
                head_dim=shape[0][3],
                dtype=dtype,
            )
            result.append(
                Point(
                    SECTION,
                    (dtype,),
                    float(torch.Size(shape[0]).numel()),
                    label,
                    lambda s=shape, d=dtype: probe(s, d, settings.device),
                    exponents=PROBE_EXPONENTS,
                    release=False,
                )
            )
    return result


def run(settings: Settings) -> list[dict]:
    """Runs the section; one row per attention shape and dtype."""
    return settings.run(points(settings))
