"""Section 3 of the GPU report: the training step, in steps per second.

One training step as the recipes take it: `lobes.model.EncoderMaskerDecoder
.forward` (every speaker decoded in one call) on a batch of 4 s crops,
SpeechBrain's SI-SNR loss with permutation invariance
(``speechbrain.nnet.losses.get_si_snr_with_pitwrapper``), backward, and an
Adam step; bf16 points run the forward under autocast (the loss in fp32).
For our three lobes, upstream RE-SepFormer and upstream SepFormer (the
suite's models, `bench.suite.models`), at batch 1 and 8, in fp32 and bf16:
`WARMUP` untimed steps, then `STEPS` steps timed with CUDA events
(`bench.timing.time_calls_cuda`); the median step gives the steps per
second, and ``torch.cuda.max_memory_allocated`` over the timed steps the
peak memory (weights, Adam's moments, activations). On the CPU (a smoke
run) the steps are timed by the wall clock and the memory is not read.
"""

import torch
from speechbrain.nnet.losses import get_si_snr_with_pitwrapper

from bench.gpu.runner import NO_CUDA, Point, Settings
from bench.machine import GB
from bench.suite.measure import DTYPES
from bench.suite.models import MODELS, samples
from bench.timing import median, time_calls, time_calls_cuda

SECTION = "training"
MODELS_TRAINED = (
    "resepformer",
    "latent_xattn",
    "fsmn_flash",
    "sb-resepformer",
    "sepformer",
)
BATCHES = (1, 8)
CROP_SECONDS = 4.0
WARMUP, STEPS = 3, 10
SMOKE = dict(batches=(1, 2), crop=0.5, warmup=1, steps=2)
# a batch of 8 costs at most 8 times a batch of 1, and at least sqrt(8)
BATCH_EXPONENTS = (0.5, 1.0)


def train_steps(
    name: str,
    tiny: bool,
    batch: int,
    seconds: float,
    dtype: str,
    device: torch.device,
    warmup: int = WARMUP,
    steps: int = STEPS,
) -> dict:
    """Times training steps of one model (see the module docstring).

    Arguments
    ---------
    name : str
        A key of `bench.suite.models.MODELS`.
    tiny : bool
        Its tiny size.
    batch : int
        Crops per step.
    seconds : float
        Crop length.
    dtype : str
        ``fp32`` or ``bf16`` (autocast).
    device : torch.device
        Where to train.
    warmup, steps : int
        Untimed, then timed steps.

    Returns
    -------
    dict
        ``step_s`` (median), ``steps_per_s``, ``peak_mem_gb`` (CUDA
        only), ``loss`` (the last step's) and ``unit_s`` (for the budget).

    Example
    -------
    >>> cpu = torch.device("cpu")
    >>> result = train_steps("resepformer", True, 2, 0.25, "bf16", cpu, 1, 2)
    >>> result["steps_per_s"] > 0, result["peak_mem_gb"]
    (True, 'skipped: no CUDA')
    """
    cuda = device.type == "cuda"
    torch.manual_seed(0)
    model = MODELS[name].build(tiny).to(device).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    mix = torch.randn(batch, samples(seconds), device=device)
    targets = torch.randn(batch, samples(seconds), 2, device=device)
    half = DTYPES[dtype]
    losses = []

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast(device.type, dtype=half, enabled=half is not None):
            estimates = model(mix)
        loss = get_si_snr_with_pitwrapper(targets, estimates.float()).mean()
        loss.backward()
        optimizer.step()
        losses.append(loss.detach())

    for _ in range(warmup):
        step()
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    timer = time_calls_cuda if cuda else time_calls
    step_s = median(timer(step, steps, warmup=0))
    return {
        "step_s": step_s,
        "steps_per_s": 1 / step_s,
        "peak_mem_gb": torch.cuda.max_memory_allocated() / GB
        if cuda
        else NO_CUDA,
        "loss": losses[-1].item(),
        "unit_s": step_s,
    }


def points(settings: Settings) -> list[Point]:
    """The section's points, cheapest first: batch 1 before 8, bf16
    before fp32."""
    smoke = settings.smoke
    batches = SMOKE["batches"] if smoke else BATCHES
    crop = SMOKE["crop"] if smoke else CROP_SECONDS
    warmup = SMOKE["warmup"] if smoke else WARMUP
    steps = SMOKE["steps"] if smoke else STEPS
    result = []
    for batch in batches:
        for dtype in ("bf16", "fp32"):
            for name in MODELS_TRAINED:
                label = dict(
                    model=name,
                    label=MODELS[name].label,
                    source=MODELS[name].source,
                    batch=batch,
                    crop_s=crop,
                    dtype=dtype,
                )
                result.append(
                    Point(
                        SECTION,
                        (name, dtype),
                        batch,
                        label,
                        lambda n=name, b=batch, d=dtype: train_steps(
                            n, smoke, b, crop, d, settings.device, warmup, steps
                        ),
                        work=warmup + steps,
                        exponents=BATCH_EXPONENTS,
                    )
                )
    return result


def run(settings: Settings) -> list[dict]:
    """Runs the section; one row per model, batch and dtype."""
    return settings.run(points(settings))
